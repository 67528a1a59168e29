// Bearer-token checks for the API: admin routes take the admin token, service
// routes the app's apiKey (or the admin token). Compared in constant time.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import type { AppConfig, AppRegistry } from '../apps.js';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined || !h.startsWith('Bearer ')) return undefined;
  return h.slice(7).trim();
}

export function requireAdmin(req: FastifyRequest, adminToken: string): void {
  const t = bearer(req);
  if (t === undefined) throw new ApiError('unauthorized', 'missing Authorization: Bearer <admin token>');
  if (!sameSecret(t, adminToken)) throw new ApiError('unauthorized', 'bad admin token');
}

/** Resolves the app of a service route and checks its apiKey. */
export function requireApp(req: FastifyRequest, apps: AppRegistry, app: string, adminToken: string): AppConfig {
  const t = bearer(req);
  if (t === undefined) throw new ApiError('unauthorized', 'missing Authorization: Bearer <app apiKey>');
  const config = apps.get(app);
  if (config === undefined) {
    // Do not reveal which apps exist to a caller without the admin token.
    if (sameSecret(t, adminToken)) throw new ApiError('appNotFound', `no app ${app}`);
    throw new ApiError('unauthorized', 'bad apiKey');
  }
  if (!sameSecret(t, config.apiKey) && !sameSecret(t, adminToken)) throw new ApiError('unauthorized', 'bad apiKey');
  return config;
}
