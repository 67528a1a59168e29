// Pushes unique values to random users through the API and records each
// call's interval and outcome (unknown when no answer came).
import type { PushOp } from '../checker/history.js';
import type { Rng } from '../cluster/rng.js';

const PUSH_TIMEOUT_MS = 2000;

export async function pushLoop(opts: {
  readonly apiUrl: () => string;
  readonly app: string;
  readonly apiKey: string;
  readonly users: readonly string[];
  readonly rng: Rng;
  readonly worker: number;
  readonly until: () => boolean;
  readonly opsMax: number;
  readonly out: PushOp[];
}): Promise<void> {
  for (let i = 0; i < opts.opsMax && !opts.until(); i++) {
    const user = opts.rng.pick(opts.users);
    const value = `w${opts.worker}-${i}`;
    const call = Date.now();
    try {
      const res = await fetch(`${opts.apiUrl()}/v1/apps/${opts.app}/push`, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ users: [user], data: { v: value } }),
        signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
      });
      const body = (await res.json()) as { results?: { seq: number }[] };
      const seq = body.results?.[0]?.seq;
      // A 5xx may have stored the message before failing: its outcome is unknown, not failed.
      const outcome = res.status === 200 && seq !== undefined ? { kind: 'ok' as const, seq } : res.status >= 500 ? { kind: 'unknown' as const } : { kind: 'fail' as const, status: res.status };
      opts.out.push({ user, value, call, return: outcome.kind === 'unknown' ? Infinity : Date.now(), outcome });
    } catch {
      opts.out.push({ user, value, call, return: Infinity, outcome: { kind: 'unknown' } });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
