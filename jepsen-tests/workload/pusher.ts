// Pushes unique values to random users through the API and records each
// call's interval and outcome (unknown when no answer came). A quarter of the
// pushes go to two or three users at once, which a cluster routes to each
// user's owner and answers with one merged result: each user's part is
// recorded as that user's push. Every push carries its value as its
// idempotency key, and one without an answer is repeated as a client would
// (through any node), so the checker can hold the cluster to "stored once".
import type { PushOp } from '../checker/history.js';
import type { Rng } from '../cluster/rng.js';

const PUSH_TIMEOUT_MS = 2000;
const MULTICAST_SHARE = 0.25;
/** Attempts of one push while none is answered. */
const ATTEMPTS_MAX = 3;
const RETRY_DELAY_MS = 200;

type Attempt = { readonly kind: 'answered'; readonly status: number; readonly results: readonly { user?: string; seq?: number }[] } | { readonly kind: 'unknown' };

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
    let a = await attempt(opts, users, value);
    let unanswered = 0;
    while (a.kind === 'unknown' && ++unanswered < ATTEMPTS_MAX) {
      await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
      a = await attempt(opts, users, value);
    }
    const at = Date.now();
    for (const user of users) {
      // An attempt without an answer may have stored the message: a refusal after it does not make the push failed.
      if (a.kind === 'unknown' || (a.status !== 200 && unanswered > 0)) {
        opts.out.push({ user, value, call, return: Infinity, outcome: { kind: 'unknown' } });
        continue;
      }
      const seq = a.status === 200 ? a.results.find((r) => r.user === user)?.seq : undefined;
      opts.out.push({ user, value, call, return: at, outcome: seq !== undefined ? { kind: 'ok', seq } : { kind: 'fail', status: a.status } });
    }
  }
}

async function attempt(opts: { readonly apiUrl: () => string; readonly app: string; readonly apiKey: string }, users: readonly string[], value: string): Promise<Attempt> {
  try {
    const res = await fetch(`${opts.apiUrl()}/v1/apps/${opts.app}/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ users, data: { v: value }, id: value }),
      signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
    });
    const body = (await res.json()) as { results?: { user?: string; seq?: number }[] };
    // A 5xx may have stored the message (for some of the users) before failing: its outcome is unknown, not failed.
    return res.status >= 500 ? { kind: 'unknown' } : { kind: 'answered', status: res.status, results: body.results ?? [] };
  } catch {
    return { kind: 'unknown' };
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
