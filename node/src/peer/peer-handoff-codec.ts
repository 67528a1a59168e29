// Checks the shapes of handoff and drain calls as they arrive over peer RPC
// (plain maps from MessagePack): a malformed body is refused before anything
// is stored.
import { ApiError } from '../center/errors.js';
import type { MoveKind } from '../ownership.js';
import type { DropRange, UserMeta } from '../saver/drops.js';
import type { DeviceCursor, IdempotencyHandoff, Json, StoredMessage, UserHandoff } from '../saver/saver.js';

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError('invalid', `handoff: ${what} is not a map`);
  return v as Record<string, unknown>;
}

function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new ApiError('invalid', `handoff: bad "${k}"`);
  return v;
}

function int(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ApiError('invalid', `handoff: bad "${k}"`);
  return v;
}

function list(o: Record<string, unknown>, k: string): unknown[] {
  const v = o[k];
  if (!Array.isArray(v)) throw new ApiError('invalid', `handoff: bad "${k}"`);
  return v;
}

function reason(o: Record<string, unknown>, k: string): 'expired' | 'overflow' {
  const v = o[k];
  if (v !== 'expired' && v !== 'overflow') throw new ApiError('invalid', `handoff: bad "${k}"`);
  return v;
}

function parseMeta(v: unknown): UserMeta {
  const o = record(v, 'meta');
  const ranges: DropRange[] = list(o, 'ranges').map((r) => {
    const x = record(r, 'range');
    return { from: int(x, 'from'), to: int(x, 'to'), reason: reason(x, 'reason') };
  });
  return { lastSeq: int(o, 'lastSeq'), floorTo: int(o, 'floorTo'), floorReason: reason(o, 'floorReason'), ranges };
}

function parseMessage(v: unknown): StoredMessage {
  const o = record(v, 'message');
  return { seq: int(o, 'seq'), id: str(o, 'id'), data: (o.data ?? null) as Json, ts: int(o, 'ts'), expiresAt: int(o, 'expiresAt') };
}

function parseCursor(v: unknown): { device: string; cursor: DeviceCursor } {
  const o = record(v, 'cursor');
  const c = record(o.cursor, 'cursor');
  return { device: str(o, 'device'), cursor: { acked: int(c, 'acked'), pendingSeq: int(c, 'pendingSeq'), pendingSends: int(c, 'pendingSends'), broadcastPos: int(c, 'broadcastPos') } };
}

export function parseUserHandoff(v: unknown): UserHandoff {
  const o = record(v, 'user');
  return { app: str(o, 'app'), user: str(o, 'user'), meta: parseMeta(o.meta), messages: list(o, 'messages').map(parseMessage), cursors: list(o, 'cursors').map(parseCursor) };
}

export function parseIdempotencyHandoff(v: unknown): IdempotencyHandoff {
  const o = record(v, 'record');
  return { app: str(o, 'app'), key: str(o, 'key'), answer: (o.answer ?? null) as Json, at: int(o, 'at') };
}

/**
 * A handoff call: the previous owner sends batches (`import`, `idempotency`);
 * a new owner pulls one user (`export`): from a draining node (`move`
 * 'drain', which seals it whole) or from its owner before a join ('join',
 * which seals that user alone), or asks for one idempotency record
 * (`idempotency-get`).
 */
export type HandoffCall =
  | { readonly op: 'import'; readonly move: MoveKind; readonly mark: string; readonly users: readonly UserHandoff[] }
  | { readonly op: 'idempotency'; readonly records: readonly IdempotencyHandoff[] }
  | { readonly op: 'export'; readonly move: MoveKind; readonly mark: string; readonly app: string; readonly user: string }
  /** One idempotency record (answered with it, or null), asked for by a new owner before the batches bring it. */
  | { readonly op: 'idempotency-get'; readonly app: string; readonly key: string };

/** Which move a call belongs to; a call without one is from a drain (as before joins moved inboxes). */
function moveOf(o: Record<string, unknown>): MoveKind {
  const v = o.move ?? 'drain';
  if (v !== 'drain' && v !== 'join') throw new ApiError('invalid', 'handoff: bad "move"');
  return v;
}

export function parseHandoffCall(v: unknown): HandoffCall {
  const o = record(v, 'call');
  switch (o.op) {
    case 'import':
      return { op: 'import', move: moveOf(o), mark: str(o, 'mark'), users: list(o, 'users').map(parseUserHandoff) };
    case 'idempotency':
      return { op: 'idempotency', records: list(o, 'records').map(parseIdempotencyHandoff) };
    case 'export':
      return { op: 'export', move: moveOf(o), mark: str(o, 'mark'), app: str(o, 'app'), user: str(o, 'user') };
    case 'idempotency-get':
      return { op: 'idempotency-get', app: str(o, 'app'), key: str(o, 'key') };
    default:
      throw new ApiError('invalid', 'handoff: bad "op"');
  }
}

/**
 * Asks a member to start (or go on with) its drain under `mark`, or for its
 * progress; or, as a previous owner, to hand the joining member its users
 * for the join under `mark` (`release`: starts it or answers its progress).
 */
export type DrainCall = { readonly op: 'start'; readonly mark: string } | { readonly op: 'status' } | { readonly op: 'release'; readonly mark: string };

export function parseDrainCall(v: unknown): DrainCall {
  const o = record(v, 'call');
  if (o.op === 'start') return { op: 'start', mark: str(o, 'mark') };
  if (o.op === 'status') return { op: 'status' };
  if (o.op === 'release') return { op: 'release', mark: str(o, 'mark') };
  throw new ApiError('invalid', 'drain: bad "op"');
}
