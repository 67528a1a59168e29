// A membership change as an operator makes it: remove a member
// (`DELETE /v1/cluster/members/:id` through another member, retried while the
// cluster answers 409 "another change is pending / no healthy quorum" or 503
// "no leader"), leave the removed process running a while (clients still
// reach it: it must not answer as if it were a member), then stop it, wipe its
// data dir and start it again with --join through a live member, and wait
// until it is a voter again, so the next change starts from the full
// configuration. One change at a time; the server refuses one that would leave
// fewer healthy voters than a quorum.
import type { KeeperCluster } from '../cluster/keeper-cluster.js';
import type { Rng } from '../cluster/rng.js';

export interface MemberChange {
  readonly node: string;
  /** With `leader`, the node that is leader when the change starts takes the place of `node`. */
  readonly leader: boolean;
  /** How long the removed member keeps running before it is stopped and wiped. */
  readonly lingerMs: number;
}

/** How long the removal is retried (409/503/no answer) before the change is given up. */
const REMOVE_WAIT_MS = 15_000;
/** How long the rejoined node may take to become a voter again. */
const PROMOTE_WAIT_MS = 30_000;
/** Starts of the rejoining node (each wipes the data dir again) before the change fails. */
const REJOIN_TRIES_MAX = 3;
const CALL_TIMEOUT_MS = 3000;
const RETRY_MS = 300;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function makeMemberChange(rng: Rng, nodes: readonly string[]): MemberChange {
  return { node: rng.pick(nodes), leader: rng.next() < 0.4, lingerMs: rng.int(1500) };
}

export function formatMemberChange(c: MemberChange): string {
  return `remove ${c.leader ? 'the leader' : c.node}, wipe it and rejoin it after ${c.lingerMs}ms`;
}

export type MemberChangeOutcome =
  | { readonly kind: 'done'; readonly node: string; readonly detail: string }
  /** The cluster refused the removal for the whole wait: nothing changed. */
  | { readonly kind: 'refused'; readonly node: string; readonly detail: string }
  /** Removed, but the wiped node did not come back as a voter: the run must report it. */
  | { readonly kind: 'failed'; readonly node: string; readonly detail: string };

export async function runMemberChange(c: MemberChange, cluster: KeeperCluster, adminToken: string, rng: Rng, log: (line: string) => void): Promise<MemberChangeOutcome> {
  const id = c.leader ? ((await cluster.leader(500)).leader ?? c.node) : c.node;
  const others = (): string[] => cluster.ids.filter((x) => x !== id && cluster.node(x).running && !cluster.node(x).paused);
  const call = async (via: string, method: string, path: string): Promise<{ status: number; body: unknown } | undefined> => {
    try {
      const res = await fetch(`${cluster.node(via).apiUrl}${path}`, { method, headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
      return { status: res.status, body: await res.json().catch(() => undefined) };
    } catch {
      return undefined;
    }
  };

  // 1. Remove it, through another member.
  const deadline = Date.now() + REMOVE_WAIT_MS;
  const answers: string[] = [];
  let removed = false;
  while (!removed && Date.now() < deadline) {
    const candidates = others();
    if (candidates.length === 0) break;
    const via = rng.pick(candidates);
    const r = await call(via, 'DELETE', `/v1/cluster/members/${encodeURIComponent(id)}`);
    answers.push(`${via}:${r?.status ?? 'no answer'}`);
    // 404: an earlier attempt whose answer was lost already removed it.
    if (r !== undefined && (r.status === 200 || (r.status === 404 && answers.length > 1))) removed = true;
    else if (r !== undefined && r.status !== 409 && r.status !== 503) return { kind: 'failed', node: id, detail: `DELETE through ${via} answered ${r.status} ${JSON.stringify(r.body)}` };
    else await sleep(RETRY_MS);
  }
  const tries = answers.length > 6 ? `${answers.slice(0, 3).join(' ')} … ${answers.slice(-3).join(' ')} (${answers.length} calls)` : answers.join(' ');
  if (!removed) return { kind: 'refused', node: id, detail: `removal not accepted within ${REMOVE_WAIT_MS}ms: ${tries}` };
  log(`  ${id} removed (${tries}); it keeps running for ${c.lingerMs}ms`);
  await sleep(c.lingerMs);

  // 2. Wipe and rejoin through a live member.
  let lastErr = '';
  for (let i = 0; i < REJOIN_TRIES_MAX; i++) {
    const via = others()[0];
    if (via === undefined) return { kind: 'failed', node: id, detail: 'no live member to join through' };
    try {
      await cluster.rejoin(id, via);
      lastErr = '';
      break;
    } catch (err) {
      lastErr = err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err);
      await cluster.node(id).kill9();
    }
  }
  if (lastErr !== '') return { kind: 'failed', node: id, detail: `rejoin failed ${REJOIN_TRIES_MAX} times: ${lastErr}` };

  // 3. Wait until the configuration has it as a voter again.
  const promoteDeadline = Date.now() + PROMOTE_WAIT_MS;
  while (Date.now() < promoteDeadline) {
    const r = await call(id, 'GET', '/v1/cluster');
    const members = (r?.body as { members?: { id?: unknown; role?: unknown }[] } | undefined)?.members;
    if (members?.some((m) => m.id === id && m.role === 'voter') === true) return { kind: 'done', node: id, detail: `rejoined as a voter` };
    await sleep(RETRY_MS);
  }
  return { kind: 'failed', node: id, detail: `rejoined but not a voter within ${PROMOTE_WAIT_MS}ms` };
}
