// The driver: carries out the connection machine's actions with a real
// transport, clock and fetch, and turns them into the public API (handlers,
// promises, status events). All protocol decisions live in the machine.
import { type Codec, codecFor } from './codec.js';
import { type Clock, systemClock } from './clock.js';
import { type Action, ConnectionMachine, type Delivery } from './connection-machine.js';
import { type DeviceStore, randomHex, resolveDeviceId } from './device-id.js';
import { fetchDispatch } from './dispatch.js';
import { ClosedError, ConnectionError, DispatchError, HandlerError, type LongwireError } from './errors.js';
import type { ClientFrame, Json } from './frames.js';
import {
  type AppOptions,
  checkTokenSource,
  type ClientOptions,
  type MessageHandler,
  type ResolvedOptions,
  resolveOptions,
  type TopicHandler,
} from './options.js';
import { Outbox } from './outbox.js';
import { StatusHub } from './status-hub.js';
import type { Status } from './status.js';
import { tokenSubject } from './token.js';
import type { Socket, Transport } from './transport.js';

export interface Platform {
  readonly transport: Transport;
  readonly deviceStore: DeviceStore | undefined;
}

interface PendingCall {
  readonly resolve: (data: unknown) => void;
  readonly reject: (err: LongwireError) => void;
}

interface BindWaiter {
  readonly resolve: () => void;
  readonly reject: (err: LongwireError) => void;
}

export class LongwireClient {
  /** The device id sent in `hello`. */
  readonly device: string;
  private readonly opts: ResolvedOptions;
  private readonly clock: Clock;
  private readonly fetchFn: typeof fetch;
  private readonly codec: Codec;
  private readonly machine: ConnectionMachine;
  private readonly hub = new StatusHub();
  private readonly outbox: Outbox;
  private readonly handlers = new Map<string, MessageHandler>();
  private readonly staticTokens = new Map<string, string>();
  private readonly topicHandlers = new Map<string, TopicHandler>();
  private readonly calls = new Map<string, PendingCall>();
  private readonly bindWaiters = new Map<string, BindWaiter[]>();
  /** Apps the server confirmed on the current connection, so a repeated bind resolves at once. */
  private readonly boundApps = new Set<string>();
  private readonly idPrefix = randomHex(4);
  private nextId = 0;
  private socket: Socket | undefined;
  /** Bumped whenever the machine lets go of a socket or starts a new attempt; stale callbacks compare it. */
  private generation = 0;
  private user: string | undefined;
  /** Cancels the single wake-up timer for the machine's next deadline. */
  private cancelTimer: (() => void) | undefined;
  private readonly closedPromise: Promise<void | Error>;
  private resolveClosed: (v: void | Error) => void = () => {};

  constructor(options: ClientOptions, private readonly platform: Platform) {
    this.opts = resolveOptions(options);
    this.clock = options.clock ?? systemClock;
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.codec = codecFor(this.opts.protocol);
    this.device = resolveDeviceId(options.device, platform.deviceStore);
    this.user = this.opts.user;
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    this.outbox = new Outbox((frame) => this.write(frame));
    this.machine = new ConnectionMachine({
      device: this.device,
      urls: this.opts.urls,
      backoff: { minMs: this.opts.backoffMinMs, maxMs: this.opts.backoffMaxMs },
      limitBackoff: { minMs: this.opts.limitBackoffMinMs, maxMs: this.opts.limitBackoffMaxMs },
      connectTimeoutMs: this.opts.connectTimeoutMs,
      redirectTtlMs: this.opts.redirectTtlMs,
      redirectsInRowMax: this.opts.redirectsInRowMax,
      dedupIdsMax: this.opts.dedupIdsMax,
      random: options.random ?? Math.random,
    });
    for (const a of this.opts.apps) this.register(a);
    this.apply(this.machine.start(this.clock.now()));
  }

  /** Binds an app on this connection (and every later one); resolves when the server confirms. */
  bind(app: string, handler: MessageHandler, options: { token?: string; after?: number } = {}): Promise<void> {
    if (this.machine.isClosed()) return Promise.reject(new ClosedError('closed', 'the client is closed'));
    checkTokenSource(app, options.token, this.opts.getToken);
    const bound = this.boundApps.has(app) ? Promise.resolve() : this.waitBound(app);
    // Fire-and-forget binds must not turn a later close into an unhandled rejection;
    // callers that await still get the error.
    bound.catch(() => {});
    const a: AppOptions = { app, handler, ...options };
    this.register(a);
    return bound;
  }

  unbind(app: string): void {
    this.boundApps.delete(app);
    this.handlers.delete(app);
    this.staticTokens.delete(app);
    for (const key of [...this.topicHandlers.keys()]) if (key.startsWith(`${app}\u0000`)) this.topicHandlers.delete(key);
    this.rejectBindWaiters(app, new ClosedError('unbound', `app ${app} was unbound`));
    this.apply(this.machine.unbind(app));
  }

  /** Subscribes to a topic of a bound app; resumes after the last offset seen when the connection comes back. */
  subscribe(app: string, topic: string, handler: TopicHandler, options: { after?: number } = {}): void {
    this.topicHandlers.set(topicKey(app, topic), handler);
    this.apply(this.machine.subscribe(app, topic, options.after));
  }

  unsubscribe(app: string, topic: string): void {
    this.topicHandlers.delete(topicKey(app, topic));
    this.apply(this.machine.unsubscribe(app, topic));
  }

  /** Sends data upstream to the app's webhook; resolves with the reply's data, rejects with UpstreamError, TimeoutError, ConnectionError or ClosedError. */
  up(app: string, data: Json, options: { timeoutMs?: number } = {}): Promise<unknown> {
    const id = `${this.idPrefix}-${(this.nextId++).toString(36)}`;
    const p = new Promise<unknown>((resolve, reject) => this.calls.set(id, { resolve, reject }));
    this.apply(this.machine.up(id, app, data, this.clock.now(), options.timeoutMs ?? this.opts.upTimeoutMs));
    return p;
  }

  /** Last seq whose handler resolved, for apps that persist their resume point. */
  processedSeq(app: string): number | undefined {
    return this.machine.processedSeq(app);
  }

  onStatus(listener: (s: Status) => void): () => void {
    return this.hub.on(listener);
  }

  status(): AsyncIterable<Status> {
    return this.hub.iterate();
  }

  /** Resolves when the client stops for good: undefined after close(), the error after 4001/4002. */
  closed(): Promise<void | Error> {
    return this.closedPromise;
  }

  /** Reconnects now instead of at the end of the current backoff (the browser entry calls it on `online`). */
  retryNow(): void {
    this.apply(this.machine.retryNow(this.clock.now()));
  }

  close(): Promise<void | Error> {
    this.apply(this.machine.close());
    return this.closedPromise;
  }

  // ---- carrying out actions ----

  private register(a: AppOptions): void {
    this.handlers.set(a.app, a.handler);
    if (a.token !== undefined) this.staticTokens.set(a.app, a.token);
    const token = a.token;
    if (token !== undefined || this.opts.getToken === undefined) {
      this.apply(this.machine.bind(this.clock.now(), a.app, token, a.after));
      return;
    }
    // Registered with no token first, so a connect in progress includes it in hello.
    this.apply(this.machine.bind(this.clock.now(), a.app, undefined, a.after));
    this.tokenFor(a.app).then(
      (t) => this.apply(this.machine.bind(this.clock.now(), a.app, t)),
      (err: unknown) => this.hub.publish({ type: 'error', app: a.app, error: new ConnectionError('token-failed', `getToken(${a.app}) failed`, { cause: err }) }),
    );
  }

  private apply(actions: readonly Action[]): void {
    for (const a of actions) this.act(a);
    this.arm();
  }

  private act(a: Action): void {
    switch (a.type) {
      case 'send':
        this.outbox.push(a.frame);
        return;
      case 'connect':
        this.generation++;
        void this.connect(a.url, this.generation);
        return;
      case 'dispatch':
        this.generation++;
        void this.dispatch(a.app, a.tried, this.generation);
        return;
      case 'close':
        this.generation++;
        this.outbox.flush();
        this.socket?.close(a.code, a.reason);
        this.socket = undefined;
        return;
      case 'emit':
        this.onEmit(a.status);
        return;
      case 'deliver':
        this.deliver(a.delivery);
        return;
      case 'settle': {
        const call = this.calls.get(a.id);
        this.calls.delete(a.id);
        if (a.result.ok) call?.resolve(a.result.data);
        else call?.reject(a.result.error);
        return;
      }
    }
  }

  private onEmit(s: Status): void {
    if (s.type === 'disconnected') this.boundApps.clear();
    if (s.type === 'bound') {
      this.boundApps.add(s.app);
      for (const w of this.bindWaiters.get(s.app) ?? []) w.resolve();
      this.bindWaiters.delete(s.app);
    }
    if (s.type === 'closed') {
      this.cancelTimer?.();
      this.cancelTimer = undefined;
      for (const app of [...this.bindWaiters.keys()]) this.rejectBindWaiters(app, s.error ?? new ClosedError('closed', 'the client closed'));
    }
    this.hub.publish(s);
    if (s.type === 'closed') this.resolveClosed(s.error);
  }

  private deliver(d: Delivery): void {
    if (d.kind === 'pub') {
      const { t: _t, ...msg } = d.pub;
      const handler = this.topicHandlers.get(topicKey(msg.app, msg.topic));
      if (handler === undefined) return;
      runHandler(() => handler(msg)).then((err) => {
        if (err !== undefined) {
          this.hub.publish({ type: 'error', app: msg.app, error: new HandlerError('handler-failed', `topic handler failed for ${msg.topic}`, { cause: err }) });
        }
      });
      return;
    }
    const { t: _t, ...msg } = d.msg;
    const handler = this.handlers.get(msg.app);
    if (handler === undefined) return;
    runHandler(() => handler(msg)).then((err) => this.apply(this.machine.onHandled(msg.app, d.msg, d.epoch, err, this.clock.now())));
  }

  private async dispatch(app: string | undefined, tried: readonly string[], gen: number): Promise<void> {
    const dispatchUrl = this.opts.dispatchUrl;
    if (dispatchUrl === undefined) return;
    try {
      const user = app === undefined ? '' : await this.userFor(app);
      const answer = await fetchDispatch(this.fetchFn, { dispatchUrl, app: app ?? '', user, tried }, this.opts.dispatchTimeoutMs, this.clock);
      if (gen === this.generation) this.apply(this.machine.onDispatched(this.clock.now(), answer.nodes, answer.ttl));
    } catch (err) {
      const error = err instanceof DispatchError ? err : new DispatchError('dispatch-failed', 'could not ask the dispatcher', { cause: err });
      if (gen === this.generation) this.apply(this.machine.onDispatchFailed(this.clock.now(), error));
    }
  }

  private async connect(url: string, gen: number): Promise<void> {
    let tokens: Map<string, string>;
    try {
      const apps = this.machine.appNames();
      const list = await Promise.all(apps.map(async (app) => [app, await this.tokenFor(app)] as const));
      tokens = new Map(list);
    } catch (err) {
      if (gen === this.generation) this.apply(this.machine.onConnectFailed(this.clock.now(), new ConnectionError('token-failed', 'getToken failed', { cause: err })));
      return;
    }
    if (gen !== this.generation) return;
    try {
      this.socket = this.platform.transport(url, this.codec.protocol, {
        onOpen: () => {
          if (gen !== this.generation) return;
          const chosen = this.socket?.protocol ?? '';
          if (chosen !== this.codec.protocol) this.apply(this.machine.onCodecError(this.clock.now(), `server chose subprotocol "${chosen}"`));
          else this.apply(this.machine.onSocketOpen(this.clock.now(), tokens));
        },
        onMessage: (data) => {
          if (gen !== this.generation) return;
          const decoded = this.codec.decode(data);
          if (decoded.ok) this.apply(this.machine.onFrame(this.clock.now(), decoded.value));
          else this.apply(this.machine.onCodecError(this.clock.now(), decoded.error));
        },
        onClose: (code, reason) => {
          if (gen !== this.generation) return;
          this.socket = undefined;
          this.apply(this.machine.onSocketClosed(this.clock.now(), code, reason));
        },
      });
    } catch (err) {
      this.apply(this.machine.onConnectFailed(this.clock.now(), new ConnectionError('open-failed', `cannot open ${url}`, { cause: err })));
    }
  }

  private write(frame: ClientFrame): void {
    try {
      this.socket?.send(this.codec.encode(frame));
    } catch (err) {
      // A socket closing under us: its close event follows and drives the reconnect.
      this.hub.publish({ type: 'error', error: new ConnectionError('send-failed', `could not send ${frame.t}`, { cause: err }) });
    }
  }

  private arm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const at = this.machine.nextDeadline();
    if (at === undefined) return;
    this.cancelTimer = this.clock.setTimeout(() => {
      this.cancelTimer = undefined;
      this.apply(this.machine.onTick(this.clock.now()));
    }, Math.max(0, at - this.clock.now()));
  }

  private async tokenFor(app: string): Promise<string> {
    const fixed = this.staticTokens.get(app);
    if (fixed !== undefined) return fixed;
    if (this.opts.getToken === undefined) throw new ConnectionError('no-token', `no token for app ${app}`);
    return await this.opts.getToken(app);
  }

  private async userFor(app: string): Promise<string> {
    if (this.user !== undefined) return this.user;
    const sub = tokenSubject(await this.tokenFor(app));
    if (sub === undefined) throw new DispatchError('no-user', 'pass `user`: the token has no readable sub claim');
    this.user = sub;
    return sub;
  }

  private waitBound(app: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const list = this.bindWaiters.get(app) ?? [];
      list.push({ resolve, reject });
      this.bindWaiters.set(app, list);
    });
  }

  private rejectBindWaiters(app: string, err: LongwireError): void {
    for (const w of this.bindWaiters.get(app) ?? []) w.reject(err);
    this.bindWaiters.delete(app);
  }
}

function topicKey(app: string, topic: string): string {
  return `${app}\u0000${topic}`;
}

/** Runs a handler and settles with its error (undefined on success); never rejects. */
async function runHandler(fn: () => void | Promise<void>): Promise<unknown> {
  try {
    await fn();
    return undefined;
  } catch (err) {
    return err ?? new Error('handler threw a nullish value');
  }
}
