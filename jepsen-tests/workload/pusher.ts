// Pushes unique values to random users through the API and records each
// call's interval and outcome (unknown when no answer came). A quarter of the
// pushes go to two or three users at once, which a cluster routes to each
// user's owner and answers with one merged result: each user's part is
// recorded as that user's push.
import type { PushOp } from '../checker/history.js';
import type { Rng } from '../cluster/rng.js';

const PUSH_TIMEOUT_MS = 2000;
const MULTICAST_SHARE = 0.25;

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
    const users = opts.rng.next() < MULTICAST_SHARE ? distinct(opts.rng, opts.users, 2 + opts.rng.int(2)) : [opts.rng.pick(opts.users)];
    const value = `w${opts.worker}-${i}`;
    const call = Date.now();
    const unknown = (): void => {
      for (const user of users) opts.out.push({ user, value, call, return: Infinity, outcome: { kind: 'unknown' } });
    };
    try {
      const res = await fetch(`${opts.apiUrl()}/v1/apps/${opts.app}/push`, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ users, data: { v: value } }),
        signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
      });
      const body = (await res.json()) as { results?: { user?: string; seq?: number }[] };
      // A 5xx may have stored the message (for some of the users) before failing: its outcome is unknown, not failed.
      if (res.status >= 500) {
        unknown();
        continue;
      }
      const at = Date.now();
      for (const user of users) {
        const seq = res.status === 200 ? body.results?.find((r) => r.user === user)?.seq : undefined;
        const outcome = seq !== undefined ? { kind: 'ok' as const, seq } : { kind: 'fail' as const, status: res.status };
        opts.out.push({ user, value, call, return: at, outcome });
      }
    } catch {
      unknown();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** `n` different users (or all of them, if fewer). */
function distinct(rng: Rng, users: readonly string[], n: number): string[] {
  const out: string[] = [];
  while (out.length < Math.min(n, users.length)) {
    const u = rng.pick(users);
    if (!out.includes(u)) out.push(u);
  }
  return out;
}
