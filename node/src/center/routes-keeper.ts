// The keeper's key/value, watch and lease routes (admin), following etcd v3.
import type { FastifyInstance } from 'fastify';
import type { WatchMessage } from '../../../keeper/src/keeper.js';
import type { CenterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { SECRETS_PREFIX, reachesSecrets, shownValue } from '../keeper-secrets.js';

/** Progress notifications on an idle watch stream, at least this often (contract: every 5 s). */
export const WATCH_PROGRESS_MS = 5000;
const KEY_CHARS_MAX = 1024;
const VALUE_BYTES_MAX = 256 * 1024;
/**
 * Query values are strings and the API's ajv does not coerce types, so flags
 * and revisions are validated as strings here and converted in the handler.
 */
const queryFlag = { type: 'string', enum: ['true', 'false'] } as const;
const queryRevision = { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } as const;

function keyOf(raw: string | undefined): string {
  const key = '/' + (raw ?? '');
  if (key.length > KEY_CHARS_MAX) throw new ApiError('invalid', `key longer than ${KEY_CHARS_MAX} characters`);
  return key;
}

export function keeperRoutes(deps: CenterDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', async (req) => deps.auth.admin(req));

    const kvQuery = {
      type: 'object',
      properties: { prefix: queryFlag, consistency: { type: 'string', enum: ['linearizable', 'serializable'] } },
    } as const;

    app.get<{ Params: { '*': string }; Querystring: { prefix?: 'true' | 'false'; consistency?: 'linearizable' | 'serializable' } }>(
      '/v1/kv/*',
      { schema: { tags: ['kv'], summary: 'Read a key or a prefix (admin)', querystring: kvQuery } },
      async (req) => {
        const r = await deps.keeper.range(keyOf(req.params['*']), { prefix: req.query.prefix === 'true', consistency: req.query.consistency ?? 'linearizable' });
        return { revision: r.revision, kvs: r.kvs.map((kv) => ({ ...kv, value: shownValue(kv.key, kv.value) })) };
      },
    );

    app.put<{ Params: { '*': string }; Body: { value: string; lease?: string; ifModRevision?: number } }>(
      '/v1/kv/*',
      {
        schema: {
          tags: ['kv'],
          summary: 'Put a key, optionally with a lease or a compare on modRevision (admin)',
          body: {
            type: 'object',
            required: ['value'],
            additionalProperties: false,
            properties: { value: { type: 'string', maxLength: VALUE_BYTES_MAX }, lease: { type: 'string', minLength: 1 }, ifModRevision: { type: 'integer', minimum: 0 } },
          },
        },
      },
      async (req) => {
        const b = req.body;
        const key = keyOf(req.params['*']);
        if (reachesSecrets(key, false)) throw new ApiError('forbidden', `${SECRETS_PREFIX} is longwire's own: use the admin token routes`);
        return deps.keeper.put(key, b.value, {
          ...(b.lease === undefined ? {} : { lease: b.lease }),
          ...(b.ifModRevision === undefined ? {} : { ifModRevision: b.ifModRevision }),
        });
      },
    );

    app.delete<{ Params: { '*': string }; Querystring: { prefix?: 'true' | 'false' } }>(
      '/v1/kv/*',
      { schema: { tags: ['kv'], summary: 'Delete a key or a prefix (admin)', querystring: { type: 'object', properties: { prefix: queryFlag } } } },
      async (req) => {
        const key = keyOf(req.params['*']);
        const prefix = req.query.prefix === 'true';
        if (reachesSecrets(key, prefix)) throw new ApiError('forbidden', `the range reaches ${SECRETS_PREFIX}, which is longwire's own`);
        return deps.keeper.delete(key, { prefix });
      },
    );

    /** Ends every open watch stream; run when the API closes, which would otherwise wait on them forever. */
    const openStreams = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const end of [...openStreams]) end();
    });

    app.get<{ Querystring: { key: string; prefix?: 'true' | 'false'; fromRevision?: string } }>(
      '/v1/watch',
      {
        schema: {
          tags: ['kv'],
          summary: 'Watch a key or prefix: newline-delimited JSON events (admin)',
          querystring: {
            type: 'object',
            required: ['key'],
            properties: { key: { type: 'string', minLength: 1, maxLength: KEY_CHARS_MAX }, prefix: queryFlag, fromRevision: queryRevision },
          },
        },
      },
      (req, reply) => {
        const q = req.query;
        const fromRevision = q.fromRevision === undefined ? undefined : Number(q.fromRevision);
        let started = false;
        let lastRevision = 0;
        const raw = reply.raw;
        const start = (): void => {
          if (started) return;
          started = true;
          reply.hijack();
          raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
        };
        /** False when the socket buffer is full: the watch pauses until 'drain' (a slow reader is then cut off by the hub). */
        const line = (o: unknown): boolean => {
          start();
          return raw.write(JSON.stringify(o) + '\n');
        };
        const onMsg = (m: WatchMessage): boolean | void => {
          switch (m.kind) {
            case 'events': {
              let more = true;
              for (const e of m.events) {
                lastRevision = e.revision;
                more = line(e.type === 'put' ? { revision: e.revision, type: 'put', key: e.key, value: shownValue(e.key, e.value) } : { revision: e.revision, type: 'delete', key: e.key });
              }
              if (!more) raw.once('drain', () => watcher.resume());
              return more;
            }
            case 'progress':
              line({ progress: m.revision });
              return;
            case 'compacted':
              if (!started) {
                started = true;
                void reply.code(410).send({ error: { code: 'compacted', message: `revision ${fromRevision ?? 0} is compacted`, compactRevision: m.compactRevision } });
                watcher.cancel();
                clearInterval(timer);
                return;
              }
              line({ error: { code: 'compacted', compactRevision: m.compactRevision } });
              raw.end();
              return;
            case 'cancelled':
              line({ error: { code: m.reason === 'slow' ? 'watch-slow' : 'watch-closed', lastRevision: m.lastRevision || lastRevision } });
              raw.end();
              return;
          }
        };
        const watcher = deps.keeper.watch(
          // Keys live under "/" (keyOf): key=a/b watches what /v1/kv/a/b writes, as key=/a/b does.
          { key: q.key.startsWith('/') ? q.key : '/' + q.key, prefix: q.prefix === 'true', ...(fromRevision === undefined ? {} : { fromRevision }) },
          onMsg,
        );
        // Send headers now so the client knows the watch is established.
        setImmediate(() => {
          if (!started) start();
          raw.flushHeaders();
        });
        const timer = setInterval(() => watcher.requestProgress(), WATCH_PROGRESS_MS);
        const endStream = (): void => {
          openStreams.delete(endStream);
          clearInterval(timer);
          watcher.cancel();
          if (raw.writableEnded) return;
          line({ error: { code: 'watch-closed', lastRevision } });
          raw.end();
        };
        openStreams.add(endStream);
        req.raw.on('close', () => {
          openStreams.delete(endStream);
          clearInterval(timer);
          watcher.cancel();
        });
      },
    );

    app.post<{ Body: { ttl: number } }>(
      '/v1/leases',
      { schema: { tags: ['leases'], summary: 'Grant a lease (admin)', body: { type: 'object', required: ['ttl'], additionalProperties: false, properties: { ttl: { type: 'integer', minimum: 1, maximum: 86400 } } } } },
      async (req) => deps.keeper.leaseGrant(req.body.ttl),
    );
    app.post<{ Params: { id: string } }>('/v1/leases/:id/keepalive', { schema: { tags: ['leases'], summary: 'Renew a lease (admin)' } }, async (req) => {
      const l = await deps.keeper.leaseKeepAlive(req.params.id);
      return { ttl: l.ttl };
    });
    app.delete<{ Params: { id: string } }>('/v1/leases/:id', { schema: { tags: ['leases'], summary: 'Revoke a lease and delete its keys (admin)' } }, async (req) => {
      await deps.keeper.leaseRevoke(req.params.id);
      return { revoked: true };
    });
  };
}
