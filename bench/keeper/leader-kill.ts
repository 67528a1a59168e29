// Leader-kill recovery: on a started cluster under a light write load, kill -9
// the leader's process and time how long until a write *sent after the kill*
// succeeds. Writers on the surviving members each send a put every
// SEND_EVERY_MS (at most IN_FLIGHT_MAX unanswered per writer), so a put that
// hangs on the dead leader (forwarded to it just before the kill) does not
// hold back the next one; the figure's resolution is therefore SEND_EVERY_MS.
// A writer that reached IN_FLIGHT_MAX is reported: its figure may be late.
import { nowMs, sleep } from '../lib/clock.js';
import type { KvTarget } from './system.js';

const SEND_EVERY_MS = 10;
const IN_FLIGHT_MAX = 200;
/** Writes before the kill: the writers and the members are warm and a leader is steadily replicating. */
const STEADY_MS = 1000;
/** Past this after the kill, the repetition counts as not recovered. */
const RECOVERY_TIMEOUT_MS = 15_000;
const LEADER_WAIT_MS = 15_000;

export type KillOutcome =
  | { readonly ok: true; readonly recoveryMs: number; readonly killedMember: number; readonly newLeader: number | undefined; readonly saturated: boolean }
  | { readonly ok: false; readonly error: string };

/** Clients the target needs (HTTP connections: a hung put holds one): writer for member m uses worker m (worker w talks to member w mod n). */
export const KILL_CONCURRENCY = 3 * IN_FLIGHT_MAX;

async function waitLeader(t: KvTarget): Promise<number> {
  const deadline = nowMs() + LEADER_WAIT_MS;
  for (;;) {
    const l = await t.leader();
    if (l !== undefined) return l;
    if (nowMs() > deadline) throw new Error(`${t.system}: no leader within ${LEADER_WAIT_MS} ms`);
    await sleep(50);
  }
}

/** One kill on a cluster of `members` (≥ 3); the cluster is left with a dead member (the caller closes it). */
export async function killLeaderOnce(t: KvTarget, members: number, valueBytes: number): Promise<KillOutcome> {
  const key = 'bench/leader-kill';
  await t.create(0, key, 'x'.repeat(valueBytes));
  const leader = await waitLeader(t);
  const survivors = Array.from({ length: members }, (_, m) => m).filter((m) => m !== leader);
  let killedAt = Infinity;
  let recoveredAt = Infinity;
  let stop = false;
  let firstError: string | undefined;
  let n = 0;
  let saturated = false;
  const writer = async (member: number): Promise<void> => {
    const pending = new Set<Promise<void>>();
    while (!stop) {
      if (pending.size >= IN_FLIGHT_MAX) saturated = true;
      else {
        const sentAt = nowMs();
        const p = t.put(member, key, `${member}:${n++}:`.padEnd(valueBytes, 'k')).then(
          () => {
            const at = nowMs();
            if (sentAt >= killedAt && at < recoveredAt) recoveredAt = at;
          },
          (err: unknown) => {
            if (sentAt >= killedAt) firstError ??= err instanceof Error ? err.message : String(err);
          },
        );
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      await sleep(SEND_EVERY_MS);
    }
    // Bounded: every client call has its own timeout (HTTP 10 s, ZooKeeper session 10 s).
    await Promise.all(pending);
  };
  const writers = survivors.map((m) => writer(m));
  await sleep(STEADY_MS);
  killedAt = nowMs();
  t.kill(leader);
  while (recoveredAt === Infinity && nowMs() - killedAt < RECOVERY_TIMEOUT_MS) await sleep(SEND_EVERY_MS);
  stop = true;
  await Promise.all(writers);
  if (recoveredAt === Infinity) return { ok: false, error: `no write succeeded within ${RECOVERY_TIMEOUT_MS} ms of the kill; first error: ${firstError ?? 'none'}` };
  const newLeader = await t.leader().catch(() => undefined);
  return { ok: true, recoveryMs: recoveredAt - killedAt, killedMember: leader, newLeader, saturated };
}
