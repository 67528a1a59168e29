// Admin token rotation without restart (admin): list, create (unscoped, or
// scoped to keeper keys: keeper-scope.ts), revoke. Tokens live in the keeper
// as digests (admin-tokens.ts); a new token is shown once, in the answer that
// creates it.
import type { FastifyInstance } from 'fastify';
import { AdminTokenError } from '../admin-tokens.js';
import type { CenterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { SCOPE_PREFIXES_MAX, scopeProblem } from '../keeper-scope.js';

export function adminTokenRoutes(deps: CenterDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/v1/admin/tokens', { schema: { tags: ['cluster'], summary: 'Admin tokens: id, label, creation time and scope, never the token (admin)' } }, async (req) => {
      deps.auth.admin(req);
      return { tokens: deps.adminTokens.list() };
    });

    const prefixes = { type: 'array', maxItems: SCOPE_PREFIXES_MAX, items: { type: 'string', minLength: 1, maxLength: 1024 } } as const;
    app.post<{ Body: { label?: string; scope?: { read?: string[]; write?: string[] } } | undefined }>(
      '/v1/admin/tokens',
      {
        schema: {
          tags: ['cluster'],
          summary: 'Create an admin token, or with `scope` one limited to keeper keys, valid on every node at once; the answer is the only time it is shown (admin)',
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: {
              label: { type: 'string', maxLength: 128 },
              scope: { type: 'object', additionalProperties: false, properties: { read: prefixes, write: prefixes } },
            },
          },
        },
      },
      async (req, reply) => {
        deps.auth.admin(req);
        const asked = req.body?.scope;
        const scope = asked === undefined ? undefined : { read: asked.read ?? [], write: asked.write ?? [] };
        const problem = scope === undefined ? undefined : scopeProblem(scope);
        if (problem !== undefined) throw new ApiError('invalid', problem);
        try {
          const t = await deps.adminTokens.create(req.body?.label ?? '', scope);
          deps.log.info({ id: t.id, label: t.label, scope: t.scope }, t.scope === undefined ? 'admin token created' : 'scoped token created');
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
          summary: 'Revoke an admin token on every node; 409 for the last unscoped one (admin)',
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
