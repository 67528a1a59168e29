// The keeper's key/value and lease operations as the API serves them, shared by the
// HTTP routes (routes-keeper.ts) and the keeper wire (keeper-wire-server.ts),
// so a call is checked, scoped and answered the same either way: keys
// normalised, a scoped token held to its prefixes, longwire's secrets kept
// out of reach and redacted, transactions gated on member features.
import type { CompareOp, Keeper, KeyValue, LeaseInfo, TxnCompare, TxnOp, TxnResponse } from '../../../keeper/src/keeper.js';
import { RANGE_UNITS_MAX } from '../../../keeper/src/kv.js';
import type { WireTxn } from '../../../keeper/src/keeper-wire.js';
import { ApiError } from './errors.js';
import { lacking } from '../member-features.js';
import { SECRETS_PREFIX, reachesSecrets, shownValue, valueHidden } from '../keeper-secrets.js';
import { allows, type Access, type KeeperScope } from '../keeper-scope.js';

export const KEY_CHARS_MAX = 1024;
export const VALUE_BYTES_MAX = 256 * 1024;
/** Compares, and operations per branch, of one transaction (etcd's --max-txn-ops default). */
export const TXN_OPS_MAX = 128;

/** The caller's reach: undefined is an unscoped admin token (or a member), else a scoped token's prefixes. */
export type Reach = KeeperScope | undefined;

/** A key as a request body names it: `a/b` and `/a/b` are the same key. */
export function fullKey(key: string): string {
  return key.startsWith('/') ? key : '/' + key;
}

/** Kvs as the API answers them: values redacted where they are not shown, or dropped for a keys-only read. */
export function shownKvs(kvs: readonly KeyValue[], keysOnly: boolean): object[] {
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

/** Throws 403 unless `reach` lets the caller `access` `key` (every key under it, with `prefix`). */
export function need(reach: Reach, access: Access, key: string, prefix: boolean, where = ''): void {
  if (reach === undefined || allows(reach, access, key)) return;
  throw new ApiError('forbidden', `${where}this token's scope does not let it ${access} ${prefix ? 'the keys under ' : ''}${key}`);
}

/**
 * A scoped token reaches a lease only through its keys: one with keys, all
 * in its write scope, and no sessions. A node's own lease always holds a key
 * under /sys/, which no scope reaches.
 */
export function ownLease(reach: Reach, info: LeaseInfo): void {
  if (reach === undefined) return;
  if (info.keys.length > 0 && info.sessions === 0 && info.keys.every((k) => allows(reach, 'write', k))) return;
  throw new ApiError('forbidden', `this token's scope reaches a lease only when every key attached to it is in its write scope (lease ${info.id} holds ${info.keys.length} keys, ${info.sessions} sessions)`);
}

/** A lease's TTL in seconds, as POST /v1/leases takes it. */
export const leaseTtlSchema = { type: 'integer', minimum: 1, maximum: 86400 } as const;

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

/** A transaction as POST /v1/txn takes it, and the wire's txn call. */
export const txnSchema = {
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
} as const;

/** The properties of a put, as PUT /v1/kv/<key> takes them in its body. */
export const putProperties = {
  value: { type: 'string', maxLength: VALUE_BYTES_MAX },
  lease: { type: 'string', minLength: 1 },
  ifModRevision: { type: 'integer', minimum: 0 },
} as const;

export interface RangeQuery {
  readonly prefix: boolean;
  readonly consistency: 'linearizable' | 'serializable';
  readonly after?: string;
  readonly limit?: number;
  readonly keysOnly: boolean;
  readonly countOnly: boolean;
  readonly revision?: number;
}

export interface PutBody {
  readonly value: string;
  readonly lease?: string;
  readonly ifModRevision?: number;
}

export class KeeperOps {
  constructor(private readonly keeper: Keeper) {}

  async range(reach: Reach, key: string, q: RangeQuery): Promise<object> {
    if (q.after !== undefined && !q.prefix) throw new ApiError('invalid', 'after pages through a prefix: it needs prefix=true');
    need(reach, 'read', key, q.prefix);
    const after = q.after === undefined ? {} : { after: fullKey(q.after) };
    const at = q.revision === undefined ? {} : { revision: q.revision };
    if (q.countOnly) return this.keeper.count(key, { prefix: q.prefix, consistency: q.consistency, ...after, ...at });
    const r = await this.keeper.range(key, {
      prefix: q.prefix,
      consistency: q.consistency,
      keysOnly: q.keysOnly,
      unitsMax: RANGE_UNITS_MAX,
      ...after,
      ...at,
      ...(q.limit === undefined ? {} : { limit: q.limit }),
    });
    return { revision: r.revision, kvs: shownKvs(r.kvs, q.keysOnly), more: r.more };
  }

  async put(reach: Reach, key: string, b: PutBody): Promise<{ revision: number }> {
    if (reachesSecrets(key, false)) throw new ApiError('forbidden', `${SECRETS_PREFIX} is longwire's own: use the admin token routes`);
    need(reach, 'write', key, false);
    return this.keeper.put(key, b.value, {
      ...(b.lease === undefined ? {} : { lease: b.lease }),
      ...(b.ifModRevision === undefined ? {} : { ifModRevision: b.ifModRevision }),
    });
  }

  async delete(reach: Reach, key: string, prefix: boolean): Promise<{ revision: number; deleted: number }> {
    if (reachesSecrets(key, prefix)) throw new ApiError('forbidden', `the range reaches ${SECRETS_PREFIX}, which is longwire's own`);
    need(reach, 'write', key, prefix);
    return this.keeper.delete(key, { prefix });
  }

  async leaseGrant(reach: Reach, ttl: number): Promise<{ id: string; ttl: number }> {
    if (reach !== undefined && reach.write.length === 0) throw new ApiError('forbidden', "this token's scope writes no keys, so it has nothing to attach a lease to");
    const l = await this.keeper.leaseGrant(ttl);
    return { id: l.id, ttl: l.ttl };
  }

  async leaseInfo(reach: Reach, id: string, consistency: 'linearizable' | 'serializable'): Promise<LeaseInfo> {
    const info = await this.keeper.leaseInfo(id, { consistency });
    ownLease(reach, info);
    return info;
  }

  async leaseKeepAlive(reach: Reach, id: string): Promise<{ ttl: number }> {
    if (reach !== undefined) ownLease(reach, await this.keeper.leaseInfo(id));
    return { ttl: (await this.keeper.leaseKeepAlive(id)).ttl };
  }

  async leaseRevoke(reach: Reach, id: string): Promise<{ revoked: true }> {
    if (reach !== undefined) ownLease(reach, await this.keeper.leaseInfo(id));
    await this.keeper.leaseRevoke(id);
    return { revoked: true };
  }

  async txn(reach: Reach, b: WireTxn, consistency: 'linearizable' | 'serializable'): Promise<object> {
    const compare = (b.compare ?? []).map((c, i): TxnCompare => {
      const key = fullKey(c.key);
      need(reach, 'read', key, false, `compare[${i}]: `);
      if (c.target === 'value') {
        if (typeof c.value !== 'string') throw new ApiError('invalid', `compare[${i}]: a value compare takes a string value`);
        // A value compare would tell a guess of a secret from a miss.
        if (valueHidden(key)) throw new ApiError('forbidden', `compare[${i}]: the values under ${key} are not shown, so they cannot be compared`);
        return { key, target: 'value', op: c.op as CompareOp, value: c.value };
      }
      if (typeof c.value !== 'number' || c.value < 0) throw new ApiError('invalid', `compare[${i}]: a ${c.target} compare takes an integer of 0 or more`);
      return { key, target: c.target, op: c.op as CompareOp, value: c.value };
    });
    const ops = (branch: 'success' | 'failure'): TxnOp[] =>
      (b[branch] ?? []).map((o, i): TxnOp => {
        if ('put' in o) {
          const key = fullKey(o.put.key);
          if (reachesSecrets(key, false)) throw new ApiError('forbidden', `${branch}[${i}]: ${SECRETS_PREFIX} is longwire's own: use the admin token routes`);
          need(reach, 'write', key, false, `${branch}[${i}]: `);
          return { type: 'put', key, value: o.put.value, ...(o.put.lease === undefined ? {} : { lease: o.put.lease }) };
        }
        if ('delete' in o) {
          const key = fullKey(o.delete.key);
          const prefix = o.delete.prefix === true;
          if (reachesSecrets(key, prefix)) throw new ApiError('forbidden', `${branch}[${i}]: the range reaches ${SECRETS_PREFIX}, which is longwire's own`);
          need(reach, 'write', key, prefix, `${branch}[${i}]: `);
          return { type: 'delete', key, prefix };
        }
        if ('get' in o) {
          const g = o.get;
          need(reach, 'read', fullKey(g.key), g.prefix === true, `${branch}[${i}]: `);
          return { type: 'get', key: fullKey(g.key), prefix: g.prefix === true, ...(g.limit === undefined ? {} : { limit: g.limit }), ...(g.keysOnly === true ? { keysOnly: true } : {}) };
        }
        throw new ApiError('invalid', `${branch}[${i}]: an operation is {"put":{…}}, {"delete":{…}} or {"get":{…}}`);
      });
    const request = { compare, success: ops('success'), failure: ops('failure'), consistency };
    const all = [...request.success, ...request.failure];
    if (all.some((op) => op.type !== 'get')) {
      // An older member would stop at a log entry it cannot decode: none is proposed until every member announced it.
      // (A build that announces txn-get announces txn too: one check covers both.)
      const feature = all.some((op) => op.type === 'get') ? 'txn-get' : 'txn';
      const behind = await lacking(this.keeper, feature);
      if (behind.length > 0) throw new ApiError('conflict', `not every member can apply ${feature === 'txn' ? 'transactions' : 'transactions that read and write'} yet (${behind.join(', ')}: upgrade them first)`);
    }
    const r = await this.keeper.txn(request);
    const taken = r.succeeded ? request.success : request.failure;
    return { ...r, responses: r.responses.map((x, i) => shownResponse(x, taken[i])) };
  }
}
