// Keeps a lease alive for a service: renews it every third of its TTL through
// the keeper client (which fails over between members) and says when it is
// lost, so the service stops acting on what the lease guarded (a
// registration, a lock). Lost means: the keeper answered that the lease is
// gone (it expired or was revoked, and its keys with it), or no renewal
// succeeded for a whole TTL (no member answered in time: the cluster may
// already have expired it, so the service must assume it did).
import { KeeperError } from './errors.js';
import type { KeeperClient } from './keeper-client.js';

export type LeaseEnd = 'cancelled' | 'expired' | 'unreachable';

export class LeaseKeepAlive {
  /** Resolves once, with why the lease is no longer kept alive. */
  readonly ended: Promise<LeaseEnd>;
  private resolveEnded!: (why: LeaseEnd) => void;
  private endedWith: LeaseEnd | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ttlMs: number;
  private renewedAt: number;

  constructor(
    private readonly client: KeeperClient,
    readonly id: string,
    ttlSeconds: number,
    private readonly retryDelayMs: number,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    this.ttlMs = ttlSeconds * 1000;
    this.renewedAt = performance.now();
    this.schedule(this.ttlMs / 3);
  }

  /** Stops renewing; the lease then expires after its TTL unless revoked. */
  cancel(): void {
    this.end('cancelled');
  }

  private end(why: LeaseEnd): void {
    if (this.endedWith !== undefined) return;
    this.endedWith = why;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.resolveEnded(why);
  }

  private schedule(ms: number): void {
    if (this.endedWith !== undefined) return;
    this.timer = setTimeout(() => void this.renew(), Math.max(0, ms));
  }

  private async renew(): Promise<void> {
    const left = this.renewedAt + this.ttlMs - performance.now();
    let outOfTime: ReturnType<typeof setTimeout> | undefined;
    try {
      // The client may try every member for longer than the lease has left.
      const r = await Promise.race([
        this.client.leaseKeepAlive(this.id),
        new Promise<never>((_, reject) => (outOfTime = setTimeout(() => reject(new KeeperError('no-leader', 'no renewal within the TTL')), Math.max(0, left)))),
      ]);
      if (this.endedWith !== undefined) return;
      this.renewedAt = performance.now();
      this.ttlMs = r.ttl * 1000;
      this.schedule(this.ttlMs / 3);
    } catch (err) {
      if (err instanceof KeeperError && err.code === 'lease-not-found') return this.end('expired');
      const stillLeft = this.renewedAt + this.ttlMs - performance.now();
      if (stillLeft <= 0) return this.end('unreachable');
      this.schedule(Math.min(this.retryDelayMs, stillLeft));
    } finally {
      clearTimeout(outOfTime);
    }
  }
}
