// The keeper's key/value, watch and lease routes (admin), following etcd v3.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WatchMessage } from '../../../keeper/src/keeper.js';
import type { WireTxn } from '../../../keeper/src/keeper-wire.js';
import type { CenterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { shownValue } from '../keeper-secrets.js';
import type { Access, KeeperScope } from '../keeper-scope.js';
import { KEY_CHARS_MAX, KeeperOps, fullKey, leaseTtlSchema, need as needOf, putProperties, shownKvs, txnSchema } from './keeper-ops.js';

/** Progress notifications on an idle watch stream, at least this often (contract: every 5 s). */
export const WATCH_PROGRESS_MS = 5000;
/** Leases per page of GET /v1/leases when the request names no limit (at most 10,000). */
const LEASE_PAGE_DEFAULT = 1000;
/**
 * Query values are strings and the API's ajv does not coerce types, so flags
 * and revisions are validated as strings here and converted in the handler.
 */
const queryFlag = { type: 'string', enum: ['true', 'false'] } as const;
const queryConsistency = { type: 'string', enum: ['linearizable', 'serializable'] } as const;
const queryRevision = { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } as const;
/** A page's key count: 1 to 1,000,000. */
const queryLimit = { type: 'string', pattern: '^([1-9][0-9]{0,5}|1000000)$' } as const;

function keyOf(raw: string | undefined): string {
  const key = '/' + (raw ?? '');
  if (key.length > KEY_CHARS_MAX) throw new ApiError('invalid', `key longer than ${KEY_CHARS_MAX} characters`);
  return key;
}

export function keeperRoutes(deps: CenterDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // The scope of a scoped token, checked by each route against the keys it touches; no entry: any key.
    const scopes = new WeakMap<FastifyRequest, KeeperScope>();
    app.addHook('onRequest', async (req) => {
      const scope = deps.auth.keeper(req);
      if (scope !== undefined) scopes.set(req, scope);
    });
    /** Throws 403 unless the request's token may `access` `key` (every key under it, with `prefix`). */
    const need = (req: FastifyRequest, access: Access, key: string, prefix: boolean): void => needOf(scopes.get(req), access, key, prefix);
    const ops = new KeeperOps(deps.keeper);
    /** Routes that only an unscoped token may use (they show every lease, or every key). */
    const unscoped = (req: FastifyRequest): void => {
      if (scopes.has(req)) throw new ApiError('forbidden', 'this token is scoped to keeper keys: this route takes an unscoped admin token');
    };

    const kvQuery = {
      type: 'object',
      properties: {
        prefix: queryFlag,
        consistency: queryConsistency,
        after: { type: 'string', maxLength: KEY_CHARS_MAX },
        limit: queryLimit,
        keysOnly: queryFlag,
        countOnly: queryFlag,
        revision: queryRevision,
      },
    } as const;
    type KvQuery = {
      prefix?: 'true' | 'false';
      consistency?: 'linearizable' | 'serializable';
      after?: string;
      limit?: string;
      keysOnly?: 'true' | 'false';
      countOnly?: 'true' | 'false';
      revision?: string;
    };

    app.get<{ Params: { '*': string }; Querystring: KvQuery }>(
      '/v1/kv/*',
      { schema: { tags: ['kv'], summary: 'Read a key, or the keys under a prefix a page at a time, or count them, now or at a past revision (admin)', querystring: kvQuery } },
      async (req) => {
        const q = req.query;
        return ops.range(scopes.get(req), keyOf(req.params['*']), {
          prefix: q.prefix === 'true',
          consistency: q.consistency ?? 'linearizable',
          keysOnly: q.keysOnly === 'true',
          countOnly: q.countOnly === 'true',
          ...(q.after === undefined ? {} : { after: q.after }),
          ...(q.limit === undefined ? {} : { limit: Number(q.limit) }),
          ...(q.revision === undefined ? {} : { revision: Number(q.revision) }),
        });
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
            properties: putProperties,
          },
        },
      },
      async (req) => ops.put(scopes.get(req), keyOf(req.params['*']), req.body),
    );

    app.delete<{ Params: { '*': string }; Querystring: { prefix?: 'true' | 'false' } }>(
      '/v1/kv/*',
      { schema: { tags: ['kv'], summary: 'Delete a key or a prefix (admin)', querystring: { type: 'object', properties: { prefix: queryFlag } } } },
      async (req) => ops.delete(scopes.get(req), keyOf(req.params['*']), req.query.prefix === 'true'),
    );

    app.post<{ Body: WireTxn; Querystring: { consistency?: 'linearizable' | 'serializable' } }>(
      '/v1/txn',
      {
        schema: {
          tags: ['kv'],
          summary: 'If every compare holds, run the success operations, else the failure ones: atomically, at one revision (admin)',
          querystring: { type: 'object', properties: { consistency: queryConsistency } },
          body: txnSchema,
        },
      },
      async (req) => ops.txn(scopes.get(req), req.body, req.query.consistency ?? 'linearizable'),
    );

    /** Ends every open watch stream; run when the API closes, which would otherwise wait on them forever. */
    const openStreams = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const end of [...openStreams]) end();
    });

    app.get<{ Querystring: { key: string; prefix?: 'true' | 'false'; fromRevision?: string; prevKv?: 'true' | 'false' } }>(
      '/v1/watch',
      {
        schema: {
          tags: ['kv'],
          summary: 'Watch a key or prefix: newline-delimited JSON events, with prevKv on request (admin)',
          querystring: {
            type: 'object',
            required: ['key'],
            properties: { key: { type: 'string', minLength: 1, maxLength: KEY_CHARS_MAX }, prefix: queryFlag, fromRevision: queryRevision, prevKv: queryFlag },
          },
        },
      },
      (req, reply) => {
        need(req, 'read', fullKey(req.query.key), req.query.prefix === 'true');
        // Every stream holds a queue and a socket here: their number is bounded.
        if (openStreams.size >= deps.watchesMax) {
          deps.metrics.watchStreamsRefused.inc();
          throw new ApiError('tooManyWatches', `this node serves ${deps.watchesMax} watch streams (--watches-max): watch through another member, or later`, {
            headers: { 'retry-after': '5' },
          });
        }
        const q = req.query;
        const fromRevision = q.fromRevision === undefined ? undefined : Number(q.fromRevision);
        const withPrev = q.prevKv === 'true';
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
                const prev = withPrev && e.prevKv !== undefined ? { prevKv: shownKvs([e.prevKv], false)[0] } : {};
                more = line(e.type === 'put' ? { revision: e.revision, type: 'put', key: e.key, value: shownValue(e.key, e.value), ...prev } : { revision: e.revision, type: 'delete', key: e.key, ...prev });
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
          { key: fullKey(q.key), prefix: q.prefix === 'true', ...(fromRevision === undefined ? {} : { fromRevision }) },
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
      { schema: { tags: ['leases'], summary: 'Grant a lease (admin)', body: { type: 'object', required: ['ttl'], additionalProperties: false, properties: { ttl: leaseTtlSchema } } } },
      async (req) => ops.leaseGrant(scopes.get(req), req.body.ttl),
    );
    app.get(
      '/v1/keeper/backup',
      { schema: { tags: ['kv'], summary: "The keeper's whole state, read linearizably, for disaster recovery (`longwire keeper restore`); it holds secrets (admin)" } },
      async (req, reply) => {
        unscoped(req);
        const b = await deps.keeper.backup();
        void reply.header('content-type', 'application/octet-stream').header('x-longwire-revision', String(b.revision)).header('cache-control', 'no-store');
        return Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
      },
    );

    app.get<{ Querystring: { revision?: string } }>(
      '/v1/keeper/hash',
      {
        schema: {
          tags: ['kv'],
          summary: "A digest of every key and value at a revision (default: now), to compare members: equal on members that agree (admin)",
          querystring: { type: 'object', properties: { revision: queryRevision } },
        },
      },
      async (req) => {
        unscoped(req);
        return deps.keeper.kvHash(req.query.revision === undefined ? {} : { revision: Number(req.query.revision) });
      },
    );

    app.get<{ Querystring: { after?: string; limit?: string; consistency?: 'linearizable' | 'serializable' } }>(
      '/v1/leases',
      {
        schema: {
          tags: ['leases'],
          summary: 'List leases in id order, a page at a time (admin)',
          querystring: { type: 'object', properties: { after: { type: 'string', maxLength: KEY_CHARS_MAX }, limit: { type: 'string', pattern: '^([1-9][0-9]{0,3}|10000)$' }, consistency: queryConsistency } },
        },
      },
      async (req) => {
        unscoped(req);
        const q = req.query;
        return deps.keeper.leaseList({ limit: q.limit === undefined ? LEASE_PAGE_DEFAULT : Number(q.limit), consistency: q.consistency ?? 'linearizable', ...(q.after === undefined ? {} : { after: q.after }) });
      },
    );
    app.get<{ Params: { id: string }; Querystring: { consistency?: 'linearizable' | 'serializable' } }>(
      '/v1/leases/:id',
      { schema: { tags: ['leases'], summary: "A lease's TTL, time left and attached keys (admin)", querystring: { type: 'object', properties: { consistency: queryConsistency } } } },
      async (req) => ops.leaseInfo(scopes.get(req), req.params.id, req.query.consistency ?? 'linearizable'),
    );
    app.post<{ Params: { id: string } }>('/v1/leases/:id/keepalive', { schema: { tags: ['leases'], summary: 'Renew a lease (admin)' } }, async (req) => ops.leaseKeepAlive(scopes.get(req), req.params.id));
    app.delete<{ Params: { id: string } }>('/v1/leases/:id', { schema: { tags: ['leases'], summary: 'Revoke a lease and delete its keys (admin)' } }, async (req) => ops.leaseRevoke(scopes.get(req), req.params.id));
  };
}
