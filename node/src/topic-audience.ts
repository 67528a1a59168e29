// The owner's side of topic interest: which members have subscribers of
// which of the topics it owns, so a pub goes to those members only, not to
// every member (topic-interest.ts is the members' side). A member's record
// is usable only while it is known to be whole: taken in one sync, kept up
// by the member's adds and removes, checked by its pings (a digest,
// interest-digest.ts), and made under the same ring as the owner's own (the
// ring decides which topics a member lists to which owner). A member with no
// usable record — not synced yet, synced under another ring, silent past
// `staleMs`, or over the bound on entries — gets every pub, as before
// interest was kept: a record can only narrow the sends, never lose one.

import type { Member } from '../../keeper/src/keeper.js';
import { InterestDigest, type DigestValue } from './interest-digest.js';

export interface TopicAudienceOptions {
  /** A member silent this long (no ping, sync or change) has its record dropped: it gets every pub again. */
  readonly staleMs: number;
  /** Topic keys kept over all members; a sync past it leaves that member with every pub. */
  readonly entriesMax: number;
  readonly now: () => number;
}

export const TOPIC_AUDIENCE_DEFAULTS = { staleMs: 10_000, entriesMax: 1_000_000 } as const;

interface Audience {
  /** The ring (ClusterTopics' ring signature) the member grouped its topics by. */
  readonly sig: string;
  /** Undefined: past the entries bound (the digest is kept, the keys not: the member gets every pub). */
  keys: Set<string> | undefined;
  readonly digest: InterestDigest;
  heardAt: number;
}

/** A member's interest as one sync call carries it: the first chunk starts it, the last makes it the record. */
export interface InterestChunk {
  readonly sig: string;
  readonly keys: readonly string[];
  readonly first: boolean;
  readonly last: boolean;
}

export interface InterestChange {
  readonly sig: string;
  readonly add: readonly string[];
  readonly remove: readonly string[];
}

/** Where a pub went: `to` gets it; `interested` of them by record, `unsynced` for want of one. */
export interface Recipients {
  readonly to: Member[];
  readonly interested: number;
  readonly unsynced: number;
  readonly skipped: number;
}

export class TopicAudience {
  private readonly records = new Map<string, Audience>();
  private readonly syncing = new Map<string, { sig: string; keys: Set<string> | undefined; digest: InterestDigest }>();
  private entries = 0;

  constructor(private readonly o: TopicAudienceOptions) {}

  /** Of `members`, those a pub of topic `key` goes to, for an owner whose ring is `sig`. */
  recipients(key: string, members: readonly Member[], sig: string): Recipients {
    const to: Member[] = [];
    let interested = 0;
    let unsynced = 0;
    for (const m of members) {
      const a = this.usable(m.id, sig);
      if (a === undefined) {
        unsynced++;
        to.push(m);
      } else if (a.has(key)) {
        interested++;
        to.push(m);
      }
    }
    return { to, interested, unsynced, skipped: members.length - to.length };
  }

  private usable(member: string, sig: string): Set<string> | undefined {
    const a = this.records.get(member);
    if (a === undefined || a.sig !== sig || a.keys === undefined) return undefined;
    if (this.o.now() - a.heardAt > this.o.staleMs) {
      this.drop(member);
      return undefined;
    }
    return a.keys;
  }

  /**
   * Whether the record of `member` is the interest it sums up as `digest`
   * under `sig` (false: it should sync). A stale record is dropped, not
   * refreshed: a member silent that long (cut off) may have missed pubs, and
   * the answer to its sync has the topics' newest offsets.
   */
  ping(member: string, sig: string, digest: DigestValue): boolean {
    const a = this.records.get(member);
    if (a === undefined) return false;
    if (this.o.now() - a.heardAt > this.o.staleMs) {
      this.drop(member);
      return false;
    }
    if (a.sig !== sig || !a.digest.matches(digest)) return false;
    a.heardAt = this.o.now();
    return true;
  }

  /** Takes one chunk of a member's whole interest; the last chunk replaces its record. */
  sync(member: string, c: InterestChunk): void {
    let s = this.syncing.get(member);
    if (c.first || s === undefined || s.sig !== c.sig) {
      if (s !== undefined) this.entries -= s.keys?.size ?? 0;
      s = { sig: c.sig, keys: new Set(), digest: new InterestDigest() };
      this.syncing.set(member, s);
    }
    this.apply(s, c.keys, []);
    if (!c.last) return;
    this.syncing.delete(member);
    this.drop(member);
    this.records.set(member, { sig: c.sig, keys: s.keys, digest: s.digest, heardAt: this.o.now() });
  }

  /**
   * A member's interest changed by a few keys; false (ignored) when neither
   * its record nor a sync of it in progress was made under their ring. A sync
   * in progress takes them too: its later chunks list what the member had
   * before them.
   */
  change(member: string, c: InterestChange): boolean {
    const a = this.records.get(member);
    const s = this.syncing.get(member);
    const onRecord = a !== undefined && a.sig === c.sig;
    const onSync = s !== undefined && s.sig === c.sig;
    if (onRecord) {
      a.heardAt = this.o.now();
      this.apply(a, c.add, c.remove);
    }
    if (onSync) this.apply(s, c.add, c.remove);
    return onRecord || onSync;
  }

  /** Adds and removes keys of a record or a sync; past the entries bound its keys are let go and only its digest goes on. */
  private apply(to: { keys: Set<string> | undefined; readonly digest: InterestDigest }, add: readonly string[], remove: readonly string[]): void {
    for (const k of remove) {
      if (to.keys !== undefined) {
        if (!to.keys.delete(k)) continue;
        this.entries--;
      }
      to.digest.remove(k);
    }
    for (const k of add) {
      if (to.keys !== undefined) {
        if (to.keys.has(k)) continue;
        if (this.entries >= this.o.entriesMax) {
          this.entries -= to.keys.size;
          to.keys = undefined;
        } else {
          to.keys.add(k);
          this.entries++;
        }
      }
      to.digest.add(k);
    }
  }

  /** Drops the records of members no longer in the cluster. */
  keepOnly(members: ReadonlySet<string>): void {
    for (const id of [...this.records.keys()]) if (!members.has(id)) this.drop(id);
    for (const [id, s] of [...this.syncing]) {
      if (members.has(id)) continue;
      this.entries -= s.keys?.size ?? 0;
      this.syncing.delete(id);
    }
  }

  /** Topic keys held, over all members (bounded by entriesMax, plus syncs in progress). */
  size(): number {
    return this.entries;
  }

  private drop(member: string): void {
    const a = this.records.get(member);
    if (a === undefined) return;
    this.records.delete(member);
    this.entries -= a.keys?.size ?? 0;
  }
}
