import { Packr } from 'msgpackr';
import type { Message, MessageType } from '../message.js';
import { isLocalMessage } from '../message.js';
import type { ConfState, Entry, Snapshot } from '../types.js';
import { index, term } from '../types.js';

/**
 * Wire encoding of Raft messages: msgpack maps with pinned options, so both
 * ends agree whatever msgpackr's defaults become. decodeMessage() is the
 * gateway: it validates everything, and code past it asserts instead.
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: false,
  structuredClone: false,
  bundleStrings: false,
  variableMapSize: false,
  int64AsType: 'number',
  encodeUndefinedAsNil: false,
});

/** Largest frame accepted from a peer, in bytes (a snapshot must fit). */
export const FRAME_BYTES_MAX = 64 * 1024 * 1024;

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  readonly code = 'RAFT_ERR_DECODE';
}

export function encodeMessage(m: Message): Uint8Array {
  return packr.pack(m);
}

/** A 4-byte big-endian length prefix followed by the payload. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** Splits a byte stream into frames; an oversized frame is an error (the connection is closed). */
export class FrameDecoder {
  private buf: Uint8Array = new Uint8Array(0);

  constructor(private frameBytesMax: number = FRAME_BYTES_MAX) {}

  /** Changes the limit for the frames still to come (small during a handshake, large after). */
  setFrameBytesMax(n: number): void {
    this.frameBytesMax = n;
  }

  push(chunk: Uint8Array): Uint8Array[] | DecodeError {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf, 0);
    joined.set(chunk, this.buf.length);
    const out: Uint8Array[] = [];
    let off = 0;
    while (joined.length - off >= 4) {
      const len = new DataView(joined.buffer, joined.byteOffset + off, 4).getUint32(0);
      if (len > this.frameBytesMax) return new DecodeError(`frame of ${len} bytes exceeds ${this.frameBytesMax}`);
      if (joined.length - off - 4 < len) break;
      out.push(joined.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    this.buf = joined.slice(off);
    return out;
  }
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

const TYPES: ReadonlySet<string> = new Set<MessageType>([
  'MsgProp', 'MsgApp', 'MsgAppResp', 'MsgVote', 'MsgVoteResp', 'MsgPreVote', 'MsgPreVoteResp', 'MsgSnap',
  'MsgHeartbeat', 'MsgHeartbeatResp', 'MsgTransferLeader', 'MsgTimeoutNow', 'MsgReadIndex', 'MsgReadIndexResp',
  'MsgHup', 'MsgBeat', 'MsgCheckQuorum', 'MsgSnapStatus', 'MsgUnreachable',
]);

function entries(v: unknown, what: string): Entry[] | DecodeError {
  if (!Array.isArray(v)) return new DecodeError(`${what}: entries must be an array`);
  const out: Entry[] = [];
  for (const e of v) {
    if (!isObj(e) || !isUint(e['term']) || !isUint(e['index']) || !isBytes(e['data'])) return new DecodeError(`${what}: malformed entry`);
    const type = e['type'];
    if (type !== 'normal' && type !== 'conf-change') return new DecodeError(`${what}: bad entry type`);
    out.push({ term: term(e['term']), index: index(e['index']), type, data: e['data'] });
  }
  return out;
}

function confState(v: unknown): ConfState | undefined {
  if (!isObj(v)) return undefined;
  const voters = v['voters'];
  const learners = v['learners'];
  if (!Array.isArray(voters) || !Array.isArray(learners)) return undefined;
  if (!voters.every((x) => isUint(x) && x > 0) || !learners.every((x) => isUint(x) && x > 0)) return undefined;
  return { voters: voters as number[], learners: learners as number[] };
}

function snapshot(v: unknown): Snapshot | undefined {
  if (!isObj(v) || !isBytes(v['data']) || !isObj(v['meta'])) return undefined;
  const meta = v['meta'];
  const cs = confState(meta['confState']);
  if (!isUint(meta['index']) || !isUint(meta['term']) || cs === undefined) return undefined;
  return { meta: { index: index(meta['index']), term: term(meta['term']), confState: cs }, data: v['data'] };
}

/** Decodes and validates one message from a peer. */
export function decodeMessage(bytes: Uint8Array): Message | DecodeError {
  let v: unknown;
  try {
    v = packr.unpack(bytes);
  } catch (cause) {
    return new DecodeError('not msgpack', { cause });
  }
  if (!isObj(v)) return new DecodeError('message is not a map');
  const type = v['type'];
  if (typeof type !== 'string' || !TYPES.has(type)) return new DecodeError(`unknown message type ${String(type)}`);
  const t = type as MessageType;
  if (isLocalMessage(t)) return new DecodeError(`${t} is local and never crosses the network`);
  const from = v['from'];
  const to = v['to'];
  if (!isUint(from) || from === 0 || !isUint(to) || to === 0 || !isUint(v['term'])) return new DecodeError(`${t}: bad envelope`);
  const env = { from, to, term: term(v['term']) };
  const bad = (field: string): DecodeError => new DecodeError(`${t}: bad ${field}`);
  switch (t) {
    case 'MsgProp': {
      const es = entries(v['entries'], t);
      if (es instanceof DecodeError) return es;
      if (es.length === 0) return bad('entries (empty proposal)');
      return { ...env, type: t, entries: es };
    }
    case 'MsgApp': {
      if (!isUint(v['index']) || !isUint(v['logTerm']) || !isUint(v['commit'])) return bad('index/logTerm/commit');
      const es = entries(v['entries'], t);
      if (es instanceof DecodeError) return es;
      // Entries follow the previous one contiguously, with terms that never
      // decrease and never exceed the sender's term.
      let prevIndex = v['index'];
      let prevTerm = v['logTerm'];
      for (const e of es) {
        if (e.index !== prevIndex + 1 || e.term < prevTerm || e.term > env.term) return bad('entries (not contiguous or terms out of order)');
        prevIndex = e.index;
        prevTerm = e.term;
      }
      return { ...env, type: t, index: index(v['index']), logTerm: term(v['logTerm']), entries: es, commit: index(v['commit']) };
    }
    case 'MsgAppResp':
      if (!isUint(v['index']) || typeof v['reject'] !== 'boolean' || !isUint(v['rejectHint']) || !isUint(v['logTerm'])) return bad('fields');
      return { ...env, type: t, index: index(v['index']), reject: v['reject'], rejectHint: index(v['rejectHint']), logTerm: term(v['logTerm']) };
    case 'MsgVote':
    case 'MsgPreVote':
      if (!isUint(v['index']) || !isUint(v['logTerm']) || typeof v['transfer'] !== 'boolean') return bad('fields');
      return { ...env, type: t, index: index(v['index']), logTerm: term(v['logTerm']), transfer: v['transfer'] };
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      if (typeof v['reject'] !== 'boolean') return bad('reject');
      return { ...env, type: t, reject: v['reject'] };
    case 'MsgSnap': {
      const s = snapshot(v['snapshot']);
      if (s === undefined) return bad('snapshot');
      return { ...env, type: t, snapshot: s };
    }
    case 'MsgHeartbeat':
      if (!isUint(v['commit']) || !isBytes(v['context'])) return bad('commit/context');
      return { ...env, type: t, commit: index(v['commit']), context: v['context'] };
    case 'MsgHeartbeatResp':
    case 'MsgReadIndex':
      if (!isBytes(v['context'])) return bad('context');
      return { ...env, type: t, context: v['context'] };
    case 'MsgReadIndexResp':
      if (!isUint(v['index']) || !isBytes(v['context'])) return bad('index/context');
      return { ...env, type: t, index: index(v['index']), context: v['context'] };
    case 'MsgTransferLeader':
    case 'MsgTimeoutNow':
      return { ...env, type: t };
    case 'MsgHup':
    case 'MsgBeat':
    case 'MsgCheckQuorum':
    case 'MsgSnapStatus':
    case 'MsgUnreachable':
      return new DecodeError(`${t} is local`);
  }
}
