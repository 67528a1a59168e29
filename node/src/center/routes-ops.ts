// Operations: health, readiness, metrics, cluster view.
import type { FastifyInstance } from 'fastify';
import { requireAdmin } from './auth.js';
import type { CenterDeps } from './deps.js';

export function opsRoutes(deps: CenterDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/healthz', async () => ({ ok: true, node: deps.nodeId }));

    app.get('/readyz', async (_req, reply) => {
      const ready = deps.keeper.ready();
      const c = deps.keeper.cluster();
      return reply.code(ready ? 200 : 503).send({ ready, leader: c.leader, node: deps.nodeId });
    });

    app.get('/metrics', async (_req, reply) => {
      const text = await deps.metrics.registry.metrics();
      return reply.header('content-type', deps.metrics.registry.contentType).send(text);
    });

    app.get('/v1/cluster', async (req) => {
      requireAdmin(req, deps.adminToken);
      const c = deps.keeper.cluster();
      return { leader: c.leader, term: c.term, members: c.members.map((m) => ({ ...m, healthy: true })) };
    });
  };
}
