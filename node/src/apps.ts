// App configs live in the keeper under /sys/apps/<app>. Every node keeps a
// local copy fed by a watch, so a change applies on all nodes without restart,
// and token checks never wait on the keeper.
import type { Keeper, Watcher, WatchMessage } from '../../keeper/src/keeper.js';
import { jwtVerify, errors as joseErrors } from 'jose';
import { IpPolicy } from './ip-policy.js';

export const APPS_PREFIX = '/sys/apps/';

export interface AppLimits {
  /** Push API requests per second (token bucket); 0 = unlimited. */
  readonly pushPerSecond: number;
  readonly upstreamPerSecond: number;
  /** Messages kept per user inbox; older ones are dropped with gap 'overflow'. */
  readonly maxInbox: number;
  /** Seconds a message is kept when the push gives no ttl. */
  readonly defaultTtl: number;
  /** Sends of one message to one device without an ack before it is skipped with gap 'redelivery-limit'. */
  readonly maxRedeliveries: number;
}

export const DEFAULT_LIMITS: AppLimits = {
  pushPerSecond: 0,
  upstreamPerSecond: 50,
  maxInbox: 1000,
  defaultTtl: 7 * 24 * 3600,
  maxRedeliveries: 10,
};

export interface AppConfig {
  readonly app: string;
  readonly apiKey: string;
  readonly tokenSecret: string;
  readonly webhook?: string;
  readonly statusCallback?: string;
  readonly limits: AppLimits;
  readonly ipAllow?: readonly string[];
  readonly ipDeny?: readonly string[];
}

/** What GET returns: secrets are never echoed back. */
export function redact(c: AppConfig): Record<string, unknown> {
  return { ...c, apiKey: '<redacted>', tokenSecret: '<redacted>' };
}

export type TokenCheck =
  | { readonly ok: true; readonly user: string; readonly exp: number }
  | { readonly ok: false; readonly reason: string };

/** A stored config, or undefined when the value is not one: not JSON, not an object, or without both secrets. */
function parseConfig(app: string, value: string): AppConfig | undefined {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.apiKey !== 'string' || o.apiKey.length === 0 || typeof o.tokenSecret !== 'string' || o.tokenSecret.length === 0) return undefined;
  const limits = typeof o.limits === 'object' && o.limits !== null ? o.limits : {};
  // Checked above: the secrets are strings; limits missing from the value take the defaults.
  return { ...(o as unknown as AppConfig), app, limits: { ...DEFAULT_LIMITS, ...limits } };
}

/**
 * The HS256 verification key of an app, imported once per config: given the
 * secret's bytes, jose imports a WebCrypto key on every verification (a job
 * on the thread pool and native allocations for each bind).
 */
function tokenKey(secret: string): Promise<CryptoKey> {
  const key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  // Awaited by verifyToken; a failure surfaces there, not as an unhandled rejection.
  key.catch(() => undefined);
  return key;
}

export class AppRegistry {
  private readonly apps = new Map<string, { config: AppConfig; key: Promise<CryptoKey>; policy: IpPolicy }>();
  private watcher: Watcher | undefined;
  private revision = 0;
  private readonly listeners = new Set<(app: string, config: AppConfig | undefined) => void>();

  constructor(private readonly keeper: Keeper) {}

  async start(): Promise<void> {
    const r = await this.keeper.range(APPS_PREFIX, { prefix: true });
    for (const kv of r.kvs) this.set(kv.key.slice(APPS_PREFIX.length), kv.value);
    this.revision = r.revision;
    this.watch();
  }

  private watch(): void {
    this.watcher = this.keeper.watch({ key: APPS_PREFIX, prefix: true, fromRevision: this.revision + 1 }, (m) => this.onWatch(m));
  }

  private onWatch(m: WatchMessage): void {
    switch (m.kind) {
      case 'events':
        for (const e of m.events) {
          const app = e.key.slice(APPS_PREFIX.length);
          if (e.type === 'put') this.set(app, e.value);
          else this.apps.delete(app);
          this.revision = e.revision;
          for (const l of this.listeners) l(app, this.apps.get(app)?.config);
        }
        return;
      case 'progress':
        return;
      case 'compacted':
      case 'cancelled':
        // Resume by re-reading everything: configs are small.
        if (m.kind === 'cancelled' && m.reason === 'closed') return;
        this.watcher?.cancel();
        void this.start();
        return;
    }
  }

  private set(app: string, value: string): void {
    const config = parseConfig(app, value);
    if (config === undefined) {
      // Not a config (written behind the API's back through /v1/kv): the app is unknown rather than the node down.
      this.apps.delete(app);
      return;
    }
    // Lists were validated when the app was PUT; a bad one written behind the API's back denies everyone.
    let policy: IpPolicy;
    try {
      policy = new IpPolicy(config.ipAllow, config.ipDeny);
    } catch {
      policy = new IpPolicy(undefined, ['0.0.0.0/0', '::/0']);
    }
    this.apps.set(app, { config, key: tokenKey(config.tokenSecret), policy });
  }

  onChange(l: (app: string, config: AppConfig | undefined) => void): void {
    this.listeners.add(l);
  }

  get(app: string): AppConfig | undefined {
    return this.apps.get(app)?.config;
  }

  /** The app's own allow/deny lists for a client address. */
  permits(app: string, ip: string): boolean {
    return this.apps.get(app)?.policy.permits(ip) ?? true;
  }

  list(): AppConfig[] {
    return [...this.apps.values()].map((a) => a.config);
  }

  async put(config: AppConfig): Promise<void> {
    const value = JSON.stringify(config);
    await this.keeper.put(APPS_PREFIX + config.app, value);
    // Applied here at once so this node's next request sees it; other nodes apply it from their watch.
    this.set(config.app, value);
  }

  async delete(app: string): Promise<boolean> {
    const r = await this.keeper.delete(APPS_PREFIX + app);
    this.apps.delete(app);
    return r.deleted > 0;
  }

  /** Verifies an HS256 JWT for `app`: claims sub, app (must match) and exp are required. */
  async verifyToken(app: string, token: string): Promise<TokenCheck> {
    const a = this.apps.get(app);
    if (a === undefined) return { ok: false, reason: `unknown app ${app}` };
    try {
      const { payload } = await jwtVerify(token, await a.key, { algorithms: ['HS256'], requiredClaims: ['sub', 'exp'] });
      if (payload.app !== app) return { ok: false, reason: 'token is for another app' };
      if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256) {
        return { ok: false, reason: 'token "sub" must be a user id' };
      }
      return { ok: true, user: payload.sub, exp: payload.exp ?? 0 };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return { ok: false, reason: 'token expired' };
      if (err instanceof joseErrors.JOSEError) return { ok: false, reason: `bad token: ${err.code}` };
      throw err;
    }
  }

  close(): void {
    this.watcher?.cancel();
  }
}
