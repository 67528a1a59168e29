// One member's keeper wire connection (keeper-wire.ts), as KeeperClient uses
// it: opened on the first call, calls of one turn sent in one message,
// answers matched by id. Each call ends in exactly one outcome: the member's
// answer, a failure that says whether the call surely never left this
// process (so KeeperClient may send a write to another member), or
// `unsupported`: the member serves no wire (an older build), use HTTP.
// The socket does not keep a process alive by itself; a call waiting does.
import { connect as netConnect, type NetConnectOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import WebSocket from 'ws';
import { KEEPER_WIRE_PATH, KEEPER_WIRE_PROTOCOL, WIRE_CALLS_PER_MESSAGE_MAX, asWireAnswer, packWire, unpackWire, type WireAnswer, type WireCall, type WireRequest } from './keeper-wire.js';

export type WireOutcome =
  | { readonly kind: 'answer'; readonly answer: WireAnswer }
  | { readonly kind: 'failed'; readonly why: string; readonly unsent: boolean }
  | { readonly kind: 'unsupported' };

/** Calls waiting on one link; past it a call fails at once (a caller that never awaits must not grow memory without bound). */
export const WIRE_LINK_PENDING_MAX = 65_536;
/** How long a member that answered the upgrade with 404 is taken for one without the wire before it is asked again. */
const UNSUPPORTED_RECHECK_MS = 60_000;
/** The timeout sweep's period: a call's deadline is kept to within this. */
const SWEEP_MS = 100;
/**
 * A connection silent this long while calls wait is probed with a ping; no
 * pong (nor anything else) within PROBE_TIMEOUT_MS more and it is dropped, so
 * a member that hung or a path that died fails its calls (may have been
 * applied) in ~3 s instead of at their timeout, and the next call dials anew
 * instead of writing into a dead socket. A member busy with slow calls still
 * answers pings.
 */
const PROBE_SILENCE_MS = 1000;
const PROBE_TIMEOUT_MS = 2000;
/** Answers can be as large as a node lets them be (its message bound is 4 MiB); this only guards against a broken peer. */
const ANSWER_BYTES_MAX = 64 * 1024 * 1024;

interface Pending {
  readonly resolve: (o: WireOutcome) => void;
  readonly deadline: number;
  /** Written to the socket: a write may then have been applied. */
  sent: boolean;
}

function causeCode(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export class WireLink {
  private ws: WebSocket | undefined;
  private open = false;
  private unsupportedUntil = 0;
  private readonly pending = new Map<number, Pending>();
  private queue: WireRequest[] = [];
  private nextId = 1;
  private flushing = false;
  private sweep: NodeJS.Timeout | undefined;
  /** When the connection last brought anything (an answer, a pong). */
  private heardAt = 0;
  /** When the probe waiting for a pong was sent; 0: none. */
  private probedAt = 0;

  /** `base`: the member's API URL (http:// or https://). */
  constructor(
    private readonly base: string,
    private readonly authorization: string,
  ) {}

  call(c: WireCall, timeoutMs: number): Promise<WireOutcome> {
    if (Date.now() < this.unsupportedUntil) return Promise.resolve({ kind: 'unsupported' });
    if (this.pending.size >= WIRE_LINK_PENDING_MAX) return Promise.resolve({ kind: 'failed', why: `${WIRE_LINK_PENDING_MAX} calls already waiting on this member`, unsent: true });
    const id = this.nextId++;
    return new Promise<WireOutcome>((resolve) => {
      this.pending.set(id, { resolve, deadline: Date.now() + timeoutMs, sent: false });
      this.queue.push({ ...c, id });
      this.sweep ??= setInterval(() => this.expire(), SWEEP_MS);
      if (this.ws === undefined) this.connect(timeoutMs);
      else this.scheduleFlush();
    });
  }

  /** Closes the connection; calls waiting fail (unsent if they were not written yet). */
  close(): void {
    this.ws?.terminate();
    this.lost('closed by the client');
  }

  private connect(timeoutMs: number): void {
    const url = this.base.replace(/^http/, 'ws') + KEEPER_WIRE_PATH;
    const secure = url.startsWith('wss:');
    const ws = new WebSocket(url, KEEPER_WIRE_PROTOCOL, {
      headers: { authorization: this.authorization },
      perMessageDeflate: false,
      maxPayload: ANSWER_BYTES_MAX,
      handshakeTimeout: timeoutMs,
      // Unreferenced: an idle link must not keep a CLI or a test process alive.
      createConnection: ((o: NetConnectOpts & ConnectionOptions): Socket => {
        const s = secure ? tlsConnect(o) : netConnect(o);
        s.unref();
        return s;
      }) as typeof netConnect,
    });
    this.ws = ws;
    ws.on('open', () => {
      this.open = true;
      this.heard();
      this.scheduleFlush();
    });
    ws.on('message', (data: Buffer) => {
      this.heard();
      this.onMessage(data);
    });
    ws.on('pong', () => this.heard());
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on('end', () => this.refused(ws, res.statusCode ?? 0, body));
      res.on('error', () => this.refused(ws, res.statusCode ?? 0, body));
    });
    ws.on('error', (err) => this.dropped(ws, err.message + (causeCode(err) === undefined ? '' : ` (${causeCode(err)})`)));
    ws.on('close', (code, reason) => this.dropped(ws, `connection closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`));
  }

  /** The member answered the upgrade with an HTTP status instead. */
  private refused(ws: WebSocket, status: number, body: string): void {
    if (ws !== this.ws) return;
    ws.terminate();
    this.ws = undefined;
    this.open = false;
    if (status === 404) {
      this.unsupportedUntil = Date.now() + UNSUPPORTED_RECHECK_MS;
      return this.settleAll({ kind: 'unsupported' });
    }
    // Refused before any call was read: nothing was applied.
    if (status === 503 || status === 429) return this.settleAll({ kind: 'failed', why: `upgrade refused: ${status}`, unsent: true });
    let err: { code?: unknown; message?: unknown } | undefined;
    try {
      err = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown } }).error;
    } catch {
      err = undefined;
    }
    const code = typeof err?.code === 'string' ? err.code : 'invalid';
    const message = typeof err?.message === 'string' ? err.message : `upgrade refused: ${status}`;
    for (const [id, p] of this.pending) p.resolve({ kind: 'answer', answer: { id, err: { code, status, message } } });
    this.pending.clear();
    this.queue = [];
    this.stopSweep();
  }

  /** The socket failed or closed (calls are written only once it is open, so a refused connection sent none). */
  private dropped(ws: WebSocket, why: string): void {
    if (ws === this.ws) this.lost(why);
  }

  /** A call written may have been applied; one not written surely was not. */
  private lost(why: string): void {
    this.ws = undefined;
    this.open = false;
    for (const p of this.pending.values()) p.resolve({ kind: 'failed', why, unsent: !p.sent });
    this.pending.clear();
    this.queue = [];
    this.stopSweep();
  }

  private settleAll(o: WireOutcome): void {
    for (const p of this.pending.values()) p.resolve(o);
    this.pending.clear();
    this.queue = [];
    this.stopSweep();
  }

  private onMessage(data: Buffer): void {
    let frames: unknown;
    try {
      frames = unpackWire(data);
    } catch {
      this.ws?.terminate();
      return;
    }
    if (!Array.isArray(frames)) return;
    for (const f of frames) {
      const a = asWireAnswer(f);
      if (a === undefined) continue;
      const p = this.pending.get(a.id);
      if (p === undefined) continue;
      this.pending.delete(a.id);
      p.resolve({ kind: 'answer', answer: a });
    }
    if (this.pending.size === 0) this.stopSweep();
  }

  private scheduleFlush(): void {
    if (this.flushing || !this.open) return;
    this.flushing = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushing = false;
    const ws = this.ws;
    if (ws === undefined || !this.open || this.queue.length === 0) return;
    const calls = this.queue;
    this.queue = [];
    for (let i = 0; i < calls.length; i += WIRE_CALLS_PER_MESSAGE_MAX) {
      const batch = calls.slice(i, i + WIRE_CALLS_PER_MESSAGE_MAX);
      for (const c of batch) {
        const p = this.pending.get(c.id);
        if (p !== undefined) p.sent = true;
      }
      ws.send(packWire(batch));
    }
  }

  private heard(): void {
    this.heardAt = Date.now();
    this.probedAt = 0;
  }

  /** Calls past their deadline fail; one never written is dropped from the queue, so it is never sent late. */
  private expire(): void {
    const now = Date.now();
    this.probe(now);
    let dropped = false;
    for (const [id, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(id);
      dropped ||= !p.sent;
      p.resolve({ kind: 'failed', why: `no answer within the request timeout${p.sent ? '' : ' (not sent: no connection)'}`, unsent: !p.sent });
    }
    if (dropped) this.queue = this.queue.filter((c) => this.pending.has(c.id));
    if (this.pending.size === 0) this.stopSweep();
  }

  /** See PROBE_SILENCE_MS; runs from the sweep, so only while calls wait. */
  private probe(now: number): void {
    const ws = this.ws;
    if (ws === undefined || !this.open) return;
    if (this.probedAt === 0) {
      if (now - this.heardAt < PROBE_SILENCE_MS) return;
      this.probedAt = now;
      ws.ping();
    } else if (now - this.probedAt >= PROBE_TIMEOUT_MS) {
      ws.terminate();
      this.lost(`no answer to a ping within ${PROBE_TIMEOUT_MS} ms`);
    }
  }

  private stopSweep(): void {
    if (this.sweep === undefined) return;
    clearInterval(this.sweep);
    this.sweep = undefined;
  }
}
