// Operations: health, readiness, metrics. The cluster view is in routes-cluster.ts.
import type { FastifyInstance } from 'fastify';
import type { CenterDeps } from './deps.js';

export function opsRoutes(deps: CenterDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/healthz', { schema: { tags: ['ops'], summary: 'Process up', security: [] } }, async () => ({ ok: true, node: deps.nodeId }));

    app.get('/readyz', { schema: { tags: ['ops'], summary: 'Member of a cluster with a leader, caught up with it', security: [] } }, async (_req, reply) => {
      const ready = deps.keeper.ready();
      const c = deps.keeper.cluster();
      return reply.code(ready ? 200 : 503).send({ ready, leader: c.leader, node: deps.nodeId });
    });

    app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics (text format)', security: [] } }, async (_req, reply) => {
      const text = await deps.metrics.registry.metrics();
      return reply.header('content-type', deps.metrics.registry.contentType).send(text);
    });
  };
}
