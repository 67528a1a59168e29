// When the voters change, or a member starts being drained (ownership.ts),
// some users get a new owner. A connection of such a user, wherever it is, is
// told to reconnect (`redirect`, reason `owner-moved`, the new owner first)
// and closed with 4009, at a paced rate so a ring change does not reconnect
// everyone at once: its binding then starts afresh against the new owner's
// inbox (handed over when a member is drained, and moved to a joining member
// from the user's previous owner: handoff-gate.ts, join-release.ts).
import type { Member } from '../../keeper/src/keeper.js';
import type { Ownership } from './ownership.js';
import type { Client } from './gateway/client.js';
import type { Hub } from './hub.js';
import { CloseCode } from './protocol/close-codes.js';
import { dispatch } from './dispatcher.js';
import { ownerOf } from './ring.js';

/** How often the voters are compared and how many queued clients are redirected per check. */
export const OWNER_CHECK_MS = 250;
export const OWNER_REDIRECTS_PER_CHECK = 250;

const NOTHING_TRIED: ReadonlySet<string> = new Set();

function voterIds(members: readonly Member[]): string {
  return members
    .filter((m) => m.role === 'voter')
    .map((m) => m.id)
    .sort()
    .join(',');
}

export class OwnerMoves {
  private voters: readonly Member[] | undefined;
  private signature = '';
  /** Clients waiting for their redirect; at most every client of the node. */
  private readonly pending = new Set<Client>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ownership: Ownership,
    private readonly hub: Hub,
    private readonly tls: boolean,
  ) {
    this.timer = setInterval(() => this.check(), OWNER_CHECK_MS);
    this.timer.unref();
  }

  private check(): void {
    const members = this.ownership.ringMembers();
    const sig = voterIds(members);
    if (this.voters === undefined || sig === '') {
      this.voters = members;
      this.signature = sig;
    } else if (sig !== this.signature) {
      const before = this.voters;
      this.voters = members;
      this.signature = sig;
      for (const c of this.hub.clients) {
        for (const b of c.bindings.values()) {
          const key = `${b.app}\u0000${b.user}`;
          if (ownerOf(before, key)?.id !== ownerOf(members, key)?.id) {
            this.pending.add(c);
            break;
          }
        }
      }
    }
    let n = 0;
    for (const c of this.pending) {
      if (n++ >= OWNER_REDIRECTS_PER_CHECK) break;
      this.pending.delete(c);
      if (c.state === 'closed') continue;
      const b = c.bindings.first();
      c.send({ t: 'redirect', reason: 'owner-moved', nodes: dispatch(members, b?.app ?? '', b?.user ?? '', NOTHING_TRIED, this.tls) });
      c.close(CloseCode.redirect, 'owner-moved');
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.pending.clear();
  }
}
