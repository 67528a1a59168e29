// The draining node's side of a removal: it hands every inbox it holds to the
// user's new owner, then redirects its clients, and reports progress. The
// member-removal route (center/member-removal.ts) starts it and polls it, and
// removes the member from Raft only once it is done.
//
// Order: seal the saver first (durably: no seq is given out here any more,
// even after a restart), then idempotency records (so a push repeated with
// its key during the move is still answered from its record), then the
// inboxes in key order, grouped by new owner, in batches of at most
// HANDOFF_USERS_MAX users and HANDOFF_MSGS_MAX messages per call. An import
// is idempotent under the drain's mark, so a drain that failed or whose node
// crashed starts over from the first user and skips nothing it must not.
import type { Member } from '../../keeper/src/keeper.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { Ownership } from './ownership.js';
import type { Peers } from './peer/peers.js';
import type { IdempotencyHandoff, Json, Saver, UserHandoff } from './saver/saver.js';

/** Users per import call and per export read. */
export const HANDOFF_USERS_MAX = 256;
/** Messages per import call (a user with more goes alone). */
export const HANDOFF_MSGS_MAX = 4096;
/** Idempotency records per read and per call. */
export const HANDOFF_RECORDS_MAX = 1024;

export interface DrainProgress {
  readonly mark: string;
  /** Inboxes the new owners took (already handed ones are not counted again). */
  readonly users: number;
  readonly messages: number;
}

export type DrainStatus =
  | { readonly state: 'idle' }
  | (DrainProgress & { readonly state: 'running'; readonly phase: 'seal' | 'idempotency' | 'inboxes' | 'clients' })
  | (DrainProgress & { readonly state: 'done' })
  | (DrainProgress & { readonly state: 'failed'; readonly error: string });

export class Drainer {
  private current: DrainStatus = { state: 'idle' };

  constructor(
    private readonly nodeId: string,
    private readonly ownership: Ownership,
    private readonly saver: Saver,
    private readonly peers: Peers,
    /** Redirects this node's clients to other members (paced) and stops taking new ones. */
    private readonly redirectClients: () => Promise<void>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  status(): DrainStatus {
    return this.current;
  }

  /** Starts the drain under `mark`, or answers the one running or done; a failed one starts again. */
  start(mark: string): DrainStatus {
    const c = this.current;
    if ((c.state === 'running' || c.state === 'done') && c.mark === mark) return c;
    if (c.state === 'running') return c; // another mark while running: the caller sees which and fails
    this.current = { state: 'running', phase: 'seal', mark, users: 0, messages: 0 };
    void this.run(mark);
    return this.current;
  }

  /** Seals this node for `mark` (also on a new owner's first pull, which may come before start). */
  async seal(mark: string): Promise<void> {
    this.ownership.drainingSelf({ member: this.nodeId, mark });
    await this.saver.seal();
  }

  private progress(phase: 'seal' | 'idempotency' | 'inboxes' | 'clients', mark: string, users: number, messages: number): void {
    this.current = { state: 'running', phase, mark, users, messages };
  }

  private async run(mark: string): Promise<void> {
    let users = 0;
    let messages = 0;
    try {
      await this.seal(mark);
      this.progress('idempotency', mark, users, messages);
      await this.handIdempotency();
      this.progress('inboxes', mark, users, messages);
      for (let after: UserHandoff | undefined; ; ) {
        const batch = await this.saver.exportUsers(after, HANDOFF_USERS_MAX);
        const moved = await this.handUsers(mark, batch);
        users += moved.users;
        messages += moved.messages;
        this.progress('inboxes', mark, users, messages);
        after = batch[batch.length - 1];
        if (batch.length < HANDOFF_USERS_MAX) break;
      }
      this.progress('clients', mark, users, messages);
      await this.redirectClients();
      this.current = { state: 'done', mark, users, messages };
      this.log.info({ users, messages }, 'drain: inboxes handed over, clients redirected');
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.current = { state: 'failed', mark, users, messages, error };
      this.log.error({ err }, 'drain failed (retry the removal to resume)');
    }
  }

  private newOwner(app: string, user: string): Member {
    const owner = this.ownership.owner(app, user);
    if (owner === undefined || owner.id === this.nodeId) throw new Error(`no other member to own ${app}/${user}`);
    return owner;
  }

  private async handUsers(mark: string, batch: readonly UserHandoff[]): Promise<{ users: number; messages: number }> {
    const byOwner = new Map<string, { member: Member; calls: UserHandoff[][]; msgs: number }>();
    for (const u of batch) {
      const m = this.newOwner(u.app, u.user);
      let g = byOwner.get(m.id);
      if (g === undefined) byOwner.set(m.id, (g = { member: m, calls: [[]], msgs: 0 }));
      const last = g.calls[g.calls.length - 1];
      if (last !== undefined && (last.length === 0 || g.msgs + u.messages.length <= HANDOFF_MSGS_MAX)) {
        last.push(u);
        g.msgs += u.messages.length;
      } else {
        g.calls.push([u]);
        g.msgs = u.messages.length;
      }
    }
    let users = 0;
    let messages = 0;
    // One owner at a time and one call at a time: a drain must not crowd out pushes on the peer links.
    for (const g of byOwner.values()) {
      for (const call of g.calls) {
        const n = await this.peers.of(g.member).call('handoff', { op: 'import', mark, users: call });
        if (typeof n !== 'object' || n === null || !('users' in n) || !('messages' in n) || typeof n.users !== 'number' || typeof n.messages !== 'number') {
          throw new Error(`${g.member.id} answered an import without counts`);
        }
        users += n.users;
        messages += n.messages;
        this.metrics.handoffUsersOut.inc(n.users);
        this.metrics.handoffMessagesOut.inc(n.messages);
      }
    }
    return { users, messages };
  }

  /** Each record goes to the new owners of the users in its answer, with only their results. */
  private async handIdempotency(): Promise<void> {
    for (let after: IdempotencyHandoff | undefined; ; ) {
      const records = await this.saver.exportIdempotency(after, HANDOFF_RECORDS_MAX);
      const byOwner = new Map<string, { member: Member; records: IdempotencyHandoff[] }>();
      for (const r of records) {
        const results = resultsOf(r.answer);
        const parts = new Map<string, Json[]>();
        for (const x of results) {
          const user = typeof x === 'object' && x !== null && !Array.isArray(x) ? x.user : undefined;
          if (typeof user !== 'string') continue;
          const m = this.newOwner(r.app, user);
          if (!byOwner.has(m.id)) byOwner.set(m.id, { member: m, records: [] });
          parts.set(m.id, [...(parts.get(m.id) ?? []), x]);
        }
        for (const [id, part] of parts) {
          const answer = typeof r.answer === 'object' && r.answer !== null && !Array.isArray(r.answer) ? { ...r.answer, results: part } : r.answer;
          byOwner.get(id)?.records.push({ ...r, answer });
        }
      }
      for (const g of byOwner.values()) await this.peers.of(g.member).call('handoff', { op: 'idempotency', records: g.records });
      after = records[records.length - 1];
      if (records.length < HANDOFF_RECORDS_MAX) return;
    }
  }
}

function resultsOf(answer: Json): Json[] {
  return typeof answer === 'object' && answer !== null && !Array.isArray(answer) && Array.isArray(answer.results) ? answer.results : [];
}
