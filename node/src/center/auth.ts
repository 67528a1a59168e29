// Who may call a route. Admin routes take an admin token (the keeper-held
// list, admin-tokens.ts) or a call signed by a member (peer-auth.ts: a call
// another node forwards or makes for the cluster); the keeper's routes also
// take a scoped token, within its scope (keeper-scope.ts); service routes take
// the app's apiKey or an admin token; the peer link takes only a member's
// signature.
// Refused peer signatures are counted: an outsider probing the node shows up
// in metrics.
import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import type { AdminTokenInfo } from '../admin-tokens.js';
import type { AppConfig, AppRegistry } from '../apps.js';
import type { KeeperScope } from '../keeper-scope.js';
import { PeerAuth } from '../peer/peer-auth.js';
import { rawBodyOf } from './raw-body.js';

// One-shot hash(): no Hash object per call (createHash cost more than the digest itself here).
function digest(s: string): Buffer {
  return hash('sha256', s, 'buffer');
}

/**
 * The apiKey digest of each app config, made once: every service request
 * compares against it. Configs are replaced, never changed, when an app is
 * updated, so a cached digest cannot go stale; old configs drop out with GC.
 */
const apiKeyDigests = new WeakMap<AppConfig, Buffer>();

function apiKeyDigest(config: AppConfig): Buffer {
  let d = apiKeyDigests.get(config);
  if (d === undefined) apiKeyDigests.set(config, (d = digest(config.apiKey)));
  return d;
}

/** Compares digests, so neither the time taken nor the lengths reveal anything about the secret. */
function matchesApiKey(token: string, config: AppConfig): boolean {
  return timingSafeEqual(digest(token), apiKeyDigest(config));
}

function bearer(req: FastifyRequest): string | undefined {
  return bearerOf(req.headers.authorization);
}

function bearerOf(h: string | undefined): string | undefined {
  if (h === undefined || !h.startsWith('Bearer ')) return undefined;
  return h.slice(7).trim();
}

export class Auth {
  constructor(
    private readonly admins: { lookup(token: string): AdminTokenInfo | undefined },
    readonly peers: PeerAuth,
    private readonly onPeerRefused: (reason: string) => void,
  ) {}

  /** A member's signature on this request; throws 401 if it is missing or does not verify. */
  peer(req: FastifyRequest): string {
    return this.peerSigned(req.headers, req.method, req.url, rawBodyOf(req));
  }

  /** The same check on a request outside Fastify (the peer link's upgrade, link-server.ts). */
  peerSigned(headers: IncomingHttpHeaders, method: string, url: string, body: Uint8Array | string): string {
    const c = this.peers.verify(headers, method, url, body);
    if (!c.ok) {
      this.onPeerRefused(c.reason);
      throw new ApiError('unauthorized', `peer call refused: ${c.reason}`);
    }
    return c.peer;
  }

  /** An unscoped admin token or a member's signature; a scoped token is a 403 here. */
  admin(req: FastifyRequest): void {
    const scope = this.keeper(req);
    if (scope !== undefined) throw new ApiError('forbidden', 'this token is scoped to keeper keys: this route takes an unscoped admin token');
  }

  /**
   * The keeper routes: what `admin` takes, or a scoped token, whose scope is
   * returned for the route to check each key against (undefined: no bound).
   */
  keeper(req: FastifyRequest): KeeperScope | undefined {
    if (PeerAuth.claims(req.headers)) {
      this.peer(req);
      return undefined;
    }
    return this.keeperToken(req.headers.authorization);
  }

  /** An admin token, scoped or not, from an Authorization header (the keeper wire's upgrade and each of its messages). */
  keeperToken(authorization: string | undefined): KeeperScope | undefined {
    const t = bearerOf(authorization);
    if (t === undefined) throw new ApiError('unauthorized', 'missing Authorization: Bearer <admin token>');
    const info = this.admins.lookup(t);
    if (info === undefined) throw new ApiError('unauthorized', 'bad admin token');
    return info.scope;
  }

  private isAdmin(token: string): boolean {
    const info = this.admins.lookup(token);
    return info !== undefined && info.scope === undefined;
  }

  /** Resolves the app of a service route and checks its apiKey. */
  app(req: FastifyRequest, apps: AppRegistry, app: string): AppConfig {
    const t = bearer(req);
    if (t === undefined) throw new ApiError('unauthorized', 'missing Authorization: Bearer <app apiKey>');
    const config = apps.get(app);
    if (config === undefined) {
      // Do not reveal which apps exist to a caller without an admin token.
      if (this.isAdmin(t)) throw new ApiError('appNotFound', `no app ${app}`);
      throw new ApiError('unauthorized', 'bad apiKey');
    }
    if (!matchesApiKey(t, config) && !this.isAdmin(t)) throw new ApiError('unauthorized', 'bad apiKey');
    return config;
  }
}
