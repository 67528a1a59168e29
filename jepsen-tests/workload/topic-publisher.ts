// Publishes unique values to random topics through the API (any node: it
// forwards to the topic's owner) and records each call's interval and
// outcome. A publish carries no idempotency key, so one without an answer is
// not repeated: its outcome is unknown (it may have been stored).
import type { PublishOp } from '../checker/topics.js';
import type { Rng } from '../cluster/rng.js';

const PUBLISH_TIMEOUT_MS = 2000;

export async function publishLoop(opts: {
  readonly apiUrl: () => string;
  readonly app: string;
  readonly apiKey: string;
  readonly topics: readonly string[];
  readonly rng: Rng;
  readonly worker: number;
  readonly until: () => boolean;
  readonly opsMax: number;
  /** Between publishes: topics are not the load under test. */
  readonly pauseMs: number;
  readonly out: PublishOp[];
}): Promise<void> {
  for (let i = 0; i < opts.opsMax && !opts.until(); i++) {
    const topic = opts.rng.pick(opts.topics);
    const value = `p${opts.worker}-${i}`;
    const call = Date.now();
    try {
      const res = await fetch(`${opts.apiUrl()}/v1/apps/${opts.app}/topics/${topic}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ data: { v: value } }),
        signal: AbortSignal.timeout(PUBLISH_TIMEOUT_MS),
      });
      const body = (await res.json()) as { offset?: unknown };
      const at = Date.now();
      if (res.status === 200 && typeof body.offset === 'number') opts.out.push({ topic, value, call, return: at, outcome: { kind: 'ok', offset: body.offset } });
      // A 5xx may have stored it before failing (a forwarded publish whose answer was lost).
      else if (res.status >= 500) opts.out.push({ topic, value, call, return: Infinity, outcome: { kind: 'unknown' } });
      else opts.out.push({ topic, value, call, return: at, outcome: { kind: 'fail', status: res.status } });
    } catch {
      opts.out.push({ topic, value, call, return: Infinity, outcome: { kind: 'unknown' } });
    }
    await new Promise((r) => setTimeout(r, opts.pauseMs));
  }
}
