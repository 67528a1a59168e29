// Service routes: push, broadcast, topics, user status, kick.
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../apps.js';
import type { Json } from '../saver/saver.js';
import { TokenBucket } from '../token-bucket.js';
import type { CenterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { appParam, identifier } from './schemas.js';

/**
 * Nesting of arrays and objects in `data`: deeper is refused with 400. The
 * encoders recurse (msgpackr overflows the stack near 1,500 levels, JSON near
 * 5,000), so a message accepted deeper than they can go could never be sent:
 * it would block its inbox for good.
 */
export const DATA_DEPTH_MAX = 100;

/** True when `data` nests deeper than `max`; iterative, so any depth is safe to check. */
function nestsDeeper(data: unknown, max: number): boolean {
  const stack: { v: unknown; depth: number }[] = [{ v: data, depth: 0 }];
  for (let e = stack.pop(); e !== undefined; e = stack.pop()) {
    if (typeof e.v !== 'object' || e.v === null) continue;
    if (e.depth >= max) return true;
    for (const c of Array.isArray(e.v) ? e.v : Object.values(e.v)) stack.push({ v: c, depth: e.depth + 1 });
  }
  return false;
}

const pushBody = {
  type: 'object',
  required: ['users', 'data'],
  additionalProperties: false,
  properties: {
    users: { type: 'array', minItems: 1, items: identifier },
    data: {},
    qos: { type: 'integer', enum: [0, 1] },
    ttl: { type: 'integer', minimum: 1 },
    id: identifier,
  },
} as const;

const broadcastBody = {
  type: 'object',
  required: ['data'],
  additionalProperties: false,
  properties: { data: {}, ttl: { type: 'integer', minimum: 1 }, rate: { type: 'integer', minimum: 1, maximum: 10_000_000 } },
} as const;

const dataOnly = { type: 'object', required: ['data'], additionalProperties: false, properties: { data: {} } } as const;

export function pushRoutes(deps: CenterDeps) {
  const buckets = new Map<string, { rate: number; bucket: TokenBucket }>();
  const s = deps.push;

  /** Per-app push rate (limits.pushPerSecond, 0 = unlimited): 429 with Retry-After past it. */
  function admit(app: AppConfig): void {
    const rate = app.limits.pushPerSecond;
    if (rate <= 0) return;
    const now = deps.now();
    let e = buckets.get(app.app);
    if (e === undefined) buckets.set(app.app, (e = { rate, bucket: new TokenBucket(rate, rate, now) }));
    if (e.rate !== rate) {
      e.bucket.configure(rate, rate);
      e.rate = rate;
    }
    if (!e.bucket.take(now)) {
      deps.metrics.rateLimited.labels('push').inc();
      const retry = Math.max(1, Math.ceil(e.bucket.waitMs(now) / 1000));
      throw new ApiError('rateLimited', `push rate for ${app.app} is ${rate}/s`, { headers: { 'retry-after': String(retry) } });
    }
  }

  function checkData(data: Json): void {
    if (nestsDeeper(data, DATA_DEPTH_MAX)) throw new ApiError('invalid', `data nests arrays and objects deeper than ${DATA_DEPTH_MAX} levels`);
    const bytes = Buffer.byteLength(JSON.stringify(data));
    if (bytes > s.dataBytesMax) throw new ApiError('tooLarge', `data is ${bytes} bytes; the limit is ${s.dataBytesMax}`);
  }

  function checkTtl(ttl: number | undefined): void {
    if (ttl !== undefined && ttl > s.ttlSecondsMax) throw new ApiError('invalid', `ttl must be at most ${s.ttlSecondsMax} seconds`);
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post<{ Params: { app: string }; Body: { users: string[]; data: Json; qos?: 0 | 1; ttl?: number; id?: string } }>(
      '/v1/apps/:app/push',
      { schema: { tags: ['push'], summary: 'Push to users (qos 1: stored durably before the answer)', params: appParam, body: pushBody } },
      async (req) => {
        const config = deps.auth.app(req, deps.apps, req.params.app);
        const b = req.body;
        if (b.users.length > s.usersPerPushMax) {
          throw new ApiError('tooManyUsers', `a push names at most ${s.usersPerPushMax} users; got ${b.users.length}`);
        }
        checkData(b.data);
        checkTtl(b.ttl);
        admit(config);
        const qos = b.qos ?? 1;
        const end = deps.metrics.pushDuration.startTimer();
        const answer = await deps.router.push(config, { users: b.users, data: b.data, qos, ttlSeconds: b.ttl, id: b.id });
        if (qos === 1) end();
        deps.metrics.pushRequestsByQos[qos].inc();
        deps.metrics.pushMessagesByQos[qos].inc(b.users.length);
        return answer;
      },
    );

    app.post<{ Params: { app: string }; Body: { data: Json; ttl?: number; rate?: number } }>(
      '/v1/apps/:app/broadcast',
      { schema: { tags: ['push'], summary: 'Start a broadcast job to every connection of the app', params: appParam, body: broadcastBody } },
      async (req, reply) => {
        const config = deps.auth.app(req, deps.apps, req.params.app);
        checkData(req.body.data);
        checkTtl(req.body.ttl);
        admit(config);
        const job = await deps.clusterBroadcasts.start(config.app, req.body.data, req.body.ttl ?? config.limits.defaultTtl, req.body.rate ?? s.broadcastRateDefault);
        return reply.code(202).send({ job });
      },
    );

    app.get<{ Params: { app: string; job: string } }>(
      '/v1/apps/:app/broadcasts/:job',
      { schema: { tags: ['push'], summary: 'Progress of a broadcast job', params: { type: 'object', required: ['app', 'job'], properties: { app: appParam.properties.app, job: identifier } } } },
      async (req) => {
        deps.auth.app(req, deps.apps, req.params.app);
        const j = await deps.clusterBroadcasts.get(req.params.app, req.params.job);
        if (j === undefined) throw new ApiError('notFound', `no broadcast job ${req.params.job}`);
        return {
          job: j.job,
          state: j.state,
          delivered: j.delivered,
          targets: j.targets,
          startedAt: new Date(j.startedAt).toISOString(),
          ...(j.finishedAt === undefined ? {} : { finishedAt: new Date(j.finishedAt).toISOString() }),
          ...(j.missing.length === 0 ? {} : { missing: j.missing }),
        };
      },
    );

    app.post<{ Params: { app: string; topic: string }; Body: { data: Json } }>(
      '/v1/apps/:app/topics/:topic',
      { schema: { tags: ['push'], summary: 'Publish to a topic', params: { type: 'object', required: ['app', 'topic'], properties: { app: appParam.properties.app, topic: identifier } }, body: dataOnly } },
      async (req) => {
        const config = deps.auth.app(req, deps.apps, req.params.app);
        checkData(req.body.data);
        admit(config);
        return { offset: await deps.topics.publish(config.app, req.params.topic, req.body.data) };
      },
    );

    const userParams = { type: 'object', required: ['app', 'user'], properties: { app: appParam.properties.app, user: identifier } } as const;

    app.get<{ Params: { app: string; user: string } }>('/v1/apps/:app/users/:user', { schema: { tags: ['users'], summary: 'Online status and sessions of a user', params: userParams } }, async (req) => {
      deps.auth.app(req, deps.apps, req.params.app);
      const sessions = deps.keeper.sessionsOf(req.params.app, req.params.user);
      return {
        user: req.params.user,
        online: sessions.length > 0,
        sessions: sessions.map((x) => ({ session: x.session, node: x.node, device: x.device, since: new Date(x.since).toISOString() })),
      };
    });

    app.post<{ Params: { app: string; user: string }; Body: { reason?: string; device?: string; session?: string } | undefined }>(
      '/v1/apps/:app/users/:user/kick',
      {
        schema: {
          tags: ['users'],
          summary: "Kick a user's connections (all, or one device or session)",
          params: userParams,
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: { reason: { type: 'string', maxLength: 256 }, device: identifier, session: identifier },
          },
        },
      },
      async (req) => {
        deps.auth.app(req, deps.apps, req.params.app);
        const b = req.body ?? {};
        const only = { ...(b.device === undefined ? {} : { device: b.device }), ...(b.session === undefined ? {} : { session: b.session }) };
        return { kicked: await deps.router.kick(req.params.app, req.params.user, b.reason ?? 'kicked by the service', only) };
      },
    );
  };
}
