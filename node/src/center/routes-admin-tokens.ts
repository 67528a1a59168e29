// Admin token rotation without restart (admin): list, create, revoke. Tokens
// live in the keeper as digests (admin-tokens.ts); a new token is shown once,
// in the answer that creates it.
import type { FastifyInstance } from 'fastify';
import { AdminTokenError } from '../admin-tokens.js';
import type { CenterDeps } from './deps.js';
import { ApiError } from './errors.js';

export function adminTokenRoutes(deps: CenterDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/v1/admin/tokens', { schema: { tags: ['cluster'], summary: 'Admin tokens: id, label and creation time, never the token (admin)' } }, async (req) => {
      deps.auth.admin(req);
      return { tokens: deps.adminTokens.list() };
    });

    app.post<{ Body: { label?: string } | undefined }>(
      '/v1/admin/tokens',
      {
        schema: {
          tags: ['cluster'],
          summary: 'Create an admin token, valid on every node at once; the answer is the only time it is shown (admin)',
          body: { type: ['object', 'null'], additionalProperties: false, properties: { label: { type: 'string', maxLength: 128 } } },
        },
      },
      async (req, reply) => {
        deps.auth.admin(req);
        try {
          const t = await deps.adminTokens.create(req.body?.label ?? '');
          deps.log.info({ id: t.id, label: t.label }, 'admin token created');
          return await reply.code(201).send(t);
        } catch (err) {
          if (err instanceof AdminTokenError) throw new ApiError('conflict', err.message);
          throw err;
        }
      },
    );

    app.delete<{ Params: { id: string } }>(
      '/v1/admin/tokens/:id',
      {
        schema: {
          tags: ['cluster'],
          summary: 'Revoke an admin token on every node; 409 for the last one (admin)',
          params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } },
        },
      },
      async (req) => {
        deps.auth.admin(req);
        try {
          await deps.adminTokens.revoke(req.params.id);
        } catch (err) {
          if (err instanceof AdminTokenError) throw new ApiError(err.code === 'unknown' ? 'notFound' : 'conflict', err.message);
          throw err;
        }
        deps.log.info({ id: req.params.id }, 'admin token revoked');
        return { revoked: req.params.id };
      },
    );
  };
}
