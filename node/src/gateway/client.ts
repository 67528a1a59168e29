// One WebSocket connection: the protocol state machine (hello, bind, ack, …),
// its bounded send queue and its frame-rate limit. Frames of one connection are
// handled strictly in order, one at a time. An idle connection holds no queue,
// promise or Map: state for the uncommon cases is made when first needed.
import { randomUUID } from 'node:crypto';
import type WebSocket from 'ws';
import { CloseCode } from '../protocol/close-codes.js';
import { encode, SUBPROTOCOL_JSON, type Encoded, type SharedFrame, type Subprotocol } from '../protocol/codec.js';
import { rawSocketOf } from '../protocol/ws-frame.js';
import type { ClientFrame, ServerFrame } from '../protocol/frames.js';
import type { Binding } from './binding.js';
import { AppBindings } from './app-bindings.js';
import type { GatewayContext } from './context.js';
import { TokenBucket } from '../token-bucket.js';
import type { Lingering } from './lingering.js';
import type { Delivery } from '../delivery.js';
import { PeerError } from '../peer/errors.js';
import { ApiError } from '../center/errors.js';
import { catchUpRead } from './catch-up-read.js';
import { TopicSubscription } from './topic-subscription.js';

type State = 'hello' | 'ready' | 'closed';

const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;

/** Topic subscriptions one connection may hold; a further `sub` gets error `too-many-topics`. */
export const TOPICS_PER_CONNECTION_MAX = 256;

/** Answers a `sub` whose topic's owner could not be read; names the topic so the client can ask again. */
function ownerUnavailable(app: string, topic: string): ServerFrame {
  return { t: 'error', code: 'owner-unavailable', message: `the node holding topic ${topic}'s history is unreachable; subscribe again later`, app, topic };
}

export class Client {
  /** Assigned at hello: a new id, or the lingering session this device continues. */
  session: string = randomUUID();
  /** The lingering session adopted at hello, whose bindings continue without register churn. */
  private adopted: Lingering | undefined;
  /** The close code this side sent, if the server closed the connection. */
  private serverCloseCode: number | undefined;
  device = '';
  state: State = 'hello';
  readonly bindings = new AppBindings();
  /** Subscriptions by app\0topic key; created on the first `sub`: most connections never subscribe. */
  private topics: Map<string, TopicSubscription> | undefined;
  /**
   * Unix ms of the last frame received; drives the idle close. While the state
   * is 'hello' it is the connect time, which drives the hello timeout. One
   * field, not two: each costs a 16 B heap number per connection.
   */
  lastSeenMs: number;
  /** Sends not yet handed to the OS. Invariant: 0 <= queuedMsgs <= sendQueueMsgsMax. */
  private queuedMsgs = 0;
  private readonly frames: TokenBucket;
  private droppedFrames = 0;
  /** Frames received while an earlier one is being handled, oldest first; undefined when idle. Bounded by the frame limit. */
  private backlog: ClientFrame[] | undefined;
  private readonly onSent: (err?: Error | null) => void;
  private cleanup: 'pending' | 'done' = 'pending';
  /** Made only when someone waits for the cleanup (a drain or shutdown). */
  private cleanupWaiter: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly proto: Subprotocol,
    readonly ip: string,
    readonly ctx: GatewayContext,
  ) {
    this.lastSeenMs = ctx.now();
    this.frames = new TokenBucket(ctx.settings.clientFramesPerSecond, ctx.settings.clientFramesPerSecond * 2, ctx.now());
    this.onSent = () => {
      this.queuedMsgs--;
    };
  }

  /** Resolves once the socket has closed and closed() has released everything. */
  whenCleanedUp(): Promise<void> {
    if (this.cleanup === 'done') return Promise.resolve();
    if (this.cleanupWaiter === undefined) {
      let resolve: () => void = () => undefined;
      const promise = new Promise<void>((r) => (resolve = r));
      this.cleanupWaiter = { promise, resolve };
    }
    return this.cleanupWaiter.promise;
  }

  send(frame: ServerFrame): void {
    this.write(encode(this.proto, frame));
  }

  /**
   * Writes an encoded frame. The send queue is ws's buffer; past its byte or
   * message bound the client is too slow and is closed with 4010 rather than
   * buffered without bound.
   */
  write(data: Encoded): void {
    if (!this.admit(data.length)) return;
    this.ws.send(data, this.onSent);
    this.ctx.metrics.frameOut.add();
  }

  /** Writes a fan-out frame: framed once for every socket, written raw when ws has nothing pending here. */
  writeShared(frame: SharedFrame): void {
    const framed = frame.framed(this.proto);
    if (!this.admit(framed.length)) return;
    const socket = rawSocketOf(this.ws);
    if (socket !== undefined) socket.write(framed, this.onSent);
    else this.ws.send(frame.payload(this.proto), this.proto === SUBPROTOCOL_JSON ? TEXT : BINARY, this.onSent);
    this.ctx.metrics.frameOut.add();
  }

  /** Writes a topic's live pub (the hub's subscribers): dropped at or below what this connection has, held while a history is read. */
  writePub(key: string, offset: number, prev: number | undefined, frame: SharedFrame): void {
    const s = this.topics?.get(key);
    const v = s?.live(offset, prev, frame);
    if (v === 'write') this.writeShared(frame);
    else if (v === 'repeat' || v === 'buffer-full') this.ctx.metrics.topicPubsDropped[v].inc();
    else if (v === 'catch-up' && s !== undefined) void this.catchUp(key, s);
  }

  /** The topic's owner has offsets up to `head`: a subscription that lacks some reads them from the history. */
  topicHead(key: string, head: number): void {
    const s = this.topics?.get(key);
    if (s?.behind(head) === true) void this.catchUp(key, s);
  }

  /** This node missed a pub the connection lacks: the history fills the hole, then the held pubs follow. */
  private async catchUp(key: string, s: TopicSubscription): Promise<void> {
    const i = key.indexOf('\u0000');
    const app = key.slice(0, i);
    const topic = key.slice(i + 1);
    const wanted = (): boolean => this.state !== 'closed' && this.topics?.get(key) === s;
    const history = await catchUpRead(() => this.ctx.topicHistory(app, topic, s.lastOffset ?? 0), { wanted });
    // Failed: the hole stays (live delivery is at most once); the held pubs go on.
    this.ctx.metrics.topicCatchUps[history === undefined ? 'failed' : 'ok'].inc();
    if (!wanted()) return;
    this.writeReplay(app, topic, s, history ?? []);
  }

  /** Ends a history read of `s`: the records it lacked, then the live pubs held meanwhile. */
  private writeReplay(app: string, topic: string, s: TopicSubscription, history: Awaited<ReturnType<GatewayContext['topicHistory']>>): void {
    const { records, pubs } = s.replayed(history);
    for (const r of records) this.send({ t: 'pub', app, topic, offset: r.offset, data: r.data, ts: r.ts });
    for (const f of pubs) this.writeShared(f);
  }

  /** Counts one more queued send, or closes a slow consumer (false). */
  private admit(bytes: number): boolean {
    if (this.state === 'closed') return false;
    const s = this.ctx.settings;
    if (this.queuedMsgs >= s.sendQueueMsgsMax || this.ws.bufferedAmount + bytes > s.sendQueueBytesMax) {
      this.ctx.metrics.slowConsumers.inc();
      this.close(CloseCode.slowConsumer, 'slow consumer');
      return false;
    }
    this.queuedMsgs++;
    return true;
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.serverCloseCode = code;
    this.ws.close(code, reason);
  }

  private fail(code: number, errCode: string, message: string): void {
    this.send({ t: 'error', code: errCode, message });
    this.close(code, message.slice(0, 120));
  }

  /** A frame failed to decode or validate: the contract answers with an error and close 4000. */
  protocolError(message: string): void {
    this.ctx.metrics.protocolErrors.inc();
    this.fail(CloseCode.protocolError, 'protocol-error', message);
  }

  /** Entry for every valid frame; rate-limits, then queues it behind earlier frames. */
  receive(frame: ClientFrame): void {
    const now = this.ctx.now();
    // Kept at the connect time until hello is handled, so frames cannot stretch the hello timeout.
    if (this.state !== 'hello') this.lastSeenMs = now;
    if (!this.frames.take(now)) {
      this.ctx.metrics.rateLimitedFrames.inc();
      this.droppedFrames++;
      // Every up gets a reply, even one dropped by the frame limit.
      if (frame.t === 'up') this.send({ t: 'reply', id: frame.id, ok: false, error: 'rate-limited' });
      if (this.droppedFrames === 1) this.send({ t: 'error', code: 'rate-limited', message: 'too many frames; slow down' });
      if (this.droppedFrames > this.ctx.settings.clientFramesPerSecond) this.fail(CloseCode.rateLimited, 'rate-limited', 'frame flood');
      return;
    }
    this.droppedFrames = 0;
    if (this.backlog !== undefined) {
      this.backlog.push(frame);
      return;
    }
    this.backlog = [];
    // As a promise chain would: handling starts on a microtask, never inside the socket's event.
    queueMicrotask(() => void this.handleInOrder(frame));
  }

  /** Handles `first`, then every frame queued behind it, one at a time. */
  private async handleInOrder(first: ClientFrame): Promise<void> {
    for (let f: ClientFrame | undefined = first; f !== undefined; f = this.backlog?.shift()) {
      try {
        await this.handle(f);
      } catch (err) {
        this.ctx.log.error({ err, session: this.session }, 'frame handler failed');
        this.fail(CloseCode.protocolError, 'internal', 'internal error');
      }
    }
    this.backlog = undefined;
  }

  private async handle(f: ClientFrame): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'hello') {
      if (f.t !== 'hello') return this.protocolError(`expected hello first, got ${f.t}`);
      this.device = f.device;
      this.state = 'ready';
      this.adopted = this.ctx.lingering.adopt(f.device);
      if (this.adopted !== undefined) this.session = this.adopted.session;
      this.send({ t: 'welcome', session: this.session, node: this.ctx.nodeId, heartbeat: this.ctx.settings.heartbeatSeconds });
      for (const a of f.apps) {
        await this.bind(a.app, a.token, a.after);
        if (this.state !== 'ready') return;
      }
      return;
    }
    switch (f.t) {
      case 'hello':
        return this.protocolError('hello sent twice');
      case 'bind':
        return this.bind(f.app, f.token, f.after);
      case 'unbind':
        await this.unbind(f.app);
        this.send({ t: 'unbound', app: f.app });
        return;
      case 'ack': {
        const b = this.bindings.get(f.app);
        if (b === undefined) return this.send({ t: 'error', code: 'not-bound', message: `app ${f.app} is not bound` });
        if (!this.ctx.delivery.ack(b, f.seq)) {
          this.send({ t: 'error', code: 'invalid-ack', message: `seq ${f.seq} was never sent on this connection (last sent ${b.sent})` });
        }
        return;
      }
      case 'up': {
        const b = this.bindings.get(f.app);
        if (b === undefined) return this.send({ t: 'reply', id: f.id, ok: false, error: 'not-bound' });
        if (!b.admitUpstream(this.ctx.apps.get(f.app)?.limits.upstreamPerSecond ?? 0, this.ctx.now())) {
          this.ctx.metrics.rateLimitedUpstream.inc();
          this.send({ t: 'reply', id: f.id, ok: false, error: 'rate-limited' });
          if (b.upstreamStrikes > this.ctx.settings.upstreamStrikesMax) this.fail(CloseCode.rateLimited, 'rate-limited', 'upstream flood');
          return;
        }
        this.ctx.coordinator.upstream(this, b, f.id, f.data);
        return;
      }
      case 'sub':
        return this.subscribe(f.app, f.topic, f.after);
      case 'unsub':
        this.topics?.delete(`${f.app}\u0000${f.topic}`);
        this.ctx.hub.unsubscribe(f.app, f.topic, this);
        return;
      case 'ping':
        return this.send({ t: 'pong' });
    }
  }

  private async bind(app: string, token: string, after: number | undefined): Promise<void> {
    const check = await this.ctx.apps.verifyToken(app, token);
    if (this.state !== 'ready') return;
    if (!check.ok) {
      this.ctx.metrics.authFailures.inc();
      return this.fail(CloseCode.unauthorized, 'unauthorized', check.reason);
    }
    const appConfig = this.ctx.apps.get(app);
    if (appConfig !== undefined && !this.ctx.apps.permits(app, this.ip)) {
      return this.fail(CloseCode.unauthorized, 'forbidden', `address ${this.ip} is not allowed for app ${app}`);
    }
    const existing = this.bindings.get(app);
    if (existing !== undefined) {
      if (existing.user === check.user && after === undefined) {
        // A token refresh: the binding and its delivery state stay.
        return this.send({ t: 'bound', app, user: check.user, seq: existing.lastSeq });
      }
      await this.unbind(app);
    }
    let opened: Awaited<ReturnType<Delivery['open']>>;
    try {
      opened = await this.ctx.delivery.open(this, app, check.user, after);
    } catch (err) {
      // The user's inbox is on another node that cannot be reached: retryable, not a protocol error.
      if (!(err instanceof PeerError)) throw err;
      return this.fail(CloseCode.overloaded, 'owner-unavailable', `the node holding ${app}'s inbox for this user is unreachable; reconnect later`);
    }
    const { binding, stored } = opened;
    if (this.state !== 'ready') return;
    this.bindings.set(binding);
    this.ctx.hub.addBinding(binding);
    // A flash reconnect continues the session: it is still in the register and was never reported offline.
    if (this.adopted?.take(app, check.user) !== true) {
      await this.ctx.keeper.register([
        { op: 'add', session: { app, user: check.user, device: this.device, session: this.session, node: this.ctx.nodeId, since: this.ctx.now() } },
      ]);
      this.ctx.status.emit(app, { user: check.user, device: this.device, session: this.session, online: true });
    }
    if (this.state !== 'ready' || !binding.active) return;
    this.send({ t: 'bound', app, user: check.user, seq: binding.lastSeq });
    await this.ctx.delivery.start(binding, stored);
  }

  private async unbind(app: string): Promise<void> {
    const b = this.bindings.get(app);
    if (b === undefined) return;
    this.bindings.delete(app);
    // Subscribing needs the app bound: its subscriptions end with the binding (unbind, kick, bind as another user).
    const prefix = `${app}\u0000`;
    for (const key of [...(this.topics?.keys() ?? [])]) {
      if (!key.startsWith(prefix)) continue;
      this.topics?.delete(key);
      this.ctx.hub.unsubscribe(app, key.slice(prefix.length), this);
    }
    await this.release(b);
  }

  /** Ends a binding; with `linger` its register entry stays and no offline event is sent (yet). */
  private async release(b: Binding, linger = false): Promise<void> {
    this.ctx.hub.removeBinding(b);
    await this.ctx.delivery.stop(b);
    if (linger) return;
    await this.ctx.keeper.register([{ op: 'remove', app: b.app, user: b.user, session: this.session }]);
    this.ctx.status.emit(b.app, { user: b.user, device: this.device, session: this.session, online: false });
  }

  private async subscribe(app: string, topic: string, after: number | undefined): Promise<void> {
    if (!this.bindings.has(app)) return this.send({ t: 'error', code: 'not-bound', message: `bind ${app} before subscribing` });
    const key = `${app}\u0000${topic}`;
    const topics = (this.topics ??= new Map());
    const existing = topics.get(key);
    if (existing === undefined && topics.size >= TOPICS_PER_CONNECTION_MAX) {
      return this.send({ t: 'error', code: 'too-many-topics', message: `at most ${TOPICS_PER_CONNECTION_MAX} topic subscriptions per connection` });
    }
    const sub = existing ?? new TopicSubscription(after);
    if (existing === undefined) {
      topics.set(key, sub);
      this.ctx.hub.subscribe(app, topic, this);
    }
    // Subscribed before the read: what is published meanwhile is held and written after the history.
    if (after !== undefined) sub.replaying();
    // Before the history read and the next frame: the topic's owner sends this node every pub stored after it.
    if (existing === undefined) await this.ctx.topicSubscribed(app, topic);
    if (after === undefined) return;
    let history: Awaited<ReturnType<GatewayContext['topicHistory']>> = [];
    let unreachable = false;
    try {
      history = await this.ctx.topicHistory(app, topic, after);
    } catch (err) {
      // The owner cannot be reached, or (its own answer) cannot yet read a history still on its way to it.
      if (!(err instanceof PeerError) && !(err instanceof ApiError && err.status === 503)) throw err;
      unreachable = true;
    }
    if (this.state !== 'ready' || topics.get(key) !== sub) return;
    if (unreachable && existing === undefined) {
      // The topic's owner node cannot be reached: the subscription is not made, the connection stays.
      topics.delete(key);
      this.ctx.hub.unsubscribe(app, topic, this);
      return this.send(ownerUnavailable(app, topic));
    }
    this.writeReplay(app, topic, sub, history);
    if (unreachable) this.send(ownerUnavailable(app, topic));
  }

  /** Kicks one app's user off this connection: close 4002 when it was the only app bound. */
  async kick(app: string, reason: string): Promise<void> {
    if (this.bindings.size <= 1) return this.fail(CloseCode.kicked, 'kicked', reason);
    await this.unbind(app);
    // `unbound` names the app, so the client stops rebinding it; the error says why.
    this.send({ t: 'unbound', app });
    this.send({ t: 'error', code: 'kicked', message: `${app}: ${reason}` });
  }

  /**
   * Called once when the socket has closed, whatever the cause. A connection
   * lost without a close handshake (1006) or closed for silence (4011) lingers
   * for a flash reconnect; any other close ends the session now.
   */
  async closed(code: number): Promise<void> {
    try {
      await this.releaseAll(code);
    } finally {
      this.cleanup = 'done';
      this.cleanupWaiter?.resolve();
    }
  }

  private async releaseAll(code: number): Promise<void> {
    this.state = 'closed';
    const unclean = (this.serverCloseCode === undefined && code === 1006) || this.serverCloseCode === CloseCode.idle;
    const linger = unclean && this.bindings.size > 0 && this.ctx.settings.lingerMs > 0;
    for (const key of this.topics?.keys() ?? []) {
      const i = key.indexOf('\u0000');
      this.ctx.hub.unsubscribe(key.slice(0, i), key.slice(i + 1), this);
    }
    this.topics = undefined;
    const bs = [...this.bindings.values()];
    this.bindings.clear();
    if (linger) {
      this.ctx.lingering.hold(this.device, this.session, bs.map((b) => ({ app: b.app, user: b.user })), this.ctx.settings.lingerMs);
    }
    await Promise.all(bs.map((b) => this.release(b, linger)));
  }
}
