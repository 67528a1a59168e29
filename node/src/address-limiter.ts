// Per-address connection limits: a cap on open connections per IP and a rate
// of new connections per IP. Past either the new connection is closed with
// 4029. Entries are dropped when an address has no connections and a full
// bucket, so the table stays bounded by the addresses actually connected.
import { TokenBucket } from './token-bucket.js';

interface Entry {
  open: number;
  readonly bucket: TokenBucket;
}

/** Idle entries are swept when the table passes this size. */
const ENTRIES_SWEEP_AT = 10_000;

export class AddressLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly limits: () => { readonly connectionsPerAddressMax: number; readonly connectionsPerAddressPerSecond: number }) {}

  /** Admits a new connection from `ip`, or says why not. */
  admit(ip: string, nowMs: number): 'ok' | 'too-many' | 'too-fast' {
    const l = this.limits();
    let e = this.entries.get(ip);
    if (e === undefined) {
      if (this.entries.size >= ENTRIES_SWEEP_AT) this.sweep(nowMs);
      e = { open: 0, bucket: new TokenBucket(l.connectionsPerAddressPerSecond, l.connectionsPerAddressPerSecond, nowMs) };
      this.entries.set(ip, e);
    } else {
      e.bucket.configure(l.connectionsPerAddressPerSecond, l.connectionsPerAddressPerSecond);
    }
    if (e.open >= l.connectionsPerAddressMax) return 'too-many';
    if (!e.bucket.take(nowMs)) return 'too-fast';
    e.open++;
    return 'ok';
  }

  release(ip: string): void {
    const e = this.entries.get(ip);
    if (e !== undefined && e.open > 0) e.open--;
  }

  private sweep(nowMs: number): void {
    const rate = this.limits().connectionsPerAddressPerSecond;
    for (const [ip, e] of this.entries) {
      if (e.open === 0 && e.bucket.waitMs(nowMs, rate) === 0) this.entries.delete(ip);
    }
  }
}
