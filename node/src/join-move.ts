// The joining member's side of a join: while its join record is in the
// keeper and it is a voter, it asks each previous owner (the ring it joined,
// `from`) to hand over the users it now owns (join-release.ts), and polls
// until every one has; then it deletes the record, and the ring no longer
// consults the previous owners. A user needed before its batch arrives is
// pulled on demand (handoff-gate.ts). Either side crashing leaves the record
// in place: the joiner asks again after a restart, and a previous owner that
// restarted starts its hand-over again (imports under the mark are
// idempotent).
import type { Keeper } from '../../keeper/src/keeper.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { JOINING_PREFIX, type Ownership } from './ownership.js';
import type { ReleaseStatus } from './join-release.js';
import type { Peers } from './peer/peers.js';

/** How often the joiner asks its previous owners how far they are. */
export const JOIN_MOVE_POLL_MS = 500;

export class JoinMove {
  private readonly timer: NodeJS.Timeout;
  private busy = false;
  private closed = false;

  constructor(
    private readonly nodeId: string,
    private readonly keeper: Keeper,
    private readonly ownership: Ownership,
    private readonly peers: Peers,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => {
      if (this.busy || this.closed) return;
      this.busy = true;
      void this.check()
        .catch((err: unknown) => this.log.warn({ err }, 'join: asking previous owners failed (asked again)'))
        .finally(() => (this.busy = false));
    }, JOIN_MOVE_POLL_MS);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const join = this.ownership.joinOf(this.nodeId);
    const self = this.keeper.cluster().members.find((m) => m.id === this.nodeId);
    this.metrics.joinMoveRunning.set(join === undefined ? 0 : 1);
    if (join === undefined || self?.role !== 'voter') return;
    const previous = this.ownership.fromRing(join);
    const answers = await Promise.all(
      previous.map(async (m) => {
        try {
          return { id: m.id, st: (await this.peers.of(m).call('drain', { op: 'release', mark: join.mark })) as ReleaseStatus };
        } catch (err) {
          return { id: m.id, st: { state: 'failed', mark: join.mark, users: 0, messages: 0, error: err instanceof Error ? err.message : String(err) } as const };
        }
      }),
    );
    const waiting = answers.filter((a) => !(a.st.state === 'done' && a.st.mark === join.mark));
    if (waiting.length > 0 || this.closed) return;
    // Still ours (not replaced by a later join of a member with this id): the move is complete.
    if (this.ownership.joinOf(this.nodeId)?.mark !== join.mark) return;
    await this.keeper.delete(JOINING_PREFIX + this.nodeId);
    this.metrics.joinMoveRunning.set(0);
    const moved = answers.reduce((n, a) => n + (a.st.state === 'done' ? a.st.users : 0), 0);
    this.log.info({ from: previous.map((m) => m.id), users: moved }, 'join: every previous owner handed its users over; join record cleared');
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }
}
