// The draining node's side of a removal: it hands every inbox it holds to the
// user's new owner and every topic history to the topic's, then redirects its clients, and reports progress. The
// member-removal route (center/member-removal.ts) starts it and polls it, and
// removes the member from Raft only once it is done.
//
// Order: seal the saver first (durably: no seq is given out here any more,
// even after a restart), then idempotency records (so a push repeated with
// its key during the move is still answered from its record), then the
// inboxes in key order, grouped by new owner (handover.ts), then the topic
// histories (topic-handover.ts). An import is idempotent under the drain's mark, so a drain that failed or whose node
// crashed starts over from the first user and skips nothing it must not.
import type { Member } from '../../keeper/src/keeper.js';
import { HANDOFF_USERS_MAX, handIdempotency, handUsers } from './handover.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { ownerKey, topicKey, type Ownership } from './ownership.js';
import type { ClusterTopics } from './cluster-topics.js';
import { handTopics } from './topic-handover.js';
import type { Peers } from './peer/peers.js';
import type { Saver, UserHandoff } from './saver/saver.js';

export interface DrainProgress {
  readonly mark: string;
  /** Inboxes the new owners took (already handed ones are not counted again). */
  readonly users: number;
  readonly messages: number;
}

export type DrainPhase = 'seal' | 'idempotency' | 'inboxes' | 'topics' | 'clients';

export type DrainStatus =
  | { readonly state: 'idle' }
  | (DrainProgress & { readonly state: 'running'; readonly phase: DrainPhase })
  | (DrainProgress & { readonly state: 'done' })
  | (DrainProgress & { readonly state: 'failed'; readonly error: string });

export class Drainer {
  private current: DrainStatus = { state: 'idle' };

  constructor(
    private readonly nodeId: string,
    private readonly ownership: Ownership,
    private readonly saver: Saver,
    private readonly peers: Peers,
    private readonly topics: ClusterTopics,
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

  private progress(phase: DrainPhase, mark: string, users: number, messages: number): void {
    this.current = { state: 'running', phase, mark, users, messages };
  }

  private async run(mark: string): Promise<void> {
    let users = 0;
    let messages = 0;
    try {
      await this.seal(mark);
      this.progress('idempotency', mark, users, messages);
      await handIdempotency(this.saver, this.peers, (app, user) => this.newOwner(app, user));
      this.progress('inboxes', mark, users, messages);
      for (let after: UserHandoff | undefined; ; ) {
        const batch = await this.saver.exportUsers(after, HANDOFF_USERS_MAX);
        const moved = await handUsers(this.peers, this.metrics, 'drain', mark, batch, (app, user) => this.newOwner(app, user));
        users += moved.users;
        messages += moved.messages;
        this.progress('inboxes', mark, users, messages);
        after = batch[batch.length - 1];
        if (batch.length < HANDOFF_USERS_MAX) break;
      }
      this.progress('topics', mark, users, messages);
      // Sealed above, so this node no longer owns a topic: once what it had started is stored, its histories are final.
      await this.topics.settled();
      const t = await handTopics(this.saver, this.peers, this.metrics, 'drain', mark, (app, topic) => this.newOwnerOf(topicKey(app, topic), `topic ${app}/${topic}`));
      this.log.info({ topics: t.topics, records: t.records }, 'drain: topic histories handed over');
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
    return this.newOwnerOf(ownerKey(app, user), `${app}/${user}`);
  }

  private newOwnerOf(key: string, what: string): Member {
    const owner = this.ownership.ownerOfKey(key);
    if (owner === undefined || owner.id === this.nodeId) throw new Error(`no other member to own ${what}`);
    return owner;
  }
}
