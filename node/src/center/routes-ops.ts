// Operations: health, readiness, metrics, cluster view.
import type { FastifyInstance } from 'fastify';
import { requireAdmin } from './auth.js';
import type { CenterDeps } from './deps.js';

export function opsRoutes(deps: CenterDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/healthz', { schema: { tags: ['ops'], summary: 'Process up' } }, async () => ({ ok: true, node: deps.nodeId }));

    app.get('/readyz', { schema: { tags: ['ops'], summary: 'Member of a cluster with a leader' } }, async (_req, reply) => {
      const ready = deps.keeper.ready();
      const c = deps.keeper.cluster();
      return reply.code(ready ? 200 : 503).send({ ready, leader: c.leader, node: deps.nodeId });
    });

    app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics (text format)' } }, async (_req, reply) => {
      const text = await deps.metrics.registry.metrics();
      return reply.header('content-type', deps.metrics.registry.contentType).send(text);
    });

    app.get('/v1/cluster', { schema: { tags: ['cluster'], summary: 'Leader, term and members (admin)' } }, async (req) => {
      requireAdmin(req, deps.adminToken);
      const c = deps.keeper.cluster();
      return { leader: c.leader, term: c.term, members: c.members.map((m) => ({ ...m, healthy: true })) };
    });
  };
}
