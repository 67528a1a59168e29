// One client connection's protocol logic as a pure state machine (the etcd
// raft pattern, client side): every input is a method call carrying the
// current time, every effect comes back as an Action for the driver to carry
// out. No timers, sockets or promises in here, so backoff, heartbeats, ack
// order, dedup and resume are tested with a fake clock.
import { backoffDelayMs, type BackoffRange } from './backoff.js';
import { closeError, closeRule } from './close-codes.js';
import {
  ClosedError,
  ConnectionError,
  DispatchError,
  HandlerError,
  HeartbeatTimeoutError,
  type LongwireError,
  ProtocolError,
  ServerError,
  TimeoutError,
  UpstreamError,
} from './errors.js';
import { type AppBinding, type ClientFrame, decodeServerFrame, type Json, type MsgFrame, type NodeAddress, type PubFrame, type ServerFrame } from './frames.js';
import { IdSet } from './id-set.js';
import { Route } from './route.js';
import type { Status } from './status.js';

export type Delivery =
  | { readonly kind: 'msg'; readonly msg: MsgFrame; readonly epoch: number }
  | { readonly kind: 'pub'; readonly pub: PubFrame };

export type UpResult = { readonly ok: true; readonly data: unknown } | { readonly ok: false; readonly error: LongwireError };

export type Action =
  | { readonly type: 'dispatch'; readonly app: string | undefined; readonly tried: readonly string[] }
  | { readonly type: 'connect'; readonly url: string }
  | { readonly type: 'send'; readonly frame: ClientFrame }
  /** Close the current socket; the machine has already let go of it. */
  | { readonly type: 'close'; readonly code: number; readonly reason: string }
  | { readonly type: 'emit'; readonly status: Status }
  | { readonly type: 'deliver'; readonly delivery: Delivery }
  | { readonly type: 'settle'; readonly id: string; readonly result: UpResult };

export interface MachineConfig {
  readonly device: string;
  /** A fixed gateway URL list; without it the dispatcher is asked. */
  readonly urls: readonly string[] | undefined;
  readonly backoff: BackoffRange;
  /** The longer backoff after rate limits and connection caps (4008, 4029, 1013). */
  readonly limitBackoff: BackoffRange;
  /** Socket open plus welcome must take less than this. */
  readonly connectTimeoutMs: number;
  /** How long a redirect's node list is preferred over the dispatcher. */
  readonly redirectTtlMs: number;
  /** Redirects without a bound in between that are followed at once; more use backoff. */
  readonly redirectsInRowMax: number;
  readonly dedupIdsMax: number;
  /** Uniform in [0, 1): the backoff jitter. */
  readonly random: () => number;
}

/** The connection is dead when nothing arrived for this many heartbeat intervals. */
export const HEARTBEAT_DEAD_FACTOR = 2;
/** A topic the server could not subscribe (`owner-unavailable`) is asked for again after this, doubling per refusal in a row up to the max. */
export const SUB_RETRY_MIN_MS = 500;
export const SUB_RETRY_MAX_MS = 10_000;

/**
 * Codes the machine reports and closes its own socket with. Browsers only let a
 * script close with 1000 or 3000-4999, so a dead connection is reported as 1006
 * (as a browser would) but closed with 1000.
 */
export const CLIENT_CLOSE = { normal: 1000, protocolError: 4000, abnormal: 1006 } as const;

type Phase = 'idle' | 'waiting' | 'dispatching' | 'connecting' | 'handshaking' | 'open' | 'closed';

type QueueEntry = { readonly kind: 'msg'; readonly msg: MsgFrame & { readonly seq: number } } | { readonly kind: 'gap'; readonly frame: Extract<ServerFrame, { t: 'gap' }> };

interface AppState {
  token: string | undefined;
  /** The app is in this connection's hello or a bind was sent on it. */
  requested: boolean;
  bound: boolean;
  /**
   * Last seq whose handler resolved (or that a gap covered); resumes as `after`.
   * Invariant: acked <= processed <= delivered, where defined.
   */
  processed: number | undefined;
  /** Highest seq received; anything at or below it is a duplicate. */
  delivered: number | undefined;
  /** Last ack sent on the current connection. */
  acked: number | undefined;
  /**
   * Highest seq (or gap end) the server sent on the current connection. The
   * server refuses acks beyond what it sent on the connection (`invalid-ack`),
   * which a handler finishing after a reconnect, before the replay, would send.
   */
  seenOnConnection: number | undefined;
  /** Messages and gaps in seq order; the head is with the handler when `busy`. */
  readonly queue: QueueEntry[];
  busy: boolean;
  /** Bumped when the queue is thrown away, so late handler results are ignored. */
  epoch: number;
}

interface Subscription {
  readonly app: string;
  readonly topic: string;
  offset: number | undefined;
  /** Set when the server could not make it (`owner-unavailable`): when to ask again on this connection. */
  retryAtMs?: number;
  /** Such refusals in a row, for the backoff; a pub of the topic resets it. */
  refusals: number;
}

interface PendingUp {
  readonly app: string;
  readonly data: Json;
  readonly deadlineMs: number;
  sent: boolean;
}

export class ConnectionMachine {
  private phase: Phase = 'idle';
  private started = false;
  private readonly route: Route;
  private url = '';
  private attempt = 0;
  private retryAtMs = 0;
  private connectDeadlineMs = 0;
  private pingIntervalMs = 0;
  private lastReceivedMs = 0;
  private lastPingMs = 0;
  private redirectNodes: readonly NodeAddress[] | undefined;
  private redirectsInRow = 0;
  private readonly apps = new Map<string, AppState>();
  private readonly subs = new Map<string, Subscription>();
  private readonly ups = new Map<string, PendingUp>();
  private readonly seenIds: IdSet;
  private out: Action[] = [];

  constructor(private readonly config: MachineConfig) {
    this.route = new Route(config.urls);
    this.seenIds = new IdSet(config.dedupIdsMax);
  }

  // ---- inputs from the app ----

  /** Starts connecting, or, with no app bound yet, as soon as one is (a connection needs an app to route by). */
  start(nowMs: number): Action[] {
    this.started = true;
    if (this.phase === 'idle' && this.apps.size > 0) this.attemptConnect(nowMs);
    return this.flush();
  }

  /** Adds an app or refreshes its token; `after` seeds the resume point of a new app. */
  bind(nowMs: number, app: string, token: string | undefined, after?: number): Action[] {
    let a = this.apps.get(app);
    if (a === undefined) {
      a = { token, requested: false, bound: false, processed: after, delivered: after, acked: undefined, seenOnConnection: undefined, queue: [], busy: false, epoch: 0 };
      this.apps.set(app, a);
    } else if (token !== undefined) a.token = token;
    if (this.phase === 'open' && !a.requested) this.sendBind(app, a);
    if (this.phase === 'idle' && this.started) this.attemptConnect(nowMs);
    return this.flush();
  }

  unbind(app: string): Action[] {
    const a = this.apps.get(app);
    if (a === undefined) return [];
    this.apps.delete(app);
    // Once hello is sent the server may bind it any moment, so tell it either way.
    if ((this.phase === 'open' || this.phase === 'handshaking') && a.requested) this.send({ t: 'unbind', app });
    for (const [key, s] of this.subs) if (s.app === app) this.subs.delete(key);
    for (const [id, u] of this.ups) if (u.app === app) this.settle(id, { ok: false, error: new ClosedError('unbound', `app ${app} was unbound`) });
    return this.flush();
  }

  subscribe(app: string, topic: string, after?: number): Action[] {
    const key = subKey(app, topic);
    if (!this.subs.has(key)) {
      const s: Subscription = { app, topic, offset: after, refusals: 0 };
      this.subs.set(key, s);
      if (this.phase === 'open' && this.apps.get(app)?.bound === true) this.sendSub(s);
    }
    return this.flush();
  }

  unsubscribe(app: string, topic: string): Action[] {
    if (this.subs.delete(subKey(app, topic)) && this.phase === 'open' && this.apps.get(app)?.bound === true) {
      this.send({ t: 'unsub', app, topic });
    }
    return this.flush();
  }

  /** Queues an upstream frame; it is sent once the app is bound, and settles by reply or timeout. */
  up(id: string, app: string, data: Json, nowMs: number, timeoutMs: number): Action[] {
    if (this.phase === 'closed') {
      this.settleNow(id, new ClosedError('closed', 'the client is closed'));
    } else if (!this.apps.has(app)) {
      this.settleNow(id, new ClosedError('not-bound', `app ${app} is not bound on this client`));
    } else {
      const u: PendingUp = { app, data, deadlineMs: nowMs + timeoutMs, sent: false };
      this.ups.set(id, u);
      if (this.phase === 'open' && this.apps.get(app)?.bound === true) this.sendUp(id, u);
    }
    return this.flush();
  }

  /** Skips the rest of a backoff wait, e.g. when the platform reports the network is back. */
  retryNow(nowMs: number): Action[] {
    if (this.phase === 'waiting') this.attemptConnect(nowMs);
    return this.flush();
  }

  close(): Action[] {
    if (this.phase === 'closed') return [];
    if (this.hasSocket()) this.emitAction({ type: 'close', code: CLIENT_CLOSE.normal, reason: 'client closed' });
    this.finish(undefined);
    return this.flush();
  }

  // ---- inputs from the driver ----

  /** The handler of a delivered message settled; `error` when it threw or rejected. */
  onHandled(app: string, msg: MsgFrame, epoch: number, error: unknown, nowMs: number): Action[] {
    const a = this.apps.get(app);
    if (error !== undefined) {
      this.emit({ type: 'error', app, error: new HandlerError('handler-failed', `handler failed for ${app} message ${msg.id}`, { cause: error }) });
    }
    if (a === undefined || msg.seq === undefined || epoch !== a.epoch) return this.flush();
    if (error === undefined) {
      a.queue.shift();
      a.busy = false;
      a.processed = msg.seq;
      this.maybeAck(app, a);
      this.pump(app, a);
    } else {
      // Not processed: forget everything after it and reconnect from `processed`,
      // so the server redelivers it (its redelivery limit bounds the loop).
      a.queue.length = 0;
      a.busy = false;
      a.delivered = a.processed;
      a.epoch++;
      if (this.phase === 'open' || this.phase === 'handshaking') {
        this.lose(nowMs, CLIENT_CLOSE.normal, 'handler failed', new HandlerError('handler-failed', 'reconnecting to get the message redelivered', { cause: error }), true);
      }
    }
    return this.flush();
  }

  onDispatched(nowMs: number, nodes: readonly NodeAddress[], ttlSeconds: number): Action[] {
    if (this.phase !== 'dispatching') return [];
    if (nodes.length === 0) return this.onDispatchFailed(nowMs, new DispatchError('no-nodes', 'the dispatcher returned no nodes'));
    this.route.onDispatched(nodes, ttlSeconds, nowMs);
    this.attemptConnect(nowMs);
    return this.flush();
  }

  onDispatchFailed(nowMs: number, error: LongwireError): Action[] {
    if (this.phase !== 'dispatching') return [];
    this.emit({ type: 'error', error });
    this.scheduleRetry(nowMs, this.config.backoff);
    return this.flush();
  }

  /** Opening failed before the socket existed (a token callback threw, a bad URL). */
  onConnectFailed(nowMs: number, error: LongwireError): Action[] {
    if (this.phase !== 'connecting') return [];
    this.lose(nowMs, CLIENT_CLOSE.abnormal, error.message, error, false);
    return this.flush();
  }

  /** The socket opened; `tokens` are fresh tokens per app, fetched for this connection. */
  onSocketOpen(nowMs: number, tokens: ReadonlyMap<string, string>): Action[] {
    if (this.phase !== 'connecting') return [];
    this.phase = 'handshaking';
    this.lastReceivedMs = nowMs;
    const bindings: AppBinding[] = [];
    for (const [app, a] of this.apps) {
      a.token = tokens.get(app) ?? a.token;
      if (a.token === undefined) continue;
      a.requested = true;
      bindings.push(binding(app, a.token, a.processed));
    }
    this.send({ t: 'hello', device: this.config.device, apps: bindings });
    return this.flush();
  }

  onSocketClosed(nowMs: number, code: number, reason: string): Action[] {
    if (!this.hasSocket()) return [];
    this.lose(nowMs, code, reason, closeError(code, reason), false);
    return this.flush();
  }

  /** One decoded frame (before validation), or a codec failure. */
  onFrame(nowMs: number, value: unknown): Action[] {
    if (this.phase !== 'handshaking' && this.phase !== 'open') return [];
    this.lastReceivedMs = nowMs;
    const decoded = decodeServerFrame(value);
    if (decoded.ok) this.handleFrame(nowMs, decoded.frame);
    else this.protocolFailure(nowMs, decoded.error);
    return this.flush();
  }

  onCodecError(nowMs: number, error: string): Action[] {
    if (!this.hasSocket()) return [];
    this.protocolFailure(nowMs, error);
    return this.flush();
  }

  onTick(nowMs: number): Action[] {
    for (const [id, u] of this.ups) {
      if (nowMs >= u.deadlineMs) this.settle(id, { ok: false, error: new TimeoutError('up-timeout', `no reply to up ${id} in time`) });
    }
    switch (this.phase) {
      case 'waiting':
        if (nowMs >= this.retryAtMs) this.attemptConnect(nowMs);
        break;
      case 'connecting':
      case 'handshaking':
        if (nowMs >= this.connectDeadlineMs) {
          this.lose(nowMs, CLIENT_CLOSE.abnormal, 'connect timeout', new HeartbeatTimeoutError('connect-timeout', `no welcome from ${this.url} in time`), true);
        }
        break;
      case 'open':
        for (const s of this.subs.values()) {
          if (s.retryAtMs === undefined || nowMs < s.retryAtMs) continue;
          s.retryAtMs = undefined;
          if (this.apps.get(s.app)?.bound === true) this.sendSub(s);
        }
        if (nowMs >= this.lastReceivedMs + HEARTBEAT_DEAD_FACTOR * this.pingIntervalMs) {
          this.lose(nowMs, CLIENT_CLOSE.abnormal, 'heartbeat timeout', new HeartbeatTimeoutError('heartbeat-timeout', `nothing from ${this.url} for ${HEARTBEAT_DEAD_FACTOR} heartbeats`), true);
        } else if (nowMs >= this.lastPingMs + this.pingIntervalMs) {
          this.lastPingMs = nowMs;
          this.send({ t: 'ping' });
        }
        break;
      case 'idle':
      case 'dispatching':
      case 'closed':
        break;
    }
    return this.flush();
  }

  /** The earliest time onTick has something to do, for the driver's single timer. */
  nextDeadline(): number | undefined {
    let t = Infinity;
    for (const u of this.ups.values()) t = Math.min(t, u.deadlineMs);
    if (this.phase === 'waiting') t = Math.min(t, this.retryAtMs);
    if (this.phase === 'connecting' || this.phase === 'handshaking') t = Math.min(t, this.connectDeadlineMs);
    if (this.phase === 'open') {
      t = Math.min(t, this.lastPingMs + this.pingIntervalMs, this.lastReceivedMs + HEARTBEAT_DEAD_FACTOR * this.pingIntervalMs);
      for (const s of this.subs.values()) if (s.retryAtMs !== undefined) t = Math.min(t, s.retryAtMs);
    }
    return t === Infinity ? undefined : t;
  }

  /** Apps the driver fetches tokens for before connecting. */
  appNames(): string[] {
    return [...this.apps.keys()];
  }

  /** Last processed seq of an app, for apps that persist their resume point. */
  processedSeq(app: string): number | undefined {
    return this.apps.get(app)?.processed;
  }

  isClosed(): boolean {
    return this.phase === 'closed';
  }

  // ---- frames ----

  private handleFrame(nowMs: number, f: ServerFrame): void {
    switch (f.t) {
      case 'welcome':
        if (this.phase !== 'handshaking') return this.protocolFailure(nowMs, 'welcome twice');
        this.phase = 'open';
        this.attempt = 0;
        this.route.onConnected();
        this.pingIntervalMs = f.heartbeat * 1000;
        this.lastPingMs = nowMs;
        this.emit({ type: 'connected', url: this.url, node: f.node, session: f.session });
        for (const [app, a] of this.apps) if (!a.requested) this.sendBind(app, a);
        return;
      case 'pong':
        return;
      case 'error': {
        // A topic whose owner could not be reached: the subscription was not made, so it is asked for again.
        const s = f.code === 'owner-unavailable' && f.app !== undefined && f.topic !== undefined ? this.subs.get(subKey(f.app, f.topic)) : undefined;
        if (s !== undefined) s.retryAtMs = nowMs + Math.min(SUB_RETRY_MAX_MS, SUB_RETRY_MIN_MS * 2 ** s.refusals++);
        this.emit({ type: 'error', error: new ServerError(f.code, f.message) });
        return;
      }
      case 'redirect':
        this.redirectNodes = f.nodes;
        return;
      case 'reply': {
        const result: UpResult = f.ok ? { ok: true, data: f.data } : { ok: false, error: new UpstreamError(f.error, `up ${f.id} failed: ${f.error}`) };
        this.settle(f.id, result);
        return;
      }
      default:
        if (this.phase !== 'open') return this.protocolFailure(nowMs, `${f.t} before welcome`);
        return this.handleAppFrame(f);
    }
  }

  private handleAppFrame(f: Extract<ServerFrame, { t: 'bound' | 'unbound' | 'msg' | 'gap' | 'pub' }>): void {
    const a = this.apps.get(f.app);
    if (a === undefined) return; // unbound locally while the frame was in flight
    switch (f.t) {
      case 'bound':
        a.bound = true;
        this.redirectsInRow = 0;
        this.emit({ type: 'bound', app: f.app, user: f.user, seq: f.seq });
        for (const s of this.subs.values()) if (s.app === f.app) this.sendSub(s);
        for (const [id, u] of this.ups) if (u.app === f.app && !u.sent) this.sendUp(id, u);
        return;
      case 'unbound':
        a.bound = false;
        a.requested = false;
        return;
      case 'msg':
        return this.onMsg(f.app, a, f);
      case 'gap':
        a.seenOnConnection = Math.max(a.seenOnConnection ?? 0, f.to);
        if (a.delivered !== undefined && f.to <= a.delivered) return this.maybeAck(f.app, a);
        a.delivered = f.to;
        a.queue.push({ kind: 'gap', frame: f });
        return this.pump(f.app, a);
      case 'pub': {
        const s = this.subs.get(subKey(f.app, f.topic));
        if (s === undefined || (s.offset !== undefined && f.offset <= s.offset)) return;
        s.offset = f.offset;
        s.refusals = 0;
        this.emitAction({ type: 'deliver', delivery: { kind: 'pub', pub: f } });
        return;
      }
    }
  }

  private onMsg(app: string, a: AppState, m: MsgFrame): void {
    if (m.seq !== undefined) a.seenOnConnection = Math.max(a.seenOnConnection ?? 0, m.seq);
    if (m.seq === undefined) {
      // Broadcasts and qos 0 carry no seq: dedup by id within a bounded window.
      if (this.seenIds.add(`${app}\u0000${m.id}`)) this.emitAction({ type: 'deliver', delivery: { kind: 'msg', msg: m, epoch: a.epoch } });
      return;
    }
    if (a.delivered !== undefined && m.seq <= a.delivered) {
      // A redelivery: if it is already processed, the server missed our ack.
      if (a.processed !== undefined && m.seq <= a.processed) {
        a.acked = undefined;
        this.maybeAck(app, a);
      }
      return;
    }
    a.delivered = m.seq;
    a.queue.push({ kind: 'msg', msg: { ...m, seq: m.seq } });
    this.pump(app, a);
  }

  /** Hands the queue head to the handler, one at a time per app, so acks follow seq order. */
  private pump(app: string, a: AppState): void {
    while (!a.busy) {
      const head = a.queue[0];
      if (head === undefined) return;
      if (head.kind === 'msg') {
        a.busy = true;
        this.emitAction({ type: 'deliver', delivery: { kind: 'msg', msg: head.msg, epoch: a.epoch } });
        return;
      }
      a.queue.shift();
      a.processed = Math.max(a.processed ?? 0, head.frame.to);
      this.emit({ type: 'gap', app, from: head.frame.from, to: head.frame.to, reason: head.frame.reason });
      this.maybeAck(app, a);
    }
  }

  private maybeAck(app: string, a: AppState): void {
    if (this.phase !== 'open' || !a.bound || a.processed === undefined || a.seenOnConnection === undefined) return;
    const seq = Math.min(a.processed, a.seenOnConnection);
    if (a.acked !== undefined && a.acked >= seq) return;
    a.acked = seq;
    this.send({ t: 'ack', app, seq });
  }

  // ---- connection lifecycle ----

  private attemptConnect(nowMs: number): void {
    const next = this.route.next(nowMs);
    if (next.type === 'dispatch') {
      this.phase = 'dispatching';
      this.emitAction({ type: 'dispatch', app: this.apps.keys().next().value, tried: next.tried });
      return;
    }
    this.phase = 'connecting';
    this.url = next.url;
    this.connectDeadlineMs = nowMs + this.config.connectTimeoutMs;
    this.redirectNodes = undefined;
    this.emit({ type: 'connecting', url: next.url });
    this.emitAction({ type: 'connect', url: next.url });
  }

  private protocolFailure(nowMs: number, message: string): void {
    this.lose(nowMs, CLIENT_CLOSE.protocolError, message, new ProtocolError('bad-frame', message), true);
  }

  /** The connection is gone (or we are ending it): decide whether and when to come back. */
  private lose(nowMs: number, code: number, reason: string, error: LongwireError, closeSocket: boolean): void {
    if (closeSocket) this.emitAction({ type: 'close', code: code === CLIENT_CLOSE.protocolError ? code : CLIENT_CLOSE.normal, reason });
    for (const a of this.apps.values()) {
      a.requested = false;
      a.bound = false;
      a.acked = undefined;
      a.seenOnConnection = undefined;
    }
    for (const [id, u] of this.ups) {
      // Sent but unanswered: the reply would come on the lost session. Not resent, as
      // the webhook may already have run.
      if (u.sent) this.settle(id, { ok: false, error: new ConnectionError('connection-lost', `connection lost before the reply to up ${id}`, { cause: error }) });
    }
    const rule = closeSocket ? { reconnect: 'backoff' as const } : closeRule(code);
    if (rule.reconnect === 'never') {
      this.emit({ type: 'disconnected', code, reason, willReconnect: false, error });
      this.finish(error);
      return;
    }
    const redirect = rule.reconnect === 'now' ? this.redirectNodes : undefined;
    if (redirect !== undefined && redirect.length > 0 && this.redirectsInRow < this.config.redirectsInRowMax) {
      this.redirectsInRow++;
      this.route.redirect(redirect, this.config.redirectTtlMs, nowMs);
      this.retryAtMs = nowMs;
      this.phase = 'waiting';
      this.emit({ type: 'disconnected', code, reason, willReconnect: true, retryInMs: 0, error });
      return;
    }
    this.route.onFailed(this.url);
    const delay = this.scheduleRetry(nowMs, rule.reconnect === 'slow' ? this.config.limitBackoff : this.config.backoff);
    this.emit({ type: 'disconnected', code, reason, willReconnect: true, retryInMs: delay, error });
  }

  private scheduleRetry(nowMs: number, range: BackoffRange): number {
    const delay = backoffDelayMs(range, this.attempt, this.config.random);
    this.attempt++;
    this.retryAtMs = nowMs + delay;
    this.phase = 'waiting';
    return delay;
  }

  private finish(error: LongwireError | undefined): void {
    this.phase = 'closed';
    for (const id of [...this.ups.keys()]) this.settle(id, { ok: false, error: new ClosedError('closed', 'the client closed', { cause: error }) });
    this.emit(error === undefined ? { type: 'closed' } : { type: 'closed', error });
  }

  private hasSocket(): boolean {
    return this.phase === 'connecting' || this.phase === 'handshaking' || this.phase === 'open';
  }

  // ---- output ----

  private sendBind(app: string, a: AppState): void {
    if (a.token === undefined) return;
    a.requested = true;
    this.send({ t: 'bind', ...binding(app, a.token, a.processed) });
  }

  private sendSub(s: Subscription): void {
    s.retryAtMs = undefined;
    this.send(s.offset === undefined ? { t: 'sub', app: s.app, topic: s.topic } : { t: 'sub', app: s.app, topic: s.topic, after: s.offset });
  }

  private sendUp(id: string, u: PendingUp): void {
    u.sent = true;
    this.send({ t: 'up', app: u.app, id, data: u.data });
  }

  private settle(id: string, result: UpResult): void {
    if (this.ups.delete(id)) this.emitAction({ type: 'settle', id, result });
  }

  private settleNow(id: string, error: LongwireError): void {
    this.emitAction({ type: 'settle', id, result: { ok: false, error } });
  }

  private send(frame: ClientFrame): void {
    this.emitAction({ type: 'send', frame });
  }

  private emit(status: Status): void {
    this.emitAction({ type: 'emit', status });
  }

  private emitAction(a: Action): void {
    this.out.push(a);
  }

  private flush(): Action[] {
    const out = this.out;
    this.out = [];
    return out;
  }
}

function subKey(app: string, topic: string): string {
  return `${app}\u0000${topic}`;
}

function binding(app: string, token: string, after: number | undefined): AppBinding {
  return after === undefined ? { app, token } : { app, token, after };
}
