// A previous owner's side of a join: it hands the joining member every user
// whose owner the join changed from this node to the joiner, with cursors,
// next seq and idempotency records, when the joiner asks (join-move.ts) —
// so all moved users arrive without traffic; a user needed sooner is pulled
// by the joiner (handoff-gate.ts).
//
// Order: read the join records again (linearizably: this node's view of
// the voters then has the joiner, and from then on the saver refuses to
// give a moved user a seq or a cursor here, saver setMovingOut), wait until
// every write queued before is stored, then hand idempotency records, then
// the inboxes in key order (then the topics that moved, topic-handover.ts): each page's moved users are sealed for the join
// first (a durable per-user seal that outlives the join: this node keeps
// serving its other users) and exported once sealed, so what the joiner
// imports is final. An import is idempotent under the join's mark, so a
// release that failed or whose node crashed starts over from the first user.
import type { ClusterMember } from '../../keeper/src/keeper.js';
import { HANDOFF_USERS_MAX, handIdempotency, handUsers } from './handover.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { topicKey, type Ownership } from './ownership.js';
import type { ClusterTopics } from './cluster-topics.js';
import { handTopics } from './topic-handover.js';
import type { Peers } from './peer/peers.js';
import type { Saver, UserKey } from './saver/saver.js';

export type ReleaseStatus =
  | { readonly state: 'idle' }
  | { readonly state: 'running'; readonly mark: string; readonly users: number; readonly messages: number }
  | { readonly state: 'done'; readonly mark: string; readonly users: number; readonly messages: number }
  | { readonly state: 'failed'; readonly mark: string; readonly users: number; readonly messages: number; readonly error: string };

export class JoinRelease {
  private current: ReleaseStatus = { state: 'idle' };

  constructor(
    private readonly ownership: Ownership,
    private readonly saver: Saver,
    private readonly peers: Peers,
    private readonly topics: ClusterTopics,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Starts handing over the users of the join under `mark`, or answers the run for it; a failed one starts again. */
  start(mark: string): ReleaseStatus {
    const c = this.current;
    if ((c.state === 'running' || c.state === 'done') && c.mark === mark) return c;
    if (c.state === 'running') return c; // another join's run: the caller sees the other mark and asks again later
    this.current = { state: 'running', mark, users: 0, messages: 0 };
    void this.run(mark);
    return this.current;
  }

  private async run(mark: string): Promise<void> {
    let users = 0;
    let messages = 0;
    try {
      await this.ownership.refresh();
      const join = this.ownership.activeJoin();
      if (join === undefined || join.mark !== mark) throw new Error(`no join under mark ${mark} whose member is a voter`);
      const joiner: ClusterMember | undefined = this.ownership.ringMembers().find((m) => m.id === join.member);
      if (joiner === undefined) throw new Error(`joining member ${join.member} is not in the ring`);
      const moving = (app: string, user: string): boolean => this.ownership.movingOut(app, user) === mark;
      // A barrier: appends and cursors that got in before this node counted the joiner are stored before any export.
      await this.saver.sealUsers(mark, []);
      await handIdempotency(this.saver, this.peers, (app, user) => (moving(app, user) ? joiner : undefined));
      for (let after: UserKey | undefined; ; ) {
        const page = await this.saver.listUsers(after, HANDOFF_USERS_MAX);
        const moved = page.filter((k) => moving(k.app, k.user));
        if (moved.length > 0) {
          await this.saver.sealUsers(mark, moved);
          const batch = await Promise.all(moved.map((k) => this.saver.exportUser(k.app, k.user)));
          const n = await handUsers(this.peers, this.metrics, 'join', mark, batch, () => joiner);
          users += n.users;
          messages += n.messages;
          this.current = { state: 'running', mark, users, messages };
        }
        after = page[page.length - 1];
        if (page.length < HANDOFF_USERS_MAX) break;
      }
      // The refresh above made this node count the joiner: once what it had started is stored, the moving topics' histories are final.
      await this.topics.settled();
      const t = await handTopics(this.saver, this.peers, this.metrics, 'join', mark, (app, topic) => (this.ownership.movingOutOf(topicKey(app, topic)) === mark ? joiner : undefined));
      this.log.info({ joiner: join.member, topics: t.topics, records: t.records }, 'join: topic histories handed to the joining member');
      this.current = { state: 'done', mark, users, messages };
      this.log.info({ joiner: join.member, users, messages }, 'join: users handed to the joining member');
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.current = { state: 'failed', mark, users, messages, error };
      this.log.warn({ err }, 'join: handing users to the joining member failed (it asks again)');
    }
  }
}
