// Upstream: forwards `up` frames to the app's webhook as signed HTTP POSTs and
// routes the answer back as a `reply`. Per app, calls run with bounded
// concurrency behind a bounded queue; a full queue answers `busy` at once.
import { createHmac } from 'node:crypto';
import type { AppRegistry } from './apps.js';
import type { Binding } from './gateway/binding.js';
import type { Client } from './gateway/client.js';
import type { Json } from './saver/saver.js';
import type { Metrics } from './metrics.js';

export const WEBHOOK_TIMEOUT_MS = 5000;
/** Calls in flight per app; more wait in the queue. */
export const WEBHOOK_CONCURRENCY_MAX = 32;
/** Calls waiting per app; past it the client gets reply ok:false error 'busy'. */
export const WEBHOOK_QUEUE_MAX = 1000;
/** Webhook answers larger than this are refused (error 'bad-response'). */
export const WEBHOOK_RESPONSE_BYTES_MAX = 64 * 1024;

/** `sha256=<hex>` of HMAC-SHA256(apiKey, "<timestamp>.<body>"), as the contract's Webhooks section says. */
export function sign(apiKey: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', apiKey).update(`${timestamp}.${body}`).digest('hex');
}

interface Job {
  readonly client: Client;
  readonly app: string;
  readonly body: string;
  readonly id: string;
}

interface AppQueue {
  active: number;
  readonly waiting: Job[];
}

export class Coordinator {
  private readonly queues = new Map<string, AppQueue>();

  constructor(
    private readonly apps: AppRegistry,
    private readonly metrics: Metrics,
  ) {}

  upstream(client: Client, b: Binding, id: string, data: Json): void {
    const config = this.apps.get(b.app);
    if (config?.webhook === undefined) {
      client.send({ t: 'reply', id, ok: false, error: 'no-webhook' });
      return;
    }
    let q = this.queues.get(b.app);
    if (q === undefined) this.queues.set(b.app, (q = { active: 0, waiting: [] }));
    if (q.waiting.length >= WEBHOOK_QUEUE_MAX) {
      this.metrics.webhookCalls.labels('busy').inc();
      client.send({ t: 'reply', id, ok: false, error: 'busy' });
      return;
    }
    const body = JSON.stringify({ app: b.app, user: b.user, device: client.device, session: client.session, id, data });
    q.waiting.push({ client, app: b.app, body, id });
    this.drain(q);
  }

  private drain(q: AppQueue): void {
    while (q.active < WEBHOOK_CONCURRENCY_MAX && q.waiting.length > 0) {
      const job = q.waiting.shift();
      if (job === undefined) return;
      q.active++;
      void this.call(job).finally(() => {
        q.active--;
        this.drain(q);
      });
    }
  }

  private async call(job: Job): Promise<void> {
    const config = this.apps.get(job.app);
    if (config?.webhook === undefined) {
      job.client.send({ t: 'reply', id: job.id, ok: false, error: 'no-webhook' });
      return;
    }
    const ts = String(Date.now());
    const end = this.metrics.webhookDuration.startTimer();
    let outcome = 'error';
    try {
      const res = await fetch(config.webhook, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-longwire-timestamp': ts, 'x-longwire-signature': sign(config.apiKey, ts, job.body) },
        body: job.body,
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      const text = await res.text();
      if (res.status < 200 || res.status >= 300) {
        outcome = `http-${Math.floor(res.status / 100)}xx`;
        job.client.send({ t: 'reply', id: job.id, ok: false, error: `webhook-status-${res.status}` });
        return;
      }
      if (text.length > WEBHOOK_RESPONSE_BYTES_MAX) {
        outcome = 'bad-response';
        job.client.send({ t: 'reply', id: job.id, ok: false, error: 'bad-response' });
        return;
      }
      let data: Json = null;
      if (text.length > 0) {
        try {
          const parsed = JSON.parse(text) as unknown;
          data = typeof parsed === 'object' && parsed !== null && 'data' in parsed ? ((parsed as { data: Json }).data ?? null) : null;
        } catch {
          outcome = 'bad-response';
          job.client.send({ t: 'reply', id: job.id, ok: false, error: 'bad-response' });
          return;
        }
      }
      outcome = 'ok';
      job.client.send({ t: 'reply', id: job.id, ok: true, data });
    } catch (err) {
      outcome = err instanceof Error && err.name === 'TimeoutError' ? 'timeout' : 'unreachable';
      job.client.send({ t: 'reply', id: job.id, ok: false, error: outcome === 'timeout' ? 'webhook-timeout' : 'webhook-unreachable' });
    } finally {
      end();
      this.metrics.webhookCalls.labels(outcome).inc();
    }
  }
}
