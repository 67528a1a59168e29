// Leader-transfer storms: several `POST /v1/cluster/transfer-leader` calls
// (admin) in quick succession, each to a named voter or to none (the leader
// picks), each through a random running node (followers forward to the
// leader). Calls overlap: the next one goes out `gapMs` after the previous one
// started, not after it answered, so elections pile onto elections. Answers
// other than 200 (409 no healthy voter, 503 no leader, timeouts) are expected
// under the storm and only logged; the checkers judge the clients' history.
import type { Rng } from '../cluster/rng.js';

export interface TransferStorm {
  /** One entry per call: a voter id, or null for "any other voter". */
  readonly targets: readonly (string | null)[];
  /** Time between the starts of two calls. */
  readonly gapMs: number;
}

/** Calls per storm at most. */
const STORM_CALLS_MAX = 8;
/** Timeout of one transfer call: an election should not take longer. */
const TRANSFER_TIMEOUT_MS = 5000;

export function makeTransferStorm(rng: Rng, nodes: readonly string[]): TransferStorm {
  const calls = 2 + rng.int(STORM_CALLS_MAX - 1);
  const targets = Array.from({ length: calls }, () => (rng.next() < 0.3 ? null : rng.pick(nodes)));
  return { targets, gapMs: rng.int(300) };
}

export function formatTransferStorm(s: TransferStorm): string {
  return `${s.targets.length} transfer-leader calls ${s.gapMs}ms apart to [${s.targets.map((t) => t ?? 'any').join(',')}]`;
}

export interface StormNode {
  readonly id: string;
  readonly apiUrl: string;
}

/** Runs the storm; answers one short line per call (target, via, status or error) for the log. */
export async function runTransferStorm(s: TransferStorm, nodes: () => readonly StormNode[], adminToken: string, rng: Rng): Promise<string> {
  const calls: Promise<string>[] = [];
  for (const [i, to] of s.targets.entries()) {
    if (i > 0 && s.gapMs > 0) await new Promise((r) => setTimeout(r, s.gapMs));
    const up = nodes();
    if (up.length === 0) break;
    const via = rng.pick(up);
    calls.push(transfer(via, to, adminToken));
  }
  return (await Promise.all(calls)).join(' ');
}

async function transfer(via: StormNode, to: string | null, adminToken: string): Promise<string> {
  const what = `${to ?? 'any'}@${via.id}`;
  try {
    const res = await fetch(`${via.apiUrl}/v1/cluster/transfer-leader`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(to === null ? {} : { to }),
      signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS),
    });
    const body = (await res.json().catch(() => ({}))) as { leader?: unknown };
    return res.status === 200 ? `${what}:200→${String(body.leader)}` : `${what}:${res.status}`;
  } catch (err) {
    return `${what}:${err instanceof Error ? err.name : 'error'}`;
  }
}
