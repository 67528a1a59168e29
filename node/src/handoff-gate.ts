// The new owner's side of a handoff: before this node reads or writes the
// inbox of a user whose previous owner is being drained, or that it owns
// since it joined, the inbox must be here. Most arrive in the previous
// owner's batches (drain.ts, join-release.ts); a user needed sooner (a push,
// a bind, a cursor write) is pulled from the previous owner at once, one pull
// per user at a time (for a join the previous owner seals that user first). Until the inbox is here nothing is
// sequenced for the user, so a seq is never given out twice: the caller gets
// a retryable 503 when the pull does not finish within PULL_WAIT_MS (the
// draining node down or slow). A user this node does not own (a caller with
// an older view of the ring) is refused with a retryable 503 as well.
import type { Member } from '../../keeper/src/keeper.js';
import { ApiError } from './center/errors.js';
import type { Metrics } from './metrics.js';
import { ownerKey, type Ownership, type Placement } from './ownership.js';
import { parseIdempotencyHandoff, parseUserHandoff } from './peer/peer-handoff-codec.js';
import type { Saver, SaverUserMovedError } from './saver/saver.js';

/** How long a caller waits for a user's inbox to arrive before it is answered 503. */
export const PULL_WAIT_MS = 5000;
/** Pulls in flight at once; past it callers get 503 (the batches bring the rest). */
export const PULLS_MAX = 1024;

const RETRY = { 'retry-after': '1' };

/** What the gate asks of the ring. */
export type GateOwnership = Pick<Ownership, 'placement' | 'refresh' | 'joinRecords'>;
/** Where pulls go: the peer links (Peers). */
export interface PullPeers {
  of(member: Member): { call(method: string, body: unknown): Promise<unknown> };
}

export class HandoffGate {
  private readonly pulls = new Map<string, Promise<void>>();

  constructor(
    private readonly nodeId: string,
    private readonly ownership: GateOwnership,
    private readonly saver: Saver,
    private readonly peers: PullPeers,
    private readonly metrics: Metrics,
  ) {}

  /** Resolves once every user is owned here with its inbox here; else throws a retryable ApiError. */
  async admit(app: string, users: readonly string[]): Promise<void> {
    let waits: Promise<void>[] | undefined;
    for (const user of users) {
      const p = this.ownership.placement(app, user);
      if (p.kind === 'here') {
        // The move may have ended (its record deleted) while a pull for this
        // user is still on its way: its import replaces the inbox, so nothing
        // may be stored before it lands (it would be overwritten, its seq given again).
        const pulling = this.pulls.get(ownerKey(app, user));
        if (pulling !== undefined) (waits ??= []).push(pulling.catch(() => undefined));
        continue;
      }
      if (p.kind === 'elsewhere') {
        throw new ApiError('notReady', `node ${this.nodeId} does not own user ${user} of ${app} (its owner is ${p.owner.id}); retry`, { headers: RETRY, extra: { owner: p.owner.id } });
      }
      (waits ??= []).push(this.arrive(app, user, p));
    }
    if (waits !== undefined) await Promise.all(waits);
  }

  /**
   * Brings here the record of an earlier push with idempotency key `key`
   * from the previous owner of any of `users` still moving here: the batches
   * bring every record in the end, but a repeat arriving before them would
   * otherwise be stored again. True if a record came (then ask the saver).
   */
  async recall(app: string, users: readonly string[], key: string): Promise<boolean> {
    const from = new Map<string, { member: Member; users: Set<string> }>();
    for (const user of users) {
      const p = this.ownership.placement(app, user);
      if (p.kind !== 'incoming') continue;
      const f = from.get(p.from.id);
      if (f === undefined) from.set(p.from.id, { member: p.from, users: new Set([user]) });
      else f.users.add(user);
    }
    if (from.size === 0) return false;
    let answers: { users: Set<string>; answer: unknown }[];
    try {
      answers = await Promise.all([...from.values()].map(async (f) => ({ users: f.users, answer: await this.peers.of(f.member).call('handoff', { op: 'idempotency-get', app, key }) })));
    } catch (err) {
      throw new ApiError('notReady', `asking the previous owner for idempotency key ${key} failed: ${err instanceof Error ? err.message : String(err)}; retry`, { headers: RETRY, cause: err });
    }
    // A previous owner's record under this key answers for the users it stored
    // then: one that names none of the users moving from it is another part of
    // a multicast (its own group, stored at the same time), not this push's.
    const records = answers
      .filter((a) => a.answer !== null)
      .map((a) => ({ users: a.users, record: parseIdempotencyHandoff(a.answer) }))
      .filter((a) => answersFor(a.record.answer, a.users))
      .map((a) => a.record);
    if (records.length === 0) return false;
    await this.saver.importIdempotency(records);
    return true;
  }

  private async arrive(app: string, user: string, p: Extract<Placement, { kind: 'incoming' }>): Promise<void> {
    const key = ownerKey(app, user);
    // Registered before the first await, so an admit that finds the move over meanwhile waits for it (above).
    let pull = this.pulls.get(key);
    if (pull === undefined) {
      if (this.pulls.size >= PULLS_MAX) throw new ApiError('notReady', `too many inboxes being pulled from ${p.from.id}; retry`, { headers: RETRY });
      pull = this.bring(app, user, p).finally(() => this.pulls.delete(key));
      this.pulls.set(key, pull);
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_res, rej) => {
      const why = p.move === 'drain' ? 'which is being drained' : `its owner before ${this.nodeId} joined`;
      timer = setTimeout(() => rej(new ApiError('notReady', `the inbox of ${user} is still on ${p.from.id}, ${why}; retry`, { headers: RETRY })), PULL_WAIT_MS);
    });
    try {
      await Promise.race([pull, late]);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError('notReady', `pulling the inbox of ${user} from ${p.from.id} failed: ${err instanceof Error ? err.message : String(err)}; retry`, { headers: RETRY, cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** The user's inbox here under the move's mark: already imported, or pulled now. */
  private async bring(app: string, user: string, p: Extract<Placement, { kind: 'incoming' }>): Promise<void> {
    if ((await this.saver.handoffMark(app, user)) === p.mark) return;
    const answer = await this.peers.of(p.from).call('handoff', { op: 'export', move: p.move, app, user, mark: p.mark });
    const n = await this.saver.importUsers(p.mark, [parseUserHandoff(answer)]);
    this.metrics.handoffUsersIn[p.move].inc(n.users);
    this.metrics.handoffMessagesIn[p.move].inc(n.messages);
    this.metrics.handoffPulls.labels(p.move).inc();
  }

  /**
   * After a store was refused for a user sealed here by a join: if that join
   * ended without the user (its joiner was removed by force) and this node
   * owns the user again, the seal is lifted so the caller's retry goes
   * through. Checked against a linearizable read of the join records.
   */
  async settle(err: SaverUserMovedError): Promise<void> {
    await this.ownership.refresh();
    if (this.ownership.joinRecords().some((j) => j.mark === err.mark)) return;
    if (this.ownership.placement(err.app, err.user).kind !== 'here') return;
    if ((await this.saver.movedOut(err.app, err.user)) !== err.mark) return;
    await this.saver.liftSeal(err.app, err.user, err.mark);
    this.metrics.handoffSealsLifted.inc();
  }
}

/** Whether a stored push answer ({id, results: [{user, …}]}) has a result for one of `users`. */
function answersFor(answer: unknown, users: ReadonlySet<string>): boolean {
  const results = typeof answer === 'object' && answer !== null ? (answer as { results?: unknown }).results : undefined;
  return Array.isArray(results) && results.some((r: unknown) => typeof r === 'object' && r !== null && users.has(String((r as { user?: unknown }).user)));
}
