// The keeper wire: the keeper's key/value and lease calls over
// one WebSocket per member instead of one HTTP request per call, as etcd's
// clients multiplex calls over one gRPC connection. HTTP/1.1 costs a request
// parse, a response and a syscall or two per call on both sides; on the wire
// many calls share a message, and the node answers every call that finished
// in one turn in one message. The calls and their answers are the HTTP
// routes' (docs/PROTOCOL.md, "Keeper wire"), so a client maps both the same.
import { Packr, type Options } from 'msgpackr';

/** The upgrade path on a member's API port. */
export const KEEPER_WIRE_PATH = '/v1/keeper/wire';
/** The WebSocket subprotocol a client asks for and the node confirms. */
export const KEEPER_WIRE_PROTOCOL = 'longwire-keeper.1';
/** Calls in one message, either way. */
export const WIRE_CALLS_PER_MESSAGE_MAX = 1024;

/** Close codes of the wire beyond RFC 6455's own (1003 not binary, 1007 not MessagePack, 1009 too big). */
export const WireClose = {
  /** The message is not an array of at most WIRE_CALLS_PER_MESSAGE_MAX calls, or a call has no id. */
  badMessage: 4400,
  /** The token was revoked (or its scope taken) since the connection opened. */
  tokenRevoked: 4401,
  /** The node is shutting down. */
  goingAway: 1001,
} as const;

export type Consistency = 'linearizable' | 'serializable';

export type WireTxnOperation =
  | { readonly put: { readonly key: string; readonly value: string; readonly lease?: string } }
  | { readonly delete: { readonly key: string; readonly prefix?: boolean } }
  | { readonly get: { readonly key: string; readonly prefix?: boolean; readonly limit?: number; readonly keysOnly?: boolean } };

export interface WireTxn {
  readonly compare?: readonly { readonly key: string; readonly target: 'modRevision' | 'createRevision' | 'version' | 'value'; readonly op: '=' | '!=' | '<' | '>'; readonly value: number | string }[];
  readonly success?: readonly WireTxnOperation[];
  readonly failure?: readonly WireTxnOperation[];
}

/** A call without its id: what KeeperClient asks. Keys are full keys (`/a/b`). */
export type WireCall =
  | {
      readonly op: 'range';
      readonly key: string;
      readonly prefix?: boolean;
      readonly consistency?: Consistency;
      readonly after?: string;
      readonly limit?: number;
      readonly keysOnly?: boolean;
      readonly countOnly?: boolean;
      readonly revision?: number;
    }
  | { readonly op: 'put'; readonly key: string; readonly value: string; readonly lease?: string; readonly ifModRevision?: number }
  | { readonly op: 'delete'; readonly key: string; readonly prefix?: boolean }
  | { readonly op: 'txn'; readonly txn: WireTxn; readonly consistency?: Consistency }
  | { readonly op: 'leaseGrant'; readonly ttl: number }
  | { readonly op: 'leaseKeepAlive'; readonly lease: string }
  | { readonly op: 'leaseRevoke'; readonly lease: string }
  | { readonly op: 'leaseInfo'; readonly lease: string; readonly consistency?: Consistency };

export type WireRequest = WireCall & { readonly id: number };

/** A refusal: the code, status and message the HTTP route would answer, and its extra fields (compactRevision). */
export interface WireRefusal {
  readonly code: string;
  readonly status: number;
  readonly message: string;
  readonly [extra: string]: unknown;
}

export type WireAnswer = { readonly id: number; readonly ok: unknown } | { readonly id: number; readonly err: WireRefusal };

// Plain maps and arrays both ways, no extension types (an undefined property
// is left out, as JSON leaves it out): any MessagePack library reads it.
// (skipValues is msgpackr's, missing from its typings.)
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number', encodeUndefinedAsNil: true, skipValues: [undefined] } as Options);

/** One message: the calls (or answers) of one turn. */
export function packWire(frames: readonly (WireRequest | WireAnswer)[]): Buffer {
  return packr.pack(frames);
}

/** Throws on bytes that are not MessagePack; the shape is the reader's to check. */
export function unpackWire(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** An answer frame, or undefined if the value is not one. */
export function asWireAnswer(v: unknown): WireAnswer | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'number') return undefined;
  if ('ok' in o) return { id: o.id, ok: o.ok };
  const e = o.err as Record<string, unknown> | undefined;
  if (typeof e !== 'object' || e === null || typeof e.code !== 'string' || typeof e.status !== 'number' || typeof e.message !== 'string') return undefined;
  return { id: o.id, err: e as WireRefusal };
}

/** An answer as its HTTP route would have given it: the status, and the 200 body or `{"error":…}`. */
export function httpShaped(a: WireAnswer): { status: number; body: unknown } {
  return 'ok' in a ? { status: 200, body: a.ok } : { status: a.err.status, body: { error: a.err } };
}
