// Bytes in and out of the keeper: one MessagePack encoder with pinned options,
// used for snapshots and log entries, and the decoding of stored commands.
// Stored bytes are checked here, at the edge (a bad byte on disk is an
// operating error, 'corrupt'); past this point `apply` may assert.

import { Packr } from 'msgpackr';
import type { Command } from './command.js';
import { KeeperError } from './errors.js';
import type { CompareOp, Member, RegisterOp, Session, TxnCompare, TxnOp } from './keeper.js';

/**
 * Pinned so that the bytes do not change with msgpackr's defaults: no records
 * (they need shared structure state between writer and reader), no extension
 * types, no float32 narrowing, plain objects for maps.
 */
export const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  bundleStrings: false,
  mapsAsObjects: true,
  variableMapSize: false,
  encodeUndefinedAsNil: false,
  useFloat32: 0,
  int64AsType: 'number',
});

export function unpack(bytes: Uint8Array): unknown {
  try {
    const value: unknown = packr.unpack(bytes);
    return value;
  } catch (cause) {
    throw new KeeperError('corrupt', 'undecodable MessagePack', { cause });
  }
}

export function encodeCommand(cmd: Command): Uint8Array {
  return packr.pack(stripUndefined(cmd));
}

/** Decodes and validates a stored command; throws KeeperError 'corrupt' on anything malformed. */
export function decodeCommand(bytes: Uint8Array): Command {
  const o = obj(unpack(bytes), 'command');
  const type = o['type'];
  switch (type) {
    case 'put': {
      const key = str(o['key'], 'put.key');
      const value = str(o['value'], 'put.value');
      const lease = o['lease'] === undefined ? undefined : str(o['lease'], 'put.lease');
      const ifModRevision = o['ifModRevision'] === undefined ? undefined : num(o['ifModRevision'], 'put.ifModRevision');
      return {
        type,
        key,
        value,
        ...(lease === undefined ? {} : { lease }),
        ...(ifModRevision === undefined ? {} : { ifModRevision }),
      };
    }
    case 'delete':
      return { type, key: str(o['key'], 'delete.key'), prefix: bool(o['prefix'], 'delete.prefix') };
    case 'txn':
      return {
        type,
        compare: arr(o['compare'], 'txn.compare').map(decodeCompare),
        success: arr(o['success'], 'txn.success').map(decodeTxnOp),
        failure: arr(o['failure'], 'txn.failure').map(decodeTxnOp),
      };
    case 'leaseGrant':
      return { type, id: str(o['id'], 'lease id'), ttl: num(o['ttl'], 'lease ttl'), now: num(o['now'], 'now') };
    case 'leaseKeepAlive':
    case 'leaseExpire':
      return { type, id: str(o['id'], 'lease id'), now: num(o['now'], 'now') };
    case 'leaseRevoke':
    case 'memberPromote':
    case 'memberRemove':
      return { type, id: str(o['id'], 'id') };
    case 'memberAdd':
      return { type, member: decodeMember(o['member']) };
    case 'registerBatch':
      return { type, lease: str(o['lease'], 'register lease'), ops: arr(o['ops'], 'register ops').map(decodeRegisterOp) };
    default:
      throw corrupt(`unknown command type ${JSON.stringify(type)}`);
  }
}

const COMPARE_OPS: readonly CompareOp[] = ['=', '!=', '<', '>'];

function decodeCompare(v: unknown): TxnCompare {
  const c = obj(v, 'txn compare');
  const key = str(c['key'], 'compare.key');
  const op = COMPARE_OPS.find((x) => x === c['op']);
  if (op === undefined) throw corrupt(`bad compare op ${JSON.stringify(c['op'])}`);
  const target = c['target'];
  if (target === 'value') return { key, target, op, value: str(c['value'], 'compare.value') };
  if (target === 'modRevision' || target === 'createRevision' || target === 'version') return { key, target, op, value: num(c['value'], 'compare.value') };
  throw corrupt(`bad compare target ${JSON.stringify(target)}`);
}

function decodeTxnOp(v: unknown): TxnOp {
  const o = obj(v, 'txn op');
  if (o['type'] === 'put') {
    const lease = o['lease'] === undefined ? undefined : str(o['lease'], 'txn put.lease');
    return { type: 'put', key: str(o['key'], 'txn put.key'), value: str(o['value'], 'txn put.value'), ...(lease === undefined ? {} : { lease }) };
  }
  if (o['type'] === 'delete') return { type: 'delete', key: str(o['key'], 'txn delete.key'), prefix: bool(o['prefix'], 'txn delete.prefix') };
  if (o['type'] === 'get') {
    const limit = o['limit'] === undefined ? undefined : num(o['limit'], 'txn get.limit');
    const keysOnly = o['keysOnly'] === undefined ? undefined : bool(o['keysOnly'], 'txn get.keysOnly');
    return {
      type: 'get',
      key: str(o['key'], 'txn get.key'),
      prefix: bool(o['prefix'], 'txn get.prefix'),
      ...(limit === undefined ? {} : { limit }),
      ...(keysOnly === undefined ? {} : { keysOnly }),
    };
  }
  throw corrupt(`bad txn op ${JSON.stringify(o['type'])}`);
}

function decodeMember(v: unknown): Member {
  const m = obj(v, 'member');
  const role = m['role'];
  if (role !== 'voter' && role !== 'learner') throw corrupt(`bad member role ${JSON.stringify(role)}`);
  return {
    id: str(m['id'], 'member.id'),
    role,
    peer: str(m['peer'], 'member.peer'),
    api: str(m['api'], 'member.api'),
    gateway: str(m['gateway'], 'member.gateway'),
    zone: str(m['zone'], 'member.zone'),
  };
}

function decodeRegisterOp(v: unknown): RegisterOp {
  const o = obj(v, 'register op');
  if (o['op'] === 'add') return { op: 'add', session: decodeSession(o['session']) };
  if (o['op'] === 'remove') {
    return { op: 'remove', app: str(o['app'], 'app'), user: str(o['user'], 'user'), session: str(o['session'], 'session') };
  }
  throw corrupt(`bad register op ${JSON.stringify(o['op'])}`);
}

function decodeSession(v: unknown): Session {
  const s = obj(v, 'session');
  return {
    app: str(s['app'], 'session.app'),
    user: str(s['user'], 'session.user'),
    device: ownStr(s['device'], 'session.device'),
    session: ownStr(s['session'], 'session.session'),
    node: str(s['node'], 'session.node'),
    since: num(s['since'], 'session.since'),
  };
}

function stripUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripUndefined);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = stripUndefined(x);
  return out;
}

export function corrupt(message: string): KeeperError {
  return new KeeperError('corrupt', message);
}

export function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw corrupt(`${what}: not a map`);
  // Narrowed to a non-null, non-array object above; its values are checked one by one by the caller.
  return v as Record<string, unknown>;
}

export function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw corrupt(`${what}: not an array`);
  const out: unknown[] = v;
  return out;
}

export function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw corrupt(`${what}: not a string`);
  return v;
}

/** V8 makes slices only of 13 characters or more; shorter strings are copies already. */
const SLICE_LENGTH_MIN = 13;

/**
 * A decoded string to keep for long (a registered session's device and
 * session ids): decoded strings can be slices of a whole decoded entry's
 * text, which a slice keeps alive for as long as the string is held.
 */
export function ownStr(v: unknown, what: string): string {
  const s = str(v, what);
  return s.length < SLICE_LENGTH_MIN ? s : Buffer.from(s, 'utf8').toString('utf8');
}

export function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw corrupt(`${what}: not a number`);
  return v;
}

export function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw corrupt(`${what}: not a boolean`);
  return v;
}
