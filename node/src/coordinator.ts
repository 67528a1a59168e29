// Upstream: forwards `up` frames to the app's webhook as signed HTTP POSTs and
// routes the answer back as a `reply`. Each app has its own bounded queue and
// concurrency, so a slow or failing webhook of one app never delays another
// app or the gateway. Timeouts and 5xx are retried with backoff; the webhook
// sees the frame's `id` on every attempt, so it can deduplicate.
import type { AppRegistry } from './apps.js';
import type { Binding } from './gateway/binding.js';
import type { Client } from './gateway/client.js';
import type { Json } from './saver/saver.js';
import type { Metrics } from './metrics.js';
import { backoffMs, postSigned } from './webhook-signer.js';

export const WEBHOOK_TIMEOUT_MS = 5000;
/** Calls in flight per app; more wait in the queue. */
export const WEBHOOK_CONCURRENCY_MAX = 32;
/** Calls waiting per app; past it the client gets reply ok:false error 'busy' at once. */
export const WEBHOOK_QUEUE_MAX = 1000;
/** Attempts per up frame (timeouts and 5xx are retried; 4xx and garbage are not). */
export const WEBHOOK_ATTEMPTS_MAX = 3;
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 2000;

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
    private readonly now: () => number,
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
    const end = this.metrics.webhookDuration.startTimer();
    let error = 'webhook-unreachable';
    for (let attempt = 0; attempt < WEBHOOK_ATTEMPTS_MAX; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoffMs(attempt, RETRY_BASE_MS, RETRY_MAX_MS)));
      // Config is re-read each attempt: a webhook URL changed live applies to retries too.
      const config = this.apps.get(job.app);
      if (config?.webhook === undefined) {
        error = 'no-webhook';
        break;
      }
      if (job.client.state === 'closed') {
        error = 'closed';
        break;
      }
      const r = await postSigned(config.webhook, config.apiKey, job.body, WEBHOOK_TIMEOUT_MS, this.now());
      if (r.kind === 'ok') {
        const data = parseAnswer(r.text);
        if (data === undefined) {
          error = 'bad-response';
          break;
        }
        end();
        this.metrics.webhookCalls.labels('ok').inc();
        job.client.send({ t: 'reply', id: job.id, ok: true, data });
        return;
      }
      if (r.kind === 'status') {
        error = `webhook-status-${r.status}`;
        if (r.status < 500) break;
      } else if (r.kind === 'too-large') {
        error = 'bad-response';
        break;
      } else {
        error = r.kind === 'timeout' ? 'webhook-timeout' : 'webhook-unreachable';
      }
    }
    end();
    this.metrics.webhookCalls.labels(error.startsWith('webhook-status-') ? 'status' : error).inc();
    job.client.send({ t: 'reply', id: job.id, ok: false, error });
  }
}

/** A 2xx answer is empty or JSON `{"data"?}`; anything else is a bad response. */
function parseAnswer(text: string): Json | undefined {
  if (text.trim().length === 0) return null;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    return 'data' in parsed ? ((parsed as { data: Json }).data ?? null) : null;
  } catch {
    return undefined;
  }
}
