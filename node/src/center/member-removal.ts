// DELETE /v1/cluster/members/:id drains a voter before Raft removes it
// (docs/PROTOCOL.md, docs/OPERATIONS.md). Two phases, both recorded where
// every node sees them:
//   1. /sys/draining/<id> is put in the keeper with a fresh mark. Every node
//      then ranks owners without the member (ownership.ts), so each of its
//      users has its new owner at once; the member seals its saver (it gives
//      out no seq any more) and hands each inbox, with its device cursors and
//      next seq, to the new owner (drain.ts). A new owner sequences nothing
//      for such a user before the inbox is there: it pulls it first, or
//      answers a retryable 503 (handoff-gate.ts). So an answered qos 1
//      message is never lost and a seq never reused, with no keeper change
//      per user. Then the member redirects its clients, paced.
//   2. Only then the member leaves the Raft group, and the key is deleted.
// Each step is idempotent: a call that timed out or whose member crashed is
// retried and goes on where it stopped (the mark is kept; an inbox already
// handed over is not handed again). `force` skips phase 1 for a member that
// is gone for good: its inboxes are lost.
import { randomUUID } from 'node:crypto';
import { KeeperError } from '../../../keeper/src/errors.js';
import type { ClusterMember, Keeper } from '../../../keeper/src/keeper.js';
import type { DrainStatus, Drainer } from '../drain.js';
import { DRAINING_PREFIX, parseDrain } from '../ownership.js';
import { PeerError } from '../peer/errors.js';
import type { Peers } from '../peer/peers.js';
import { ApiError } from './errors.js';

/** Default and largest wait for a drain, in seconds (the call can be repeated: the drain goes on). */
export const DRAIN_TIMEOUT_S_DEFAULT = 120;
export const DRAIN_TIMEOUT_S_MAX = 600;
/** How often the draining member is asked for its progress. */
export const DRAIN_POLL_MS = 250;

export interface RemovalDeps {
  readonly nodeId: string;
  readonly keeper: Keeper;
  readonly peers: Peers;
  readonly drainer: Drainer;
}

/** What the answer reports of a drain. */
export interface Handoff {
  readonly users: number;
  readonly messages: number;
}

/**
 * How long a removal waits for enough voters to show healthy before it is
 * refused: a member restarted a moment ago (or a leader just elected, which
 * has not heard from everyone yet) shows unhealthy for a few heartbeats.
 */
export const QUORUM_WAIT_MS = 10_000;
const QUORUM_POLL_MS = 50;

/** Why removing `id` would break the cluster now: for good (the last voter), or until more voters show healthy. */
function quorumRefusal(members: readonly ClusterMember[], id: string): { readonly lasting: boolean; readonly message: string } | undefined {
  if (!members.some((m) => m.id === id && m.role === 'voter')) return undefined;
  const remaining = members.filter((m) => m.role === 'voter' && m.id !== id);
  if (remaining.length === 0) return { lasting: true, message: `${id} is the last voter` };
  const healthy = remaining.filter((m) => m.healthy).length;
  if (healthy >= Math.floor(remaining.length / 2) + 1) return undefined;
  return { lasting: false, message: `removing ${id} would leave ${healthy} healthy of ${remaining.length} voters: no quorum` };
}

/**
 * Refuses (409) a removal that Raft would refuse anyway, before anything is
 * drained; while too few voters show healthy it waits up to `waitMs` for
 * them first.
 */
export async function awaitQuorum(keeper: Keeper, id: string, waitMs = QUORUM_WAIT_MS): Promise<void> {
  const until = Date.now() + waitMs;
  for (;;) {
    const refusal = quorumRefusal(keeper.cluster().members, id);
    if (refusal === undefined) return;
    if (refusal.lasting) throw new ApiError('conflict', refusal.message);
    if (Date.now() >= until) throw new ApiError('conflict', `${refusal.message} (waited ${waitMs / 1000} s for the voters to show healthy)`);
    await new Promise((r) => setTimeout(r, QUORUM_POLL_MS));
  }
}

/** The mark of the member's drain: the one recorded, or a new one (refused while another member drains). */
async function markDrain(keeper: Keeper, id: string): Promise<string> {
  for (;;) {
    const r = await keeper.range(DRAINING_PREFIX, { prefix: true });
    for (const kv of r.kvs) {
      const d = parseDrain(kv.key.slice(DRAINING_PREFIX.length), kv.value);
      if (d === undefined) continue;
      if (d.member === id) return d.mark;
      throw new ApiError('conflict', `member ${d.member} is being drained: remove it first (or retry its removal)`);
    }
    const mark = randomUUID();
    try {
      await keeper.put(DRAINING_PREFIX + id, JSON.stringify({ mark }), { ifModRevision: 0 });
      return mark;
    } catch (err) {
      // Another caller marked it first: take its mark.
      if (!(err instanceof KeeperError && err.code === 'compare-failed')) throw err;
    }
  }
}

/**
 * Phase 1: marks the member draining and waits until it has handed over its
 * inboxes and redirected its clients. Answers undefined for a member that owns
 * nothing (a learner, or not a member: Raft's removal then answers).
 */
export async function drainMember(deps: RemovalDeps, id: string, timeoutS: number): Promise<Handoff | undefined> {
  const m = deps.keeper.cluster().members.find((x) => x.id === id);
  if (m === undefined || m.role !== 'voter') return undefined;
  await awaitQuorum(deps.keeper, id);
  const mark = await markDrain(deps.keeper, id);
  const call = async (body: { op: 'start'; mark: string } | { op: 'status' }): Promise<DrainStatus> => {
    if (id === deps.nodeId) return body.op === 'start' ? deps.drainer.start(body.mark) : deps.drainer.status();
    return (await deps.peers.of(m).call('drain', body)) as DrainStatus;
  };
  const deadline = Date.now() + timeoutS * 1000;
  let last = 'not asked yet';
  let started = false;
  for (;;) {
    try {
      const st: DrainStatus = started ? await call({ op: 'status' }) : await call({ op: 'start', mark });
      started = st.state !== 'idle';
      if (st.state !== 'idle' && st.mark !== mark) throw new ApiError('conflict', `member ${id} is draining under another mark; retry`);
      if (st.state === 'done') return { users: st.users, messages: st.messages };
      if (st.state === 'failed') {
        // Start it again on the next round: a drain resumes where it can.
        started = false;
        last = `failed: ${st.error}`;
      } else {
        last = st.state === 'running' ? `${st.phase}: ${st.users} inboxes, ${st.messages} messages handed over so far` : 'idle';
      }
    } catch (err) {
      if (!(err instanceof PeerError)) throw err;
      // Restarted (idle again) or unreachable for now: ask it to start again.
      started = false;
      last = err.message;
    }
    if (Date.now() > deadline) {
      throw new ApiError('notReady', `drain of ${id} not done within ${timeoutS} s (${last}); repeat the call to go on, or add force=true to remove it without handing its inboxes over (they are lost)`, {
        headers: { 'retry-after': '5' },
        extra: { member: id, progress: last },
      });
    }
    await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
  }
}

/** Phase 2, after Raft removed the member: nodes rank over the voters alone again. */
export async function clearDrain(keeper: Keeper, id: string): Promise<void> {
  await keeper.delete(DRAINING_PREFIX + id);
}
