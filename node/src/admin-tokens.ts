// The cluster's admin tokens, kept in the keeper as SHA-256 digests in one
// key, /sys/secrets/admin-tokens, so a token made or revoked on one node holds
// on every node within a watch round trip, with no restart, and no node stores
// or sends a token itself. Every change is a compare-and-swap on that key's
// modRevision, so concurrent changes cannot lose one another or empty the
// list. The list always holds an unscoped token: the first node seeds it
// with its --admin-token (or the one it generated), and the last unscoped
// token cannot be revoked. A scoped token (keeper-scope.ts) is kept in the
// same list and reaches only the keeper keys of its scope.
import { hash, randomBytes } from 'node:crypto';
import type { Keeper, Watcher, WatchMessage } from '../../keeper/src/keeper.js';
import { KeeperError } from '../../keeper/src/errors.js';
import { SECRETS_PREFIX } from './keeper-secrets.js';
import { parseScope, type KeeperScope } from './keeper-scope.js';

export const ADMIN_TOKENS_KEY = `${SECRETS_PREFIX}admin-tokens`;
/** Tokens a cluster may hold; enough for rotation with overlap, bounded so the key stays small. */
export const ADMIN_TOKENS_MAX = 64;

export interface AdminTokenInfo {
  readonly id: string;
  readonly label: string;
  readonly createdAt: number;
  /** Set for a scoped token: it may only use the keeper's kv, transaction, watch and lease routes within it. */
  readonly scope?: KeeperScope;
}

interface Stored extends AdminTokenInfo {
  readonly sha256: string;
}

/** Valid tokens remembered so a busy caller's requests skip the hash (a handful of services call at once). */
const VERIFIED_CACHE_MAX = 16;

export function tokenDigest(token: string): string {
  return hash('sha256', token, 'hex');
}

function parse(value: string): Stored[] {
  try {
    const v: unknown = JSON.parse(value);
    if (!Array.isArray(v)) return [];
    return v.filter(
      (s): s is Stored =>
        typeof s === 'object' &&
        s !== null &&
        typeof s.id === 'string' &&
        typeof s.sha256 === 'string' &&
        typeof s.label === 'string' &&
        typeof s.createdAt === 'number' &&
        // A scope that does not read back is not taken as no scope: the token is dropped.
        (s.scope === undefined || parseScope(s.scope) !== undefined),
    );
  } catch {
    return [];
  }
}

export class AdminTokenError extends Error {
  override readonly name = 'AdminTokenError';
  constructor(
    readonly code: 'unknown' | 'last' | 'full',
    message: string,
  ) {
    super(message);
  }
}

export class AdminTokens {
  /** digest → record. A lookup by digest gives a timing attack nothing about the token. */
  private byDigest = new Map<string, Stored>();
  /** Tokens that matched the current list, with their record; emptied whenever the list changes, never holds a wrong token. */
  private verified = new Map<string, Stored>();
  private watcher: Watcher | undefined;

  constructor(
    private readonly keeper: Keeper,
    private readonly now: () => number,
  ) {}

  /** Loads the list and follows it; seeds it with `seed` if there is none yet. */
  async start(seed: string | undefined): Promise<void> {
    let r = await this.keeper.range(ADMIN_TOKENS_KEY);
    if (r.kvs.length === 0 && seed !== undefined) {
      const first: Stored = { id: 'initial', label: 'initial', createdAt: this.now(), sha256: tokenDigest(seed) };
      // Only if absent: when nodes seed at once, the first write is the cluster's token.
      await this.keeper.put(ADMIN_TOKENS_KEY, JSON.stringify([first]), { ifModRevision: 0 }).catch((err: unknown) => {
        if (!(err instanceof KeeperError && err.code === 'compare-failed')) throw err;
      });
      r = await this.keeper.range(ADMIN_TOKENS_KEY);
    }
    this.apply(r.kvs[0]?.value);
    this.watcher = this.keeper.watch({ key: ADMIN_TOKENS_KEY, fromRevision: r.revision + 1 }, (m) => this.onWatch(m));
  }

  private onWatch(m: WatchMessage): void {
    if (m.kind === 'events') {
      for (const e of m.events) this.apply(e.type === 'put' ? e.value : undefined);
    } else if (m.kind === 'compacted' || (m.kind === 'cancelled' && m.reason !== 'closed')) {
      this.watcher?.cancel();
      void this.start(undefined).catch(() => undefined);
    }
  }

  private apply(value: string | undefined): void {
    this.byDigest = new Map(parse(value ?? '[]').map((s) => [s.sha256, s]));
    this.verified = new Map();
  }

  /** The token's record (with its scope, if it has one), or undefined when it is not a token of the cluster. */
  lookup(token: string): AdminTokenInfo | undefined {
    const cached = this.verified.get(token);
    if (cached !== undefined) return cached;
    const s = this.byDigest.get(tokenDigest(token));
    if (s === undefined) return undefined;
    if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.clear();
    this.verified.set(token, s);
    return s;
  }

  list(): AdminTokenInfo[] {
    return [...this.byDigest.values()].map(({ id, label, createdAt, scope }) => ({ id, label, createdAt, ...(scope === undefined ? {} : { scope }) }));
  }

  /** Applies `change` to the stored list with a compare-and-swap, retrying when another change won. */
  private async update(change: (list: Stored[]) => Stored[]): Promise<void> {
    for (;;) {
      const r = await this.keeper.range(ADMIN_TOKENS_KEY);
      const kv = r.kvs[0];
      const next = change(parse(kv?.value ?? '[]'));
      try {
        await this.keeper.put(ADMIN_TOKENS_KEY, JSON.stringify(next), { ifModRevision: kv?.modRevision ?? 0 });
        this.apply(JSON.stringify(next));
        return;
      } catch (err) {
        if (!(err instanceof KeeperError && err.code === 'compare-failed')) throw err;
      }
    }
  }

  /** Makes a token (scoped when `scope` is given, which the caller checked with scopeProblem); the answer is the only place it ever appears. */
  async create(label: string, scope?: KeeperScope): Promise<AdminTokenInfo & { token: string }> {
    const token = randomBytes(24).toString('base64url');
    const s: Stored = { id: randomBytes(6).toString('hex'), label, createdAt: this.now(), sha256: tokenDigest(token), ...(scope === undefined ? {} : { scope }) };
    await this.update((list) => {
      if (list.length >= ADMIN_TOKENS_MAX) throw new AdminTokenError('full', `at most ${ADMIN_TOKENS_MAX} admin tokens; revoke one first`);
      return [...list, s];
    });
    const { sha256: _digest, ...info } = s;
    return { ...info, token };
  }

  async revoke(id: string): Promise<void> {
    await this.update((list) => {
      if (!list.some((s) => s.id === id)) throw new AdminTokenError('unknown', `no admin token ${id}`);
      if (!list.some((s) => s.id !== id && s.scope === undefined)) throw new AdminTokenError('last', 'the last unscoped admin token cannot be revoked: create another first');
      return list.filter((s) => s.id !== id);
    });
  }

  close(): void {
    this.watcher?.cancel();
  }
}
