// The keeper client for services, the CLI and tools: the keeper's API (kv,
// watch, leases) over any member, failing over to the next member when one
// is down or has no leader, and resuming watches from the last revision
// seen, so a service that hot-reloads config survives a member's death
// without missing or repeating a change. Key/value and lease calls go over
// the keeper wire (one WebSocket per member, keeper-wire-link.ts) unless
// `transport: 'http'`, or when a member serves no wire; watches, lease lists
// and the cluster view over HTTP (fetch).
import { KeeperError } from './errors.js';
import type { KeyValue, LeaseInfo, LeaseList, TxnCompare, TxnResult, WatchEvent } from './keeper.js';
import { LeaseKeepAlive } from './lease-keepalive.js';
import { acquireLock, lockHolder, type KeeperLock, type LockOptions } from './keeper-lock.js';
import { httpShaped, type WireCall } from './keeper-wire.js';
import { WireLink } from './keeper-wire-link.js';

// The package's `longwire/keeper-client` entry: what a caller needs besides the client.
export { KeeperError } from './errors.js';
export type { KeeperErrorCode } from './errors.js';
export type { CompareOp, KeyValue, LeaseInfo, LeaseList, TxnCompare, TxnResponse, TxnResult, WatchEvent } from './keeper.js';

/** An operation of a transaction, as the API takes it. */
export type TxnOperation =
  | { readonly put: { readonly key: string; readonly value: string; readonly lease?: string } }
  | { readonly delete: { readonly key: string; readonly prefix?: boolean } }
  | { readonly get: { readonly key: string; readonly prefix?: boolean; readonly limit?: number; readonly keysOnly?: boolean } };
export type { LeaseEnd, LeaseKeepAlive } from './lease-keepalive.js';
export type { KeeperLock, LockOptions } from './keeper-lock.js';

export interface KeeperClientOptions {
  /** API URLs of some members (http://host:port); more are learned from GET /v1/cluster. */
  readonly endpoints: readonly string[];
  readonly adminToken: string;
  /** Per request; a member that does not answer in time is skipped. */
  readonly requestTimeoutMs?: number;
  /** Pause between two rounds over all members while none answers. */
  readonly retryDelayMs?: number;
  /** Rounds over all members before a call fails. */
  readonly roundsMax?: number;
  /** 'wire' (the default): key/value and lease calls over the keeper wire; 'http': every call over HTTP. */
  readonly transport?: 'wire' | 'http';
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
export const DEFAULT_RETRY_DELAY_MS = 200;
export const DEFAULT_ROUNDS_MAX = 5;

export interface WatchHandlers {
  onEvents(events: readonly WatchEvent[]): void;
  onProgress?(revision: number): void;
  /** The revision to resume from is compacted: re-read, then watch again. The watch has stopped. */
  onCompacted?(compactRevision: number): void;
}

export interface ClientWatch {
  /** The newest revision delivered (events or progress); a resumed stream starts after it. */
  readonly lastRevision: number;
  /**
   * Resolves with the revision the watch starts after, once it is fixed: for
   * a watch "from now" that is the revision a linearizable read saw, so every
   * write answered after `ready` resolves is delivered. Rejects if the watch
   * is cancelled first.
   */
  readonly ready: Promise<number>;
  cancel(): void;
}

/** A member's answer (status and JSON body), or why it was skipped: only these are retried on another member. */
/** `unsent`: the member surely applied nothing (the connection was refused, or it answered 503: it proposed nothing). */
type Attempt = { readonly ok: true; readonly status: number; readonly body: unknown } | { readonly ok: false; readonly why: string; readonly unsent: boolean };

/** A call as HTTP sends it, and as the wire does when it is a key/value call. */
interface Call {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly wire?: WireCall;
}

/**
 * When a request goes on to the next member: 'any' after any failure (reads,
 * renewals and plain puts: repeating them is harmless, a put at most writes
 * its value twice); 'unsent' only when the failed attempt surely applied
 * nothing, as etcd's client retries a write. A write that timed out or lost
 * its connection may have been applied: retried, a compare-and-swap that took
 * effect would answer compare-failed, a lock taken would look lost, a prefix
 * delete would also take keys made since.
 */
type Retry = 'any' | 'unsent';

function causeCode(err: unknown): string | undefined {
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

function keyPath(key: string): string {
  return key.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
}

/** The key the node makes of keyPath(key): one leading slash. */
function wireKey(key: string): string {
  return '/' + key.replace(/^\/+/, '');
}

/** A range read (or count) as GET /v1/kv and as the wire's range call. */
function rangeCall(key: string, opts: { prefix?: boolean; consistency?: 'linearizable' | 'serializable'; after?: string; limit?: number; revision?: number }, countOnly: boolean): Call {
  const consistency = opts.consistency ?? 'linearizable';
  const q = new URLSearchParams({
    ...(opts.prefix === true ? { prefix: 'true' } : {}),
    consistency,
    ...(opts.after === undefined ? {} : { after: opts.after }),
    ...(opts.limit === undefined ? {} : { limit: String(opts.limit) }),
    ...(opts.revision === undefined ? {} : { revision: String(opts.revision) }),
    ...(countOnly ? { countOnly: 'true' } : {}),
  });
  const wire: WireCall = {
    op: 'range',
    key: wireKey(key),
    consistency,
    ...(opts.prefix === true ? { prefix: true } : {}),
    ...(opts.after === undefined ? {} : { after: opts.after }),
    ...(opts.limit === undefined ? {} : { limit: opts.limit }),
    ...(opts.revision === undefined ? {} : { revision: opts.revision }),
    ...(countOnly ? { countOnly: true } : {}),
  };
  return { method: 'GET', path: `/v1/kv/${keyPath(key)}?${q}`, wire };
}

export class KeeperClient {
  private readonly endpoints: string[];
  private next = 0;
  private readonly timeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly roundsMax: number;
  private readonly transport: 'wire' | 'http';
  /** One keeper wire connection per member, opened on its first call. */
  private readonly links = new Map<string, WireLink>();

  constructor(private readonly o: KeeperClientOptions) {
    if (o.endpoints.length === 0) throw new KeeperError('invalid', 'KeeperClient needs at least one endpoint');
    this.endpoints = o.endpoints.map((e) => e.replace(/\/+$/, ''));
    this.timeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.retryDelayMs = o.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    this.roundsMax = o.roundsMax ?? DEFAULT_ROUNDS_MAX;
    this.transport = o.transport ?? 'wire';
  }

  /** Adds every member's API address from the cluster view to the endpoints. */
  async discover(): Promise<readonly string[]> {
    const body = (await this.json('GET', '/v1/cluster')) as { members?: { api?: string }[] };
    for (const m of body.members ?? []) {
      if (typeof m.api !== 'string') continue;
      const url = `http://${m.api}`;
      if (!this.endpoints.includes(url)) this.endpoints.push(url);
    }
    return this.endpoints;
  }

  /**
   * A key, or the keys under a prefix in key order. A page ends at `limit`
   * keys (or at the node's bound on an answer's size) with `more` true: ask
   * again with `after` set to its last key and `revision` set to the first
   * page's, so the pages make one snapshot (KeeperError 'compacted' when the
   * member's watch history no longer reaches back to it: start over); to
   * follow the prefix from there, watch from that revision + 1.
   */
  async get(
    key: string,
    opts: { prefix?: boolean; consistency?: 'linearizable' | 'serializable'; after?: string; limit?: number; revision?: number } = {},
  ): Promise<{ revision: number; kvs: KeyValue[]; more: boolean }> {
    return (await this.call(rangeCall(key, opts, false), 'any')) as { revision: number; kvs: KeyValue[]; more: boolean };
  }

  /** How many keys `get` with the same options and no limit would answer. */
  async count(key: string, opts: { prefix?: boolean; consistency?: 'linearizable' | 'serializable'; after?: string; revision?: number } = {}): Promise<{ revision: number; count: number }> {
    return (await this.call(rangeCall(key, opts, true), 'any')) as { revision: number; count: number };
  }

  /**
   * Rejects with KeeperError 'compare-failed' when ifModRevision does not
   * match; with ifModRevision, 'timeout' when the member it went to failed
   * after it may have applied it (not retried elsewhere: read to find out).
   */
  async put(key: string, value: string, opts: { lease?: string; ifModRevision?: number } = {}): Promise<{ revision: number }> {
    const body = { value, ...opts };
    const wire: WireCall = { op: 'put', key: wireKey(key), ...body };
    return (await this.call({ method: 'PUT', path: `/v1/kv/${keyPath(key)}`, body, wire }, opts.ifModRevision === undefined ? 'any' : 'unsent')) as { revision: number };
  }

  /**
   * If every compare holds, the `success` operations, else the `failure`
   * ones, atomically at one revision; `responses` answers the branch taken,
   * in order. Rejects with KeeperError 'invalid' for a branch that writes a
   * key twice, 'lease-not-found', 'no-space', and 'timeout' when one that
   * writes may have been applied by a member that then failed (it is not
   * retried elsewhere: read to find out). `consistency` is for a transaction
   * that only reads.
   */
  async txn(
    t: { compare?: readonly TxnCompare[]; success?: readonly TxnOperation[]; failure?: readonly TxnOperation[] },
    opts: { consistency?: 'linearizable' | 'serializable' } = {},
  ): Promise<TxnResult> {
    const q = opts.consistency === undefined ? '' : `?consistency=${opts.consistency}`;
    const readOnly = [...(t.success ?? []), ...(t.failure ?? [])].every((op) => 'get' in op);
    const wire: WireCall = { op: 'txn', txn: t, ...(opts.consistency === undefined ? {} : { consistency: opts.consistency }) };
    return (await this.call({ method: 'POST', path: `/v1/txn${q}`, body: t, wire }, readOnly ? 'any' : 'unsent')) as TxnResult;
  }

  /** A lease's TTL, the time left and its keys; rejects with KeeperError 'lease-not-found'. */
  async leaseInfo(id: string): Promise<LeaseInfo> {
    return (await this.call({ method: 'GET', path: `/v1/leases/${encodeURIComponent(id)}`, wire: { op: 'leaseInfo', lease: id } }, 'any')) as LeaseInfo;
  }

  /** Leases in id order, a page at a time (`more`: ask again with `after` the last id). */
  async leases(opts: { after?: string; limit?: number } = {}): Promise<LeaseList> {
    const q = new URLSearchParams({ ...(opts.after === undefined ? {} : { after: opts.after }), ...(opts.limit === undefined ? {} : { limit: String(opts.limit) }) });
    return (await this.json('GET', `/v1/leases?${q}`)) as LeaseList;
  }

  async delete(key: string, opts: { prefix?: boolean } = {}): Promise<{ revision: number; deleted: number }> {
    const wire: WireCall = { op: 'delete', key: wireKey(key), ...(opts.prefix === true ? { prefix: true } : {}) };
    return (await this.call({ method: 'DELETE', path: `/v1/kv/${keyPath(key)}${opts.prefix === true ? '?prefix=true' : ''}`, wire }, 'unsent')) as { revision: number; deleted: number };
  }

  async leaseGrant(ttlSeconds: number): Promise<{ id: string; ttl: number }> {
    return (await this.call({ method: 'POST', path: '/v1/leases', body: { ttl: ttlSeconds }, wire: { op: 'leaseGrant', ttl: ttlSeconds } }, 'unsent')) as { id: string; ttl: number };
  }

  async leaseKeepAlive(id: string): Promise<{ ttl: number }> {
    return (await this.call({ method: 'POST', path: `/v1/leases/${encodeURIComponent(id)}/keepalive`, wire: { op: 'leaseKeepAlive', lease: id } }, 'any')) as { ttl: number };
  }

  /**
   * Renews the lease every third of its TTL until cancelled; `ended` says
   * when and why it stopped: 'expired' (the keeper no longer has it),
   * 'unreachable' (no renewal for a whole TTL), 'cancelled'.
   */
  keepAlive(lease: { readonly id: string; readonly ttl: number }): LeaseKeepAlive {
    return new LeaseKeepAlive(this, lease.id, lease.ttl, this.retryDelayMs);
  }

  /**
   * Waits until this client holds the lock `name` (a key prefix; also a
   * leader election), held while its lease is renewed: keeper-lock.ts.
   */
  lock(name: string, opts: LockOptions): Promise<KeeperLock> {
    return acquireLock(this, name, opts);
  }

  /** Who holds the lock `name` now (its key and the value it stored), or undefined: the elected leader. */
  lockHolder(name: string): Promise<KeyValue | undefined> {
    return lockHolder(this, name);
  }

  async leaseRevoke(id: string): Promise<void> {
    await this.call({ method: 'DELETE', path: `/v1/leases/${encodeURIComponent(id)}`, wire: { op: 'leaseRevoke', lease: id } }, 'unsent');
  }

  /** Closes the keeper wire connections (calls waiting on them fail); the client can still be used, and opens them again. */
  close(): void {
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }

  /**
   * Tries members in turn. A member is skipped when it cannot be reached or
   * answers 503 (no leader, not ready); a write only when its attempt surely
   * applied nothing (see Retry), else it rejects with 'timeout': the outcome is
   * unknown, read to find out.
   */
  private async request(c: Call, retry: Retry): Promise<{ status: number; body: unknown }> {
    const why: string[] = [];
    for (let round = 0; round < this.roundsMax; round++) {
      for (let i = 0; i < this.endpoints.length; i++) {
        const base = this.endpoints[this.next % this.endpoints.length] ?? '';
        const a = await this.attempt(base, c);
        if (a.ok) return a;
        this.next++;
        if (!a.unsent && retry === 'unsent') throw new KeeperError('timeout', `${c.method} ${c.path} through ${base}: ${a.why}; not retried, as it may have been applied (outcome unknown)`);
        why.push(`${base}: ${a.why}`);
      }
      await new Promise((r) => setTimeout(r, this.retryDelayMs));
    }
    throw new KeeperError('no-leader', `no member answered ${c.method} ${c.path}: ${why.slice(-this.endpoints.length).join('; ')}`);
  }

  private async attempt(base: string, c: Call): Promise<Attempt> {
    if (c.wire !== undefined && this.transport === 'wire') {
      let link = this.links.get(base);
      if (link === undefined) this.links.set(base, (link = new WireLink(base, `Bearer ${this.o.adminToken}`)));
      const o = await link.call(c.wire, this.timeoutMs);
      switch (o.kind) {
        case 'answer': {
          const a = httpShaped(o.answer);
          return a.status === 503 ? { ok: false, why: '503', unsent: true } : { ok: true, ...a };
        }
        case 'failed':
          return { ok: false, why: o.why, unsent: o.unsent };
        case 'unsupported':
          // An older member: this call over HTTP.
          break;
      }
    }
    try {
      const res = await fetch(base + c.path, {
        method: c.method,
        headers: { authorization: `Bearer ${this.o.adminToken}`, ...(c.body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(c.body === undefined ? {} : { body: JSON.stringify(c.body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (res.status === 503) {
        await res.body?.cancel();
        return { ok: false, why: '503', unsent: true };
      }
      return { ok: true, status: res.status, body: await res.json().catch(() => undefined) };
    } catch (err) {
      return { ok: false, why: err instanceof Error ? `${err.message}${causeCode(err) === undefined ? '' : ` (${causeCode(err)})`}` : String(err), unsent: causeCode(err) === 'ECONNREFUSED' };
    }
  }

  private json(method: string, path: string, body?: unknown, retry: Retry = method === 'GET' ? 'any' : 'unsent'): Promise<unknown> {
    return this.call({ method, path, ...(body === undefined ? {} : { body }) }, retry);
  }

  private async call(c: Call, retry: Retry): Promise<unknown> {
    const { status, body } = await this.request(c, retry);
    if (status >= 200 && status < 300) return body;
    const e = (body as { error?: { code?: string; message?: string; compactRevision?: number } } | undefined)?.error;
    const message = `${c.method} ${c.path}: ${status} ${e?.message ?? ''}`;
    if (status === 409) throw new KeeperError('compare-failed', message);
    if (status === 504) throw new KeeperError('timeout', message);
    if (status === 410) throw new KeeperError('compacted', message, e?.compactRevision === undefined ? undefined : { compactRevision: e.compactRevision });
    if (status === 404 && e?.code === 'lease-not-found') throw new KeeperError('lease-not-found', message);
    if (status === 507) throw new KeeperError('no-space', message);
    throw new KeeperError('invalid', message);
  }

  /**
   * Watches a key or prefix from `fromRevision` (default: from now). When the
   * stream's member dies or ends the stream, the watch reconnects to the next
   * member and resumes: every event once, in revision order. A member may die
   * between two lines of one revision, so the watch resumes from that revision
   * and skips the keys of it already delivered.
   */
  /** With `prevKv`, each event carries the key as it was before (absent for a put that created it). */
  watch(key: string, opts: { prefix?: boolean; fromRevision?: number; prevKv?: boolean }, h: WatchHandlers): ClientWatch {
    const pos = new StreamPosition((opts.fromRevision ?? 0) - 1);
    let cancelled = false;
    let abort: AbortController | undefined;
    let settle!: { resolve(rev: number): void; reject(e: Error): void };
    const ready = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
    // A caller that never awaits `ready` must not see an unhandled rejection on cancel.
    ready.catch(() => undefined);
    const handle: ClientWatch = {
      get lastRevision() {
        return pos.last;
      },
      ready,
      cancel: () => {
        cancelled = true;
        abort?.abort();
        settle.reject(new KeeperError('closed', 'watch cancelled before it started'));
      },
    };
    const run = async (): Promise<void> => {
      // "From now" is fixed by a linearizable read, retried (the keeper may have
      // no leader for a moment) until it answers or the watch is cancelled.
      while (pos.last < 0 && !cancelled) {
        try {
          pos.progress((await this.get(key, { prefix: opts.prefix ?? false, consistency: 'linearizable' })).revision);
        } catch {
          await new Promise((r) => setTimeout(r, this.retryDelayMs));
        }
      }
      settle.resolve(pos.last);
      let failures = 0;
      // The longest Retry-After of this round's refusals (a member serving all the watch streams it may answers 429).
      let retryAfterMs = 0;
      while (!cancelled) {
        const base = this.endpoints[this.next % this.endpoints.length] ?? '';
        abort = new AbortController();
        const q = new URLSearchParams({ key, ...(opts.prefix === true ? { prefix: 'true' } : {}), ...(opts.prevKv === true ? { prevKv: 'true' } : {}), fromRevision: String(pos.resumeFrom) });
        let streamed = false;
        try {
          const res = await fetch(`${base}/v1/watch?${q}`, { headers: { authorization: `Bearer ${this.o.adminToken}` }, signal: abort.signal });
          if (res.status === 410) {
            const body = (await res.json()) as { error?: { compactRevision?: number } };
            h.onCompacted?.(body.error?.compactRevision ?? 0);
            return;
          }
          if (res.ok && res.body !== null) {
            streamed = true;
            failures = 0;
            if (await readStream(res.body, h, pos)) return;
          } else {
            if (res.status === 429) retryAfterMs = Math.max(retryAfterMs, 1000 * (Number(res.headers.get('retry-after')) || 0));
            await res.body?.cancel();
          }
        } catch {
          // The member died or the stream broke: resume on the next one.
        }
        if (cancelled) return;
        this.next++;
        if (!streamed && ++failures >= this.endpoints.length) {
          failures = 0;
          const pause = Math.max(this.retryDelayMs, retryAfterMs);
          retryAfterMs = 0;
          await new Promise((r) => setTimeout(r, pause));
        }
      }
    };
    void run().catch(() => undefined);
    return handle;
  }
}

/** Where a watch stream stands, so a resumed stream delivers each event once. */
class StreamPosition {
  /** Keys of revision `last` already delivered; empty when `last` came from a progress notification. */
  private keys = new Set<string>();
  constructor(public last: number) {}

  get resumeFrom(): number {
    return this.keys.size > 0 ? this.last : this.last + 1;
  }

  /** True if the event is new to this watch. */
  admit(e: WatchEvent): boolean {
    if (e.revision < this.last) return false;
    if (e.revision === this.last) {
      if (this.keys.has(e.key)) return false;
      this.keys.add(e.key);
      return true;
    }
    this.last = e.revision;
    this.keys = new Set([e.key]);
    return true;
  }

  progress(revision: number): void {
    if (revision > this.last) {
      this.last = revision;
      this.keys.clear();
    }
  }
}

/** Reads NDJSON until the stream ends; true when it ended with `compacted` (the watch stops). */
async function readStream(body: ReadableStream<Uint8Array>, h: WatchHandlers, pos: StreamPosition): Promise<boolean> {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return false;
    buf += dec.decode(value, { stream: true });
    const events: WatchEvent[] = [];
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
      buf = buf.slice(i + 1);
      if (typeof line.progress === 'number') {
        if (events.length > 0) h.onEvents(events.splice(0));
        pos.progress(line.progress);
        h.onProgress?.(line.progress);
      } else if (typeof line.revision === 'number' && typeof line.key === 'string') {
        const prev = typeof line.prevKv === 'object' && line.prevKv !== null ? { prevKv: line.prevKv as KeyValue } : {};
        const e: WatchEvent =
          line.type === 'delete'
            ? { type: 'delete', revision: line.revision, key: line.key, ...prev }
            : { type: 'put', revision: line.revision, key: line.key, value: String(line.value ?? ''), ...prev };
        if (pos.admit(e)) events.push(e);
      } else if (typeof line.error === 'object' && line.error !== null) {
        const err = line.error as { code?: string; compactRevision?: number };
        if (events.length > 0) h.onEvents(events.splice(0));
        if (err.code === 'compacted') {
          h.onCompacted?.(err.compactRevision ?? 0);
          return true;
        }
        return false;
      }
    }
    if (events.length > 0) h.onEvents(events);
  }
}
