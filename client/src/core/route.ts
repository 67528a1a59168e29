// Where to connect next: a fixed URL list walked round-robin, or the
// dispatcher's ranked list, cached for its ttl and walked on failure. Failed
// addresses go back to the dispatcher in `tried` so it ranks them last.
// Pure: time comes in as arguments.
import type { NodeAddress } from './frames.js';

export type Next = { readonly type: 'connect'; readonly url: string } | { readonly type: 'dispatch'; readonly tried: readonly string[] };

/** `host:port` of a gateway URL, the form the dispatcher's `tried` takes. */
export function addressOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export class Route {
  private nodes: readonly string[];
  /** Invariant: the node tried next is nodes[index] while index < nodes.length and the list is fresh. */
  private index = 0;
  private expiresAtMs: number;
  /** A list just received is tried once even if its ttl is already over (ttl 0 must not loop on the dispatcher). */
  private fresh = false;
  private readonly tried = new Set<string>();

  /** Without `fixed`, every list comes from the dispatcher. */
  constructor(private readonly fixed: readonly string[] | undefined) {
    this.nodes = fixed ?? [];
    this.expiresAtMs = fixed === undefined ? 0 : Infinity;
  }

  next(nowMs: number): Next {
    const url = this.fresh || nowMs < this.expiresAtMs ? this.nodes[this.index] : undefined;
    if (url !== undefined) return { type: 'connect', url };
    if (this.fixed !== undefined && this.fixed.length > 0) {
      // A fixed list wraps around (and replaces an exhausted redirect list).
      this.nodes = this.fixed;
      this.expiresAtMs = Infinity;
      this.index = 0;
      return { type: 'connect', url: this.fixed[0] ?? '' };
    }
    return { type: 'dispatch', tried: [...this.tried] };
  }

  /** A dispatcher answer: nodes in rank order, cached for `ttlSeconds`. */
  onDispatched(nodes: readonly NodeAddress[], ttlSeconds: number, nowMs: number): void {
    this.nodes = nodes.map((n) => n.url);
    this.index = 0;
    this.expiresAtMs = nowMs + ttlSeconds * 1000;
    this.fresh = true;
  }

  /** A redirect's nodes replace the list for `ttlMs`. */
  redirect(nodes: readonly NodeAddress[], ttlMs: number, nowMs: number): void {
    this.onDispatched(nodes, ttlMs / 1000, nowMs);
  }

  /** The connection to `url` failed or dropped: the next attempt goes to the next node. */
  onFailed(url: string): void {
    this.tried.add(addressOf(url));
    this.index++;
    this.fresh = false;
  }

  /** A welcome arrived: earlier failures no longer matter. */
  onConnected(): void {
    this.fresh = false;
    this.tried.clear();
  }
}
