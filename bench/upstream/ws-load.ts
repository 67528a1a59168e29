// The longwire load: N WebSocket clients (hello, bind with a JWT), each keeping
// `window` up frames outstanding and measuring send → reply. A client sends
// its next up only when a reply arrives, so the offered load adapts to what
// the node sustains and never overflows its queue.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { APP, SUBPROTOCOL, TOKEN_SECRET } from './constants.js';
import type { LoadOutcome } from './direct-load.js';
import type { Meter } from './meter.js';
import { isUpData, upData } from './payload.js';
import type { PhaseSpec } from './phase.js';
import { clientToken } from './token.js';

const CONNECT_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 2000;

type Frame = Record<string, unknown>;

class BenchClient {
  /** id → send time of each outstanding up. */
  readonly outstanding = new Map<string, number>();
  private n = 0;
  private stopAt = 0;
  private onFrame: ((f: Frame) => void) | undefined;
  sent = 0;

  private constructor(
    private readonly ws: WebSocket,
    private readonly index: number,
    private readonly meter: Meter,
    private readonly other: Record<string, number>,
  ) {
    ws.on('message', (raw: Buffer) => {
      let f: Frame;
      try {
        f = JSON.parse(raw.toString('utf8')) as Frame;
      } catch {
        this.count('unparsable');
        return;
      }
      if (this.onFrame !== undefined) this.onFrame(f);
      else if (f.t === 'reply') this.reply(f);
      else this.count(f.t === 'error' ? `error:${String(f.code)}` : String(f.t));
    });
    ws.on('close', () => {
      const now = performance.now();
      for (const sentAt of this.outstanding.values()) this.meter.done(sentAt, now, 'closed');
      this.outstanding.clear();
    });
  }

  private count(key: string): void {
    this.other[key] = (this.other[key] ?? 0) + 1;
  }

  /** Opens, says hello and binds as user u<index>, device d<index>. */
  static async connect(url: string, index: number, meter: Meter, other: Record<string, number>): Promise<BenchClient> {
    const token = await clientToken(TOKEN_SECRET, APP, `u${index}`);
    const ws = new WebSocket(url, [SUBPROTOCOL], { perMessageDeflate: false });
    const c = new BenchClient(ws, index, meter, other);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`client ${index}: no bound within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      const onError = (err: Error): void => fail(err);
      const onClose = (code: number): void => fail(new Error(`client ${index}: closed ${code} before bound`));
      function fail(err: Error): void {
        clearTimeout(timer);
        ws.off('error', onError);
        ws.off('close', onClose);
        ws.terminate();
        reject(err);
      }
      ws.on('error', onError);
      ws.on('close', onClose);
      c.onFrame = (f) => {
        if (f.t === 'welcome') {
          ws.send(JSON.stringify({ t: 'bind', app: APP, token }));
        } else if (f.t === 'bound') {
          clearTimeout(timer);
          ws.off('error', onError);
          ws.off('close', onClose);
          // A later socket error is followed by 'close', which settles the outstanding calls.
          ws.on('error', () => undefined);
          resolve();
        } else {
          fail(new Error(`client ${index}: unexpected ${JSON.stringify(f).slice(0, 200)} before bound`));
        }
      };
      ws.once('open', () => ws.send(JSON.stringify({ t: 'hello', device: `d${index}` })));
    });
    c.onFrame = undefined;
    return c;
  }

  start(window: number, stopAt: number): void {
    this.stopAt = stopAt;
    for (let i = 0; i < window; i++) this.send();
  }

  private send(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const n = this.n++;
    const id = `${this.index}-${n}`;
    const sentAt = performance.now();
    this.outstanding.set(id, sentAt);
    this.sent++;
    this.ws.send(JSON.stringify({ t: 'up', app: APP, id, data: upData(sentAt, n) }));
  }

  private reply(f: Frame): void {
    const id = typeof f.id === 'string' ? f.id : '';
    const sentAt = this.outstanding.get(id);
    if (sentAt === undefined) {
      this.count('reply-unknown-id');
      return;
    }
    this.outstanding.delete(id);
    const now = performance.now();
    let error: string | undefined;
    if (f.ok !== true) error = typeof f.error === 'string' ? f.error : 'failed';
    else if (!isUpData(f.data) || f.data.ts !== sentAt) error = 'bad-echo';
    this.meter.done(sentAt, now, error);
    if (now < this.stopAt) this.send();
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, CLOSE_TIMEOUT_MS);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close(1000, 'bench done');
    });
  }
}

export async function runWs(spec: PhaseSpec, meter: Meter): Promise<LoadOutcome> {
  const other: Record<string, number> = {};
  const clients: BenchClient[] = [];
  try {
    const pending: Promise<BenchClient>[] = [];
    for (let i = 0; i < spec.clients; i++) pending.push(BenchClient.connect(spec.wsUrl, spec.firstClient + i, meter, other));
    const settled = await Promise.allSettled(pending);
    for (const r of settled) if (r.status === 'fulfilled') clients.push(r.value);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));

    const start = performance.now();
    const stopAt = start + spec.warmupMs + spec.measureMs;
    meter.setWindow(start + spec.warmupMs, stopAt);
    for (const c of clients) c.start(spec.window, stopAt);

    // Bounded waits: the measured phase, then at most drainMs for the last replies.
    await new Promise((r) => setTimeout(r, stopAt - performance.now()));
    const drainEnd = performance.now() + spec.drainMs;
    while (performance.now() < drainEnd && clients.some((c) => c.outstanding.size > 0)) await new Promise((r) => setTimeout(r, 20));
    const unanswered = clients.reduce((s, c) => s + c.outstanding.size, 0);
    const sent = clients.reduce((s, c) => s + c.sent, 0);
    return { sent, unanswered, otherFrames: other };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}
