// WebSocket frames of the contract (docs/PROTOCOL.md), one union member per
// frame type. Client frames are validated once here, at the edge; code past
// decodeClientFrame trusts their shape.
import type { Json } from '../saver/saver.js';

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

export type ServerFrame =
  | { readonly t: 'welcome'; readonly session: string; readonly node: string; readonly heartbeat: number }
  | { readonly t: 'bound'; readonly app: string; readonly user: string; readonly seq: number }
  | { readonly t: 'unbound'; readonly app: string }
  | {
      readonly t: 'msg';
      readonly app: string;
      readonly seq?: number;
      readonly id: string;
      readonly data: Json;
      readonly ts: number;
      readonly qos: 0 | 1;
    }
  | { readonly t: 'gap'; readonly app: string; readonly from: number; readonly to: number; readonly reason: string }
  | { readonly t: 'pub'; readonly app: string; readonly topic: string; readonly offset: number; readonly data: Json; readonly ts: number }
  | { readonly t: 'reply'; readonly id: string; readonly ok: true; readonly data: Json }
  | { readonly t: 'reply'; readonly id: string; readonly ok: false; readonly error: string }
  | { readonly t: 'redirect'; readonly reason: string; readonly nodes: readonly { id: string; url: string; zone: string }[] }
  /** `app` and `topic` name the `sub` an `owner-unavailable` answers (the client asks again later). */
  | { readonly t: 'error'; readonly code: string; readonly message: string; readonly app?: string; readonly topic?: string }
  | { readonly t: 'pong' };

export const APP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Users, devices, topics and message ids: non-empty, bounded, no control characters. */
export const ID_CHARS_MAX = 256;
const ID_RE = /^[^\u0000-\u001f\u007f]+$/;
export const APPS_PER_CONNECTION_MAX = 16;
export const TOKEN_CHARS_MAX = 4096;

export function isIdentifier(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= ID_CHARS_MAX && ID_RE.test(v);
}

export function isAppName(v: unknown): v is string {
  return typeof v === 'string' && APP_NAME_RE.test(v);
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** A decode failure says what is wrong, for the error frame sent before close 4000. */
export interface FrameError {
  readonly error: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function binding(o: Record<string, unknown>, where: string): AppBinding | FrameError {
  if (!isAppName(o.app)) return { error: `${where}: "app" must match ${APP_NAME_RE}` };
  if (typeof o.token !== 'string' || o.token.length === 0 || o.token.length > TOKEN_CHARS_MAX) {
    return { error: `${where}: "token" must be a non-empty string` };
  }
  if (o.after !== undefined && !isSeq(o.after)) return { error: `${where}: "after" must be a non-negative integer` };
  return o.after === undefined ? { app: o.app, token: o.token } : { app: o.app, token: o.token, after: o.after };
}

function isError(v: object): v is FrameError {
  return 'error' in v;
}

/** Validates a decoded client object against the contract. */
export function toClientFrame(o: unknown): ClientFrame | FrameError {
  if (!isRecord(o)) return { error: 'frame must be an object' };
  switch (o.t) {
    case 'hello': {
      if (!isIdentifier(o.device)) return { error: 'hello: "device" must be a non-empty string of at most 256 characters' };
      const apps: AppBinding[] = [];
      if (o.apps !== undefined) {
        if (!Array.isArray(o.apps) || o.apps.length > APPS_PER_CONNECTION_MAX) {
          return { error: `hello: "apps" must be an array of at most ${APPS_PER_CONNECTION_MAX}` };
        }
        for (const a of o.apps) {
          if (!isRecord(a)) return { error: 'hello: each of "apps" must be an object' };
          const b = binding(a, 'hello.apps');
          if (isError(b)) return b;
          apps.push(b);
        }
      }
      return { t: 'hello', device: o.device, apps };
    }
    case 'bind': {
      const b = binding(o, 'bind');
      return isError(b) ? b : { t: 'bind', ...b };
    }
    case 'unbind':
      return isAppName(o.app) ? { t: 'unbind', app: o.app } : { error: 'unbind: bad "app"' };
    case 'ack':
      if (!isAppName(o.app)) return { error: 'ack: bad "app"' };
      if (!isSeq(o.seq)) return { error: 'ack: "seq" must be a non-negative integer' };
      return { t: 'ack', app: o.app, seq: o.seq };
    case 'up':
      if (!isAppName(o.app)) return { error: 'up: bad "app"' };
      if (!isIdentifier(o.id)) return { error: 'up: "id" must be a non-empty string' };
      if (o.data === undefined) return { error: 'up: "data" is required' };
      return { t: 'up', app: o.app, id: o.id, data: o.data as Json };
    case 'sub':
    case 'unsub': {
      if (!isAppName(o.app)) return { error: `${o.t}: bad "app"` };
      if (!isIdentifier(o.topic)) return { error: `${o.t}: "topic" must be a non-empty string` };
      if (o.t === 'unsub') return { t: 'unsub', app: o.app, topic: o.topic };
      if (o.after !== undefined && !isSeq(o.after)) return { error: 'sub: "after" must be a non-negative integer' };
      return o.after === undefined ? { t: 'sub', app: o.app, topic: o.topic } : { t: 'sub', app: o.app, topic: o.topic, after: o.after };
    }
    case 'ping':
      return { t: 'ping' };
    default:
      // Only a string is echoed (cut first): stringifying any client value recursed
      // without bound, and a deeply nested "t" overflowed the stack and took the node down.
      return { error: `unknown frame type ${typeof o.t === 'string' ? JSON.stringify(o.t.slice(0, 40)) : typeof o.t}` };
  }
}
