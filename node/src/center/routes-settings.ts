// Admin routes for node settings held in the keeper (/sys/settings/node):
// validated here, applied live by every node's watch.
import type { FastifyInstance } from 'fastify';
import { mergeSettings, NODE_SETTINGS_KEY, SettingsError } from '../node-settings.js';
import { DEFAULT_GATEWAY_SETTINGS } from '../settings.js';
import type { CenterDeps } from './deps.js';
import { ApiError } from './errors.js';

export function settingsRoutes(deps: CenterDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', async (req) => deps.auth.admin(req));

    app.get('/v1/settings/node', { schema: { tags: ['settings'], summary: 'Node settings: overrides and defaults (admin)' } }, async () => {
      const r = await deps.keeper.range(NODE_SETTINGS_KEY);
      const kv = r.kvs[0];
      const overrides = kv === undefined ? {} : (JSON.parse(kv.value) as Record<string, unknown>);
      return { overrides, defaults: DEFAULT_GATEWAY_SETTINGS, revision: kv?.modRevision ?? 0 };
    });

    app.put<{ Body: Record<string, unknown> }>('/v1/settings/node', { schema: { tags: ['settings'], summary: 'Replace the node setting overrides; applied live (admin)', body: { type: 'object' } } }, async (req) => {
      try {
        mergeSettings(DEFAULT_GATEWAY_SETTINGS, req.body);
      } catch (err) {
        if (err instanceof SettingsError) throw new ApiError('invalid', err.message);
        throw err;
      }
      return deps.keeper.put(NODE_SETTINGS_KEY, JSON.stringify(req.body));
    });
  };
}
