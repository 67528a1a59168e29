// Frames of the contract (PROTOCOL.md, WebSocket section), one union member
// per frame type. Server frames are validated once, here at the edge; the
// connection machine trusts their shape.

export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

export interface AppBinding {
  readonly app: string;
  readonly token: string;
  readonly after?: number;
}

export type ClientFrame =
  | { readonly t: 'hello'; readonly device: string; readonly apps: readonly AppBinding[] }
  | ({ readonly t: 'bind' } & AppBinding)
  | { readonly t: 'unbind'; readonly app: string }
  | { readonly t: 'ack'; readonly app: string; readonly seq: number }
  | { readonly t: 'up'; readonly app: string; readonly id: string; readonly data: Json }
  | { readonly t: 'sub'; readonly app: string; readonly topic: string; readonly after?: number }
  | { readonly t: 'unsub'; readonly app: string; readonly topic: string }
  | { readonly t: 'ping' };

export interface NodeAddress {
  readonly id: string;
  readonly url: string;
  readonly zone: string;
}

export type MsgFrame = {
  readonly t: 'msg';
  readonly app: string;
  readonly seq?: number;
  readonly id: string;
  readonly data: unknown;
  readonly ts: number;
  readonly qos: 0 | 1;
};

export type PubFrame = {
  readonly t: 'pub';
  readonly app: string;
  readonly topic: string;
  readonly offset: number;
  readonly data: unknown;
  readonly ts: number;
};

/**
 * 'expired' | 'overflow' | 'redelivery-limit' in the contract; any other string
 * is passed through rather than dropping the connection over a new reason.
 */
export type GapReason = string;

export type ServerFrame =
  | { readonly t: 'welcome'; readonly session: string; readonly node: string; readonly heartbeat: number }
  | { readonly t: 'bound'; readonly app: string; readonly user: string; readonly seq: number }
  | { readonly t: 'unbound'; readonly app: string }
  | MsgFrame
  | { readonly t: 'gap'; readonly app: string; readonly from: number; readonly to: number; readonly reason: GapReason }
  | PubFrame
  | { readonly t: 'reply'; readonly id: string; readonly ok: true; readonly data: unknown }
  | { readonly t: 'reply'; readonly id: string; readonly ok: false; readonly error: string }
  | { readonly t: 'redirect'; readonly reason: string; readonly nodes: readonly NodeAddress[] }
  /** `app` and `topic` name the `sub` an `owner-unavailable` answers. */
  | { readonly t: 'error'; readonly code: string; readonly message: string; readonly app?: string; readonly topic?: string }
  | { readonly t: 'pong' };

/** A decoded frame, or why it was refused (the machine then closes with 4000). */
export type DecodedFrame = { readonly ok: true; readonly frame: ServerFrame } | { readonly ok: false; readonly error: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/** The server may name nodes by address object (as the dispatcher does) or by bare URL. */
export function decodeNodes(v: unknown): NodeAddress[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: NodeAddress[] = [];
  for (const n of v) {
    if (isString(n)) out.push({ id: n, url: n, zone: '' });
    else if (isRecord(n) && isString(n.url)) {
      out.push({ id: typeof n.id === 'string' ? n.id : n.url, url: n.url, zone: typeof n.zone === 'string' ? n.zone : '' });
    } else return undefined;
  }
  return out;
}



export function decodeServerFrame(v: unknown): DecodedFrame {
  const r = validate(v);
  return 't' in r ? { ok: true, frame: r } : { ok: false, error: r.invalid };
}

function validate(v: unknown): ServerFrame | { readonly invalid: string } {
  if (!isRecord(v) || typeof v.t !== 'string') return { invalid: 'frame is not an object with a string "t"' };
  const bad = (field: string) => ({ invalid: `${v.t}: bad "${field}"` });
  switch (v.t) {
    case 'welcome':
      if (!isString(v.session)) return bad('session');
      if (!isString(v.node)) return bad('node');
      if (typeof v.heartbeat !== 'number' || !(v.heartbeat > 0)) return bad('heartbeat');
      return { t: 'welcome', session: v.session, node: v.node, heartbeat: v.heartbeat };
    case 'bound':
      if (!isString(v.app)) return bad('app');
      if (typeof v.user !== 'string') return bad('user');
      if (!isSeq(v.seq)) return bad('seq');
      return { t: 'bound', app: v.app, user: v.user, seq: v.seq };
    case 'unbound':
      if (!isString(v.app)) return bad('app');
      return { t: 'unbound', app: v.app };
    case 'msg': {
      if (!isString(v.app)) return bad('app');
      if (v.seq !== undefined && v.seq !== null && !isSeq(v.seq)) return bad('seq');
      if (!isString(v.id)) return bad('id');
      const qos = v.qos === 0 || v.qos === 1 ? v.qos : isSeq(v.seq) ? 1 : 0;
      const base = { t: 'msg', app: v.app, id: v.id, data: v.data ?? null, ts: typeof v.ts === 'number' ? v.ts : 0, qos } as const;
      return isSeq(v.seq) ? { ...base, seq: v.seq } : base;
    }
    case 'gap':
      if (!isString(v.app)) return bad('app');
      if (!isSeq(v.from)) return bad('from');
      if (!isSeq(v.to) || v.to < v.from) return bad('to');
      if (!isString(v.reason)) return bad('reason');
      return { t: 'gap', app: v.app, from: v.from, to: v.to, reason: v.reason };
    case 'pub':
      if (!isString(v.app)) return bad('app');
      if (!isString(v.topic)) return bad('topic');
      if (!isSeq(v.offset)) return bad('offset');
      return { t: 'pub', app: v.app, topic: v.topic, offset: v.offset, data: v.data ?? null, ts: typeof v.ts === 'number' ? v.ts : 0 };
    case 'reply':
      if (!isString(v.id)) return bad('id');
      if (v.ok === true) return { t: 'reply', id: v.id, ok: true, data: v.data ?? null };
      if (v.ok !== false) return bad('ok');
      // Tolerate an {code, message} object where the contract has a bare code.
      if (isRecord(v.error) && isString(v.error.code)) return { t: 'reply', id: v.id, ok: false, error: v.error.code };
      return { t: 'reply', id: v.id, ok: false, error: isString(v.error) ? v.error : 'unknown' };
    case 'redirect': {
      const nodes = decodeNodes(v.nodes);
      if (nodes === undefined) return bad('nodes');
      return { t: 'redirect', reason: typeof v.reason === 'string' ? v.reason : '', nodes };
    }
    case 'error':
      return {
        t: 'error',
        code: typeof v.code === 'string' ? v.code : 'unknown',
        message: typeof v.message === 'string' ? v.message : '',
        ...(typeof v.app === 'string' && typeof v.topic === 'string' ? { app: v.app, topic: v.topic } : {}),
      };
    case 'pong':
      return { t: 'pong' };
    default:
      return { invalid: `unknown frame type "${v.t}"` };
  }
}
