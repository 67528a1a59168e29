// One peer's data link: a single long-lived connection to the peer's API port,
// opened by an HTTP upgrade (`GET /internal/v1/link`, `Upgrade:
// longwire-peer/1`) signed like any node-to-node call (peer-auth.ts), over TLS
// when the API has it. Then MessagePack frames both ways (link-frame.ts):
// calls carry ids, answers come back in any order, so a slow call holds up
// no other; frames of one event-loop turn leave in one write (link-writer.ts).
// Each call has a deadline and counts against bounded in-flight calls and
// bytes: past either bound it fails at once with PeerError('busy') instead of
// queueing. A link that goes silent while calls wait is probed (`ping`), and
// dropped if the probe gets no answer either: a stopped or hung peer fails
// calls in about 3 s, not at their 10 s deadline. A lost link fails every
// pending call with `unreachable`; the next call dials again: at once after a drop, after a growing pause after a
// failed dial (calls made meanwhile wait for that dial, within their deadline).
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { PeerError, type PeerErrorCode } from './errors.js';
import type { PeerAuth } from './peer-auth.js';
import { peerConnectOptions, type PeerTransport } from './peer-http.js';
import { FrameDecoder, FrameError, asLinkAnswer, encodeFrame, sealFrame, wireBytes } from './link-frame.js';
import { FrameSeal, LINK_NONCE_HEADER } from './frame-seal.js';
import { PEER_HEADERS } from './peer-auth.js';
import { LinkWriter } from './link-writer.js';

export const LINK_PATH = '/internal/v1/link';
export const LINK_PROTOCOL = 'longwire-peer/1';

export interface PeerLimits {
  /** Calls sent and not yet answered; more fail fast with `busy`. */
  readonly inflightMax: number;
  /** Frame bytes of those calls; more fail fast with `busy`. */
  readonly inflightBytesMax: number;
  /** A call not answered within this fails with `timeout` (the peer may still have acted). */
  readonly timeoutMs: number;
  /** Largest frame either way: a bigger call is refused unsent; a bigger incoming frame closes the link. */
  readonly frameBytesMax: number;
  /**
   * A link silent this long while a call waits gets a `ping` call; one that
   * answers nothing for twice this after it is dropped, failing its calls
   * with `unreachable` (a stopped or hung peer keeps its TCP connection open:
   * without this, each call would wait out timeoutMs). 0: no probes.
   */
  readonly probeMs: number;
}

export const DEFAULT_PEER_LIMITS: PeerLimits = { inflightMax: 1024, inflightBytesMax: 32 * 1024 * 1024, timeoutMs: 10_000, frameBytesMax: 16 * 1024 * 1024, probeMs: 1000 };

/** The method a liveness probe calls: any answer, even a refusal from a peer without it, shows the peer runs. */
export const PING_METHOD = 'ping';

/** Longest wait for the upgrade's answer (connect, TLS, 101): a stopped peer accepts the TCP connection and answers nothing, so this bounds a call to it as the probes do on a link that is up. */
const DIAL_MS_MAX = 3000;
/** Pause after a failed dial before the next, doubled per failure up to REDIAL_MS_MAX. */
const REDIAL_MS_MIN = 100;
const REDIAL_MS_MAX = 1000;
/** Bytes of a refused upgrade's body kept for the error message. */
const REFUSAL_TEXT_MAX = 500;

interface Pending {
  readonly method: string;
  readonly bytes: number;
  readonly sentAt: number;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: PeerError) => void;
}

type Link =
  | { readonly kind: 'down'; readonly retryAt: number; readonly reason: string }
  | { readonly kind: 'waiting'; readonly timer: NodeJS.Timeout; readonly queued: Buffer[] }
  | { readonly kind: 'dialing'; readonly req: ClientRequest; readonly queued: Buffer[]; readonly sig: string }
  | { readonly kind: 'up'; readonly socket: Socket; readonly writer: LinkWriter; readonly decoder: FrameDecoder; readonly seal: FrameSeal; lastRecvAt: number };

function hostPort(api: string): { host: string; port: number } {
  const at = api.lastIndexOf(':');
  return { host: api.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(api.slice(at + 1)) };
}

/** A call's name in metrics: its method, and for `inbox` calls the op (a bounded set of names). */
export function peerCallName(method: string, body: unknown): string {
  if (method !== 'inbox' || typeof body !== 'object' || body === null) return method;
  const op = (body as { op?: unknown }).op;
  return typeof op === 'string' ? `inbox.${op}` : method;
}

export class PeerClient {
  private link: Link = { kind: 'down', retryAt: 0, reason: 'not dialed' };
  private redialMs = 0;
  private nextId = 1;
  /** Invariant: deadlines (sentAt + timeoutMs) increase in the map's order, so the sweep stops at the first one not due. */
  private readonly pending = new Map<number, Pending>();
  /** Invariant: the sum of `bytes` over `pending`. */
  private inflightBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Checks the link's liveness while calls wait (every probeMs / 2). */
  private probeTimer: NodeJS.Timeout | undefined;
  /** When the unanswered probe on the current link was sent. */
  private probeSentAt: number | undefined;
  private closed = false;

  constructor(
    readonly peerId: string,
    /** host:port of the peer's API listener. */
    readonly api: string,
    private readonly auth: PeerAuth,
    private readonly transport: PeerTransport,
    private readonly limits: PeerLimits,
    /** Counts each call sent, by method (metrics). */
    private readonly onCall: (method: string, body: unknown) => void = () => undefined,
  ) {}

  /** Calls `method` on the peer with a MessagePack body; resolves with the decoded answer. */
  async call(method: string, body: unknown): Promise<unknown> {
    if (this.closed) throw new PeerError('unreachable', this.peerId, 'link closed');
    const id = this.nextId++;
    const frame = encodeFrame({ id, m: method, b: body });
    const bytes = wireBytes(frame);
    if (frame.length > this.limits.frameBytesMax) throw new PeerError('refused', this.peerId, `${method}: call of ${bytes} bytes over the ${this.limits.frameBytesMax}-byte frame limit`);
    if (this.pending.size >= this.limits.inflightMax || this.inflightBytes + bytes > this.limits.inflightBytesMax) {
      throw new PeerError('busy', this.peerId, `queue full (${this.pending.size} calls, ${this.inflightBytes} bytes in flight)`);
    }
    this.onCall(method, body);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { method, bytes, sentAt: performance.now(), resolve, reject });
      this.inflightBytes += bytes;
      if (this.timer === undefined) this.arm();
      this.armProbe();
      this.send(frame);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.drop('link closed');
  }

  /** Writes a frame body on the link, or queues it (in order) until the link is up: it is sealed when written. */
  private send(frame: Buffer): void {
    const link = this.link;
    switch (link.kind) {
      case 'up':
        link.writer.write(sealFrame(link.seal, frame));
        return;
      case 'waiting':
      case 'dialing':
        link.queued.push(frame);
        return;
      case 'down': {
        const wait = link.retryAt - performance.now();
        if (wait > 0) this.link = { kind: 'waiting', timer: setTimeout(redial, wait, this), queued: [frame] };
        else this.dial([frame]);
      }
    }
  }

  /** @internal The pause after a failed dial is over. */
  redialNow(): void {
    if (this.link.kind === 'waiting') this.dial(this.link.queued);
  }

  /** Dials the link; `queued` frames are written once it is up. */
  private dial(queued: Buffer[]): void {
    const signed = this.auth.sign('GET', LINK_PATH, '');
    if (signed === undefined) {
      this.link = { kind: 'down', retryAt: 0, reason: 'no peer key' };
      this.failAll('unreachable', 'this node has no peer key yet');
      return;
    }
    const req = (this.transport.https ? httpsRequest : httpRequest)({
      ...hostPort(this.api),
      method: 'GET',
      path: LINK_PATH,
      headers: { ...signed, connection: 'Upgrade', upgrade: LINK_PROTOCOL },
      // Its own socket: this connection becomes the link.
      agent: false,
      timeout: Math.min(this.limits.timeoutMs, DIAL_MS_MAX),
      ...peerConnectOptions(this.transport),
    });
    const dialing: Link = { kind: 'dialing', req, queued, sig: signed[PEER_HEADERS.sig] ?? '' };
    this.link = dialing;
    req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgraded(dialing, res, socket, head));
    req.on('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        if (text.length < REFUSAL_TEXT_MAX) text += s;
      });
      res.on('end', () => this.dialFailed(dialing, 'refused', `link refused: ${res.statusCode ?? 0} ${text.slice(0, REFUSAL_TEXT_MAX)}`));
      res.on('error', (err) => this.dialFailed(dialing, 'unreachable', err.message));
    });
    req.on('timeout', () => req.destroy(new Error(`no link upgrade within ${Math.min(this.limits.timeoutMs, DIAL_MS_MAX)} ms`)));
    req.on('error', (err) => this.dialFailed(dialing, 'unreachable', err.message));
    req.end();
  }

  private onUpgraded(dialing: Link, res: IncomingMessage, socket: Socket, head: Buffer): void {
    if (this.link !== dialing || dialing.kind !== 'dialing') {
      socket.destroy();
      return;
    }
    if (res.headers.upgrade !== LINK_PROTOCOL) {
      socket.destroy();
      this.dialFailed(dialing, 'refused', `link upgraded to ${String(res.headers.upgrade)}, not ${LINK_PROTOCOL}`);
      return;
    }
    const nonce = res.headers[LINK_NONCE_HEADER];
    const key = typeof nonce === 'string' ? this.auth.linkKey(this.auth.selfId, this.peerId, dialing.sig, nonce) : undefined;
    if (key === undefined) {
      socket.destroy();
      this.dialFailed(dialing, 'refused', typeof nonce === 'string' ? 'this node has no peer key' : 'link upgrade without a nonce');
      return;
    }
    socket.setTimeout(0);
    socket.setNoDelay(true);
    const seal = new FrameSeal(key, 'dialer');
    const up: Link = { kind: 'up', socket, writer: new LinkWriter((b) => socket.write(b)), decoder: new FrameDecoder(this.limits.frameBytesMax, seal), seal, lastRecvAt: -Infinity };
    this.link = up;
    this.redialMs = 0;
    socket.on('data', (chunk: Buffer) => this.onData(up, chunk));
    socket.on('error', (err) => this.lost(up, err.message));
    socket.on('close', () => this.lost(up, 'link closed by the peer'));
    if (head.length > 0) this.onData(up, head);
    for (const frame of dialing.queued) up.writer.write(sealFrame(seal, frame));
  }

  private dialFailed(dialing: Link, code: PeerErrorCode, reason: string): void {
    if (this.link !== dialing) return;
    this.redialMs = Math.min(Math.max(this.redialMs * 2, REDIAL_MS_MIN), REDIAL_MS_MAX);
    this.link = { kind: 'down', retryAt: performance.now() + this.redialMs, reason };
    this.failAll(code, reason);
  }

  private lost(up: Link, reason: string): void {
    if (this.link !== up || up.kind !== 'up') return;
    up.writer.close();
    up.socket.destroy();
    this.link = { kind: 'down', retryAt: 0, reason };
    this.failAll('unreachable', reason);
  }

  private onData(up: Link & { kind: 'up' }, chunk: Buffer): void {
    up.lastRecvAt = performance.now();
    try {
      up.decoder.push(chunk, (f) => this.onFrame(f));
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.lost(up, err.message);
    }
  }

  private onFrame(f: unknown): void {
    const a = asLinkAnswer(f);
    if (a === undefined) throw new FrameError('a frame that is not an answer');
    const p = this.pending.get(a.id);
    // Not pending: it timed out, and its answer came late.
    if (p === undefined) return;
    this.pending.delete(a.id);
    this.inflightBytes -= p.bytes;
    if ('err' in a) p.reject(new PeerError('refused', this.peerId, `${p.method} answered ${a.err.status}: ${JSON.stringify({ code: a.err.code, message: a.err.message })}`));
    else p.resolve(a.ok);
  }

  /** Drops the link, whatever its state, failing every pending call. */
  private drop(reason: string): void {
    const link = this.link;
    if (link.kind === 'waiting') clearTimeout(link.timer);
    if (link.kind === 'dialing') link.req.destroy();
    if (link.kind === 'up') {
      link.writer.close();
      link.socket.destroy();
    }
    this.link = { kind: 'down', retryAt: 0, reason };
    this.failAll('unreachable', reason);
  }

  private failAll(code: PeerErrorCode, reason: string): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    this.inflightBytes = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.probeSentAt = undefined;
    for (const p of all) p.reject(new PeerError(code, this.peerId, `${p.method}: ${reason}`));
  }

  /** One timer for all deadlines: it fires at the oldest pending call's. */
  private arm(): void {
    const first = this.pending.values().next();
    if (first.done === true) return;
    this.timer = setTimeout(sweep, Math.max(0, first.value.sentAt + this.limits.timeoutMs - performance.now()), this);
  }

  private armProbe(): void {
    if (this.probeTimer !== undefined || this.pending.size === 0 || this.limits.probeMs <= 0) return;
    this.probeTimer = setTimeout(probe, this.limits.probeMs / 2, this);
  }

  /** @internal Probes a link silent while calls wait; drops it when the probe gets no answer either. */
  probeNow(): void {
    this.probeTimer = undefined;
    const oldest = this.pending.values().next();
    const link = this.link;
    if (oldest.done === true || link.kind !== 'up') {
      this.probeSentAt = undefined;
      this.armProbe();
      return;
    }
    const now = performance.now();
    const probeMs = this.limits.probeMs;
    // Anything received since the probe was sent answers it.
    if (this.probeSentAt !== undefined && link.lastRecvAt >= this.probeSentAt) this.probeSentAt = undefined;
    if (this.probeSentAt !== undefined && now - this.probeSentAt >= 2 * probeMs) {
      this.lost(link, `no answer to a liveness probe within ${2 * probeMs} ms`);
      return;
    }
    if (this.probeSentAt === undefined && now - oldest.value.sentAt >= probeMs && now - link.lastRecvAt >= probeMs) {
      this.probeSentAt = now;
      this.call(PING_METHOD, null).catch(() => undefined);
    }
    this.armProbe();
  }

  /** @internal Fails the calls past their deadline; a link silent since such a call was sent is presumed dead. */
  sweepNow(): void {
    this.timer = undefined;
    const now = performance.now();
    let silent = false;
    const link = this.link;
    for (const [id, p] of this.pending) {
      if (p.sentAt + this.limits.timeoutMs > now) break;
      this.pending.delete(id);
      this.inflightBytes -= p.bytes;
      if (link.kind === 'up' && link.lastRecvAt <= p.sentAt) silent = true;
      p.reject(new PeerError('timeout', this.peerId, `${p.method}: no answer within ${this.limits.timeoutMs} ms`));
    }
    if (silent && link.kind === 'up') this.lost(link, `nothing received for ${this.limits.timeoutMs} ms`);
    else this.arm();
  }
}

function probe(c: PeerClient): void {
  c.probeNow();
}

function sweep(c: PeerClient): void {
  c.sweepNow();
}

function redial(c: PeerClient): void {
  c.redialNow();
}
