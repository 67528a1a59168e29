// Admin views for operators: node counters as JSON (GET /v1/stats), recent
// broadcast jobs of every app (GET /v1/broadcasts), and the admin page (GET
// /ui) that reads them. The page itself is public; its data routes take the
// admin token the operator pastes into it.
import type { FastifyInstance } from 'fastify';
import type { Counter, Histogram } from 'prom-client';
import type { CenterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { ADMIN_PAGE_HTML } from './admin-page.js';

const ADMIN_PAGE_CSP = "default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** How long GET /v1/stats?node= waits for another member's answer. */
const MEMBER_STATS_TIMEOUT_MS = 2000;

/** Broadcast jobs listed at most (the node remembers broadcastJobsMax). */
const BROADCASTS_LISTED_MAX = 100;

async function sumOf(m: Counter): Promise<number> {
  return (await m.get()).values.reduce((s, v) => s + v.value, 0);
}

async function byLabel(m: Counter, label: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await m.get()).values) {
    const k = String(v.labels[label] ?? '');
    out[k] = (out[k] ?? 0) + v.value;
  }
  return out;
}

/** Observations of a histogram (its _count series), by one label. */
async function countsBy(m: Histogram, label: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await m.get()).values) {
    if (v.metricName?.endsWith('_count') !== true) continue;
    const k = String(v.labels[label] ?? '');
    out[k] = (out[k] ?? 0) + v.value;
  }
  return out;
}

async function countOf(m: Histogram): Promise<number> {
  let n = 0;
  for (const v of (await m.get()).values) if (v.metricName?.endsWith('_count') === true) n += v.value;
  return n;
}

export function adminRoutes(deps: CenterDeps) {
  const startedAt = deps.now();
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: { node?: string } }>(
      '/v1/stats',
      {
        schema: {
          tags: ['ops'],
          summary: "A node's connections and counters since its start (admin); ?node=<member id> asks that member",
          querystring: { type: 'object', additionalProperties: false, properties: { node: { type: 'string', minLength: 1, maxLength: 64 } } },
        },
      },
      async (req, reply) => {
        deps.auth.admin(req);
        const other = req.query.node;
        if (other !== undefined && other !== deps.nodeId) {
          // The admin page is served by one node; it reads the others' counters through it (signed as this node: no admin token travels between nodes).
          const member = deps.keeper.cluster().members.find((x) => x.id === other);
          if (member === undefined) throw new ApiError('notFound', `no member ${other}`);
          let res: { status: number; text: string };
          try {
            res = await deps.peerHttp.call(member.api, 'GET', '/v1/stats', undefined, MEMBER_STATS_TIMEOUT_MS);
          } catch (err) {
            throw new ApiError('notReady', `member ${other} at ${member.api} did not answer: ${err instanceof Error ? err.message : String(err)}`);
          }
          return reply.code(res.status).header('content-type', 'application/json; charset=utf-8').send(res.text);
        }
        const m = deps.metrics;
        const lag = m.registry.getSingleMetric('longwire_process_nodejs_eventloop_lag_p99_seconds');
        const lagValue = lag === undefined ? undefined : (await lag.get()).values[0]?.value;
        return {
          node: deps.nodeId,
          at: new Date(deps.now()).toISOString(),
          uptimeSeconds: Math.round((deps.now() - startedAt) / 1000),
          connections: deps.hub.clients.size,
          byApp: Object.fromEntries(deps.hub.connectionsByApp()),
          connects: await sumOf(m.connects),
          disconnects: await sumOf(m.disconnects),
          framesIn: await sumOf(m.framesIn),
          framesOut: await sumOf(m.framesOut),
          pushes: { requests: await byLabel(m.pushRequests, 'qos'), messages: await byLabel(m.pushMessages, 'qos') },
          deliveries: { qos1: await countsBy(m.deliveryLatency, 'path'), broadcast: await sumOf(m.broadcastDelivered), acks: await countOf(m.ackLatency) },
          gaps: await byLabel(m.gaps, 'reason'),
          rateLimited: await byLabel(m.rateLimited, 'kind'),
          webhooks: await byLabel(m.webhookCalls, 'outcome'),
          broadcasts: { running: deps.broadcasts.running() },
          keeper: deps.keeper.space,
          ...(lagValue === undefined ? {} : { eventLoopLagP99Seconds: lagValue }),
        };
      },
    );

    app.get<{ Querystring: { app?: string } }>(
      '/v1/broadcasts',
      {
        schema: {
          tags: ['push'],
          summary: 'Recent broadcast jobs on this node, newest first (admin)',
          querystring: { type: 'object', additionalProperties: false, properties: { app: { type: 'string', minLength: 1, maxLength: 64 } } },
        },
      },
      async (req) => {
        deps.auth.admin(req);
        const only = req.query.app;
        const jobs = deps.broadcasts
          .list()
          .filter((j) => only === undefined || j.app === only)
          .slice(0, BROADCASTS_LISTED_MAX)
          .map((j) => ({
            job: j.job,
            app: j.app,
            state: j.state,
            delivered: j.delivered,
            targets: j.targets,
            startedAt: new Date(j.startedAt).toISOString(),
            ...(j.finishedAt === undefined ? {} : { finishedAt: new Date(j.finishedAt).toISOString() }),
          }));
        return { node: deps.nodeId, jobs };
      },
    );

    app.get('/ui', { schema: { tags: ['ops'], summary: 'Admin page (HTML; asks for the admin token)', security: [] } }, async (_req, reply) =>
      reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        // The page pastes a token: it talks only to this origin and may not be framed.
        .header('content-security-policy', ADMIN_PAGE_CSP)
        .header('x-frame-options', 'DENY')
        .send(ADMIN_PAGE_HTML),
    );
  };
}
