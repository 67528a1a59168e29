// The baseline: the generator plays the node and calls the webhook itself,
// with as many concurrent calls as the longwire phase has outstanding ups. Each
// call is what the node's coordinator sends: the same JSON body, signed the
// same way, POSTed the way the node does it (undici request() over one
// keep-alive Agent) with the same timeout, and its answer parsed.
import { performance } from 'node:perf_hooks';
import { API_KEY, APP, WEBHOOK_TIMEOUT_MS } from './constants.js';
import type { Meter } from './meter.js';
import { isUpData, upData, type WebhookBody } from './payload.js';
import type { PhaseSpec } from './phase.js';
import { sign } from './signature.js';
import { Agent, request } from 'undici';

const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });

export interface LoadOutcome {
  readonly sent: number;
  readonly unanswered: number;
  readonly otherFrames: Readonly<Record<string, number>>;
}

/** One signed call; undefined when the answer is 2xx and echoes `n`, else an error code. */
async function call(url: string, body: string, n: number): Promise<string | undefined> {
  const ts = String(Date.now());
  try {
    const res = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', 'x-longwire-timestamp': ts, 'x-longwire-signature': sign(API_KEY, ts, body) },
      body,
      headersTimeout: WEBHOOK_TIMEOUT_MS,
      bodyTimeout: WEBHOOK_TIMEOUT_MS,
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300) return `status-${res.statusCode}`;
    const parsed = JSON.parse(text) as unknown;
    const data = typeof parsed === 'object' && parsed !== null && 'data' in parsed ? parsed.data : undefined;
    return isUpData(data) && data.n === n ? undefined : 'bad-echo';
  } catch (err) {
    return err instanceof Error && /Timeout/.test(err.name) ? 'timeout' : 'unreachable';
  }
}

export async function runDirect(spec: PhaseSpec, meter: Meter): Promise<LoadOutcome> {
  const start = performance.now();
  const stopAt = start + spec.warmupMs + spec.measureMs;
  meter.setWindow(start + spec.warmupMs, stopAt);
  let sent = 0;
  let seq = 0;

  const worker = async (w: number): Promise<void> => {
    const client = spec.firstClient + Math.floor(w / spec.window);
    const session = `direct-${client}`;
    // Bounded by time: each call ends within WEBHOOK_TIMEOUT_MS.
    while (performance.now() < stopAt) {
      const n = seq++;
      const sentAt = performance.now();
      const body: WebhookBody = { app: APP, user: `u${client}`, device: `d${client}`, session, id: `${client}-${n}`, data: upData(sentAt, n) };
      sent++;
      const error = await call(spec.webhookUrl, JSON.stringify(body), n);
      meter.done(sentAt, performance.now(), error);
    }
  };

  const workers: Promise<void>[] = [];
  for (let w = 0; w < spec.clients * spec.window; w++) workers.push(worker(w));
  await Promise.all(workers);
  return { sent, unanswered: 0, otherFrames: {} };
}
