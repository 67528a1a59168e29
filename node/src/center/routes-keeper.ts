// The keeper's key/value, watch and lease routes (admin), following etcd v3.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CompareOp, KeyValue, LeaseInfo, TxnCompare, TxnOp, TxnResponse, WatchMessage } from '../../../keeper/src/keeper.js';
import { RANGE_UNITS_MAX } from '../../../keeper/src/kv.js';
import type { CenterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { lacking } from '../member-features.js';
import { SECRETS_PREFIX, reachesSecrets, shownValue, valueHidden } from '../keeper-secrets.js';
import { allows, type Access, type KeeperScope } from '../keeper-scope.js';

/** Progress notifications on an idle watch stream, at least this often (contract: every 5 s). */
export const WATCH_PROGRESS_MS = 5000;
const KEY_CHARS_MAX = 1024;
const VALUE_BYTES_MAX = 256 * 1024;
/** Leases per page of GET /v1/leases when the request names no limit (at most 10,000). */
const LEASE_PAGE_DEFAULT = 1000;
/** Compares, and operations per branch, of one transaction (etcd's --max-txn-ops default). */
const TXN_OPS_MAX = 128;
/**
 * Query values are strings and the API's ajv does not coerce types, so flags
 * and revisions are validated as strings here and converted in the handler.
 */
const queryFlag = { type: 'string', enum: ['true', 'false'] } as const;
const queryConsistency = { type: 'string', enum: ['linearizable', 'serializable'] } as const;
const queryRevision = { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } as const;
/** A page's key count: 1 to 1,000,000. */
const queryLimit = { type: 'string', pattern: '^([1-9][0-9]{0,5}|1000000)$' } as const;

/** A key as a request body or query names it: `a/b` and `/a/b` are the same key. */
function fullKey(key: string): string {
  return key.startsWith('/') ? key : '/' + key;
}

function keyOf(raw: string | undefined): string {
  const key = '/' + (raw ?? '');
  if (key.length > KEY_CHARS_MAX) throw new ApiError('invalid', `key longer than ${KEY_CHARS_MAX} characters`);
  return key;
}

/** Kvs as the API answers them: values redacted where they are not shown, or dropped for a keys-only read. */
function shownKvs(kvs: readonly KeyValue[], keysOnly: boolean): object[] {
  return kvs.map((kv) => {
    if (!keysOnly) return { ...kv, value: shownValue(kv.key, kv.value) };
    const { value: _dropped, ...rest } = kv;
    return rest;
  });
}

/** A transaction's answer to a get as the API shows it (the values as a range read shows them); other answers as they are. */
function shownResponse(r: TxnResponse, op: TxnOp | undefined): object {
  return r.type === 'get' ? { ...r, kvs: shownKvs(r.kvs, op?.type === 'get' && op.keysOnly === true) } : r;
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
    const need = (req: FastifyRequest, access: Access, key: string, prefix: boolean, where = ''): void => {
      const scope = scopes.get(req);
      if (scope === undefined || allows(scope, access, key)) return;
      throw new ApiError('forbidden', `${where}this token's scope does not let it ${access} ${prefix ? 'the keys under ' : ''}${key}`);
    };
    /**
     * A scoped token reaches a lease only through its keys: one with keys,
     * all in its write scope, and no sessions. A node's own lease always
     * holds a key under /sys/, which no scope reaches.
     */
    const ownLease = (req: FastifyRequest, info: LeaseInfo): void => {
      const scope = scopes.get(req);
      if (scope === undefined) return;
      if (info.keys.length > 0 && info.sessions === 0 && info.keys.every((k) => allows(scope, 'write', k))) return;
      throw new ApiError('forbidden', `this token's scope reaches a lease only when every key attached to it is in its write scope (lease ${info.id} holds ${info.keys.length} keys, ${info.sessions} sessions)`);
    };
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
        const key = keyOf(req.params['*']);
        const prefix = q.prefix === 'true';
        if (q.after !== undefined && !prefix) throw new ApiError('invalid', 'after pages through a prefix: it needs prefix=true');
        const consistency = q.consistency ?? 'linearizable';
        need(req, 'read', key, prefix);
        const after = q.after === undefined ? {} : { after: fullKey(q.after) };
        const at = q.revision === undefined ? {} : { revision: Number(q.revision) };
        if (q.countOnly === 'true') return deps.keeper.count(key, { prefix, consistency, ...after, ...at });
        const keysOnly = q.keysOnly === 'true';
        const r = await deps.keeper.range(key, { prefix, consistency, keysOnly, unitsMax: RANGE_UNITS_MAX, ...after, ...at, ...(q.limit === undefined ? {} : { limit: Number(q.limit) }) });
        return { revision: r.revision, kvs: shownKvs(r.kvs, keysOnly), more: r.more };
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
        need(req, 'write', key, false);
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
        need(req, 'write', key, prefix);
        return deps.keeper.delete(key, { prefix });
      },
    );

    const keyProp = { type: 'string', minLength: 1, maxLength: KEY_CHARS_MAX } as const;
    const txnOps = {
      type: 'array',
      maxItems: TXN_OPS_MAX,
      items: {
        type: 'object',
        minProperties: 1,
        maxProperties: 1,
        additionalProperties: false,
        properties: {
          put: {
            type: 'object',
            required: ['key', 'value'],
            additionalProperties: false,
            properties: { key: keyProp, value: { type: 'string', maxLength: VALUE_BYTES_MAX }, lease: { type: 'string', minLength: 1 } },
          },
          delete: { type: 'object', required: ['key'], additionalProperties: false, properties: { key: keyProp, prefix: { type: 'boolean' } } },
          get: {
            type: 'object',
            required: ['key'],
            additionalProperties: false,
            properties: { key: keyProp, prefix: { type: 'boolean' }, limit: { type: 'integer', minimum: 1, maximum: 1_000_000 }, keysOnly: { type: 'boolean' } },
          },
        },
      },
    } as const;
    type TxnBodyOp = {
      put?: { key: string; value: string; lease?: string };
      delete?: { key: string; prefix?: boolean };
      get?: { key: string; prefix?: boolean; limit?: number; keysOnly?: boolean };
    };
    type TxnBody = { compare?: { key: string; target: TxnCompare['target']; op: CompareOp; value: number | string }[]; success?: TxnBodyOp[]; failure?: TxnBodyOp[] };

    app.post<{ Body: TxnBody; Querystring: { consistency?: 'linearizable' | 'serializable' } }>(
      '/v1/txn',
      {
        schema: {
          tags: ['kv'],
          summary: 'If every compare holds, run the success operations, else the failure ones: atomically, at one revision (admin)',
          querystring: { type: 'object', properties: { consistency: queryConsistency } },
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              compare: {
                type: 'array',
                maxItems: TXN_OPS_MAX,
                items: {
                  type: 'object',
                  required: ['key', 'target', 'op', 'value'],
                  additionalProperties: false,
                  properties: {
                    key: keyProp,
                    target: { type: 'string', enum: ['modRevision', 'createRevision', 'version', 'value'] },
                    op: { type: 'string', enum: ['=', '!=', '<', '>'] },
                    value: { anyOf: [{ type: 'integer' }, { type: 'string' }] },
                  },
                },
              },
              success: txnOps,
              failure: txnOps,
            },
          },
        },
      },
      async (req) => {
        const b = req.body;
        const compare = (b.compare ?? []).map((c, i): TxnCompare => {
          const key = fullKey(c.key);
          need(req, 'read', key, false, `compare[${i}]: `);
          if (c.target === 'value') {
            if (typeof c.value !== 'string') throw new ApiError('invalid', `compare[${i}]: a value compare takes a string value`);
            // A value compare would tell a guess of a secret from a miss.
            if (valueHidden(key)) throw new ApiError('forbidden', `compare[${i}]: the values under ${key} are not shown, so they cannot be compared`);
            return { key, target: 'value', op: c.op, value: c.value };
          }
          if (typeof c.value !== 'number' || c.value < 0) throw new ApiError('invalid', `compare[${i}]: a ${c.target} compare takes an integer of 0 or more`);
          return { key, target: c.target, op: c.op, value: c.value };
        });
        const ops = (branch: 'success' | 'failure'): TxnOp[] =>
          (b[branch] ?? []).map((o, i): TxnOp => {
            if (o.put !== undefined) {
              const key = fullKey(o.put.key);
              if (reachesSecrets(key, false)) throw new ApiError('forbidden', `${branch}[${i}]: ${SECRETS_PREFIX} is longwire's own: use the admin token routes`);
              need(req, 'write', key, false, `${branch}[${i}]: `);
              return { type: 'put', key, value: o.put.value, ...(o.put.lease === undefined ? {} : { lease: o.put.lease }) };
            }
            if (o.delete !== undefined) {
              const key = fullKey(o.delete.key);
              const prefix = o.delete.prefix === true;
              if (reachesSecrets(key, prefix)) throw new ApiError('forbidden', `${branch}[${i}]: the range reaches ${SECRETS_PREFIX}, which is longwire's own`);
              need(req, 'write', key, prefix, `${branch}[${i}]: `);
              return { type: 'delete', key, prefix };
            }
            if (o.get !== undefined) {
              const g = o.get;
              need(req, 'read', fullKey(g.key), g.prefix === true, `${branch}[${i}]: `);
              return { type: 'get', key: fullKey(g.key), prefix: g.prefix === true, ...(g.limit === undefined ? {} : { limit: g.limit }), ...(g.keysOnly === true ? { keysOnly: true } : {}) };
            }
            throw new ApiError('invalid', `${branch}[${i}]: an operation is {"put":{…}}, {"delete":{…}} or {"get":{…}}`);
          });
        const request = { compare, success: ops('success'), failure: ops('failure'), consistency: req.query.consistency ?? 'linearizable' };
        const all = [...request.success, ...request.failure];
        if (all.some((op) => op.type !== 'get')) {
          // An older member would stop at a log entry it cannot decode: none is proposed until every member announced it.
          // (A build that announces txn-get announces txn too: one check covers both.)
          const feature = all.some((op) => op.type === 'get') ? 'txn-get' : 'txn';
          const behind = await lacking(deps.keeper, feature);
          if (behind.length > 0) throw new ApiError('conflict', `not every member can apply ${feature === 'txn' ? 'transactions' : 'transactions that read and write'} yet (${behind.join(', ')}: upgrade them first)`);
        }
        const r = await deps.keeper.txn(request);
        const taken = r.succeeded ? request.success : request.failure;
        return { ...r, responses: r.responses.map((x, i) => shownResponse(x, taken[i])) };
      },
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
      { schema: { tags: ['leases'], summary: 'Grant a lease (admin)', body: { type: 'object', required: ['ttl'], additionalProperties: false, properties: { ttl: { type: 'integer', minimum: 1, maximum: 86400 } } } } },
      async (req) => {
        const scope = scopes.get(req);
        if (scope !== undefined && scope.write.length === 0) throw new ApiError('forbidden', "this token's scope writes no keys, so it has nothing to attach a lease to");
        return deps.keeper.leaseGrant(req.body.ttl);
      },
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
      async (req) => {
        const info = await deps.keeper.leaseInfo(req.params.id, { consistency: req.query.consistency ?? 'linearizable' });
        ownLease(req, info);
        return info;
      },
    );
    app.post<{ Params: { id: string } }>('/v1/leases/:id/keepalive', { schema: { tags: ['leases'], summary: 'Renew a lease (admin)' } }, async (req) => {
      if (scopes.has(req)) ownLease(req, await deps.keeper.leaseInfo(req.params.id));
      const l = await deps.keeper.leaseKeepAlive(req.params.id);
      return { ttl: l.ttl };
    });
    app.delete<{ Params: { id: string } }>('/v1/leases/:id', { schema: { tags: ['leases'], summary: 'Revoke a lease and delete its keys (admin)' } }, async (req) => {
      if (scopes.has(req)) ownLease(req, await deps.keeper.leaseInfo(req.params.id));
      await deps.keeper.leaseRevoke(req.params.id);
      return { revoked: true };
    });
  };
}
