// Admin routes for apps: PUT stores the config in the keeper (every node
// applies it through its watch), GET returns it with secrets redacted.
import type { FastifyInstance } from 'fastify';
import { DEFAULT_LIMITS, redact, type AppConfig } from '../apps.js';
import type { CenterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { appParam } from './schemas.js';
import { IpPolicy, IpPolicyError } from '../ip-policy.js';

const cidrList = { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 64 } } as const;
const url = { type: 'string', minLength: 1, maxLength: 2048, pattern: '^https?://' } as const;

const putBody = {
  type: 'object',
  required: ['apiKey', 'tokenSecret'],
  additionalProperties: false,
  properties: {
    apiKey: { type: 'string', minLength: 16, maxLength: 256 },
    tokenSecret: { type: 'string', minLength: 16, maxLength: 256 },
    webhook: url,
    statusCallback: url,
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        pushPerSecond: { type: 'integer', minimum: 0 },
        upstreamPerSecond: { type: 'integer', minimum: 0 },
        maxInbox: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        defaultTtl: { type: 'integer', minimum: 1 },
        maxRedeliveries: { type: 'integer', minimum: 1, maximum: 1000 },
      },
    },
    ipAllow: cidrList,
    ipDeny: cidrList,
  },
} as const;

interface PutBody {
  apiKey: string;
  tokenSecret: string;
  webhook?: string;
  statusCallback?: string;
  limits?: Partial<AppConfig['limits']>;
  ipAllow?: string[];
  ipDeny?: string[];
}

export function appRoutes(deps: CenterDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', async (req) => deps.auth.admin(req));

    app.put<{ Params: { app: string }; Body: PutBody }>('/v1/apps/:app', { schema: { tags: ['apps'], summary: 'Create or replace an app (admin)', params: appParam, body: putBody } }, async (req) => {
      const b = req.body;
      try {
        new IpPolicy(b.ipAllow, b.ipDeny);
      } catch (err) {
        if (err instanceof IpPolicyError) throw new ApiError('invalid', `body/ipAllow or body/ipDeny: ${err.message}`);
        throw err;
      }
      const config: AppConfig = {
        app: req.params.app,
        apiKey: b.apiKey,
        tokenSecret: b.tokenSecret,
        ...(b.webhook === undefined ? {} : { webhook: b.webhook }),
        ...(b.statusCallback === undefined ? {} : { statusCallback: b.statusCallback }),
        limits: { ...DEFAULT_LIMITS, ...b.limits },
        ...(b.ipAllow === undefined ? {} : { ipAllow: b.ipAllow }),
        ...(b.ipDeny === undefined ? {} : { ipDeny: b.ipDeny }),
      };
      await deps.apps.put(config);
      return redact(config);
    });

    app.get<{ Params: { app: string } }>('/v1/apps/:app', { schema: { tags: ['apps'], summary: 'An app, secrets redacted (admin)', params: appParam } }, async (req) => {
      const c = deps.apps.get(req.params.app);
      if (c === undefined) throw new ApiError('appNotFound', `no app ${req.params.app}`);
      return redact(c);
    });

    app.get('/v1/apps', { schema: { tags: ['apps'], summary: 'All apps, secrets redacted (admin)' } }, async () => ({ apps: deps.apps.list().map(redact) }));

    app.delete<{ Params: { app: string } }>('/v1/apps/:app', { schema: { tags: ['apps'], summary: 'Delete an app (admin)', params: appParam } }, async (req) => {
      if (!(await deps.apps.delete(req.params.app))) throw new ApiError('appNotFound', `no app ${req.params.app}`);
      return { deleted: true };
    });
  };
}
