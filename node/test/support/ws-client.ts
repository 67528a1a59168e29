// A raw protocol client for tests: real `ws`, either subprotocol, and a frame
// inbox to await on. It does nothing on its own (no acks, no pings).
import WebSocket from 'ws';
import { Packr } from 'msgpackr';
import { SignJWT } from 'jose';

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export type Frame = Record<string, unknown> & { t: string };
export type Proto = 'json' | 'msgpack';

export class TestSocket {
  readonly frames: Frame[] = [];
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private constructor(
    readonly ws: WebSocket,
    readonly proto: Proto,
  ) {
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data: Buffer, isBinary) => {
      const f = (isBinary ? packr.unpack(data) : JSON.parse(data.toString())) as Frame;
      this.frames.push(f);
      for (const w of [...this.waiters]) {
        if (w.pred(f)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(f);
        }
      }
    });
  }

  /** `localAddress` picks the client's loopback address (127.0.0.2 …), to test per-address limits. */
  /** `ca` (PEM) is trusted for a wss:// URL. */
  static async open(url: string, proto: Proto = 'json', opts: { protocols?: string[]; localAddress?: string; ca?: string } = {}): Promise<TestSocket> {
    const ws = new WebSocket(url, opts.protocols ?? [proto === 'json' ? 'longwire.v1.json' : 'longwire.v1.msgpack'], {
      ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
      ...(opts.ca === undefined ? {} : { ca: opts.ca }),
    });
    const s = new TestSocket(ws, proto);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return s;
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(this.proto === 'json' ? JSON.stringify(frame) : packr.pack(frame));
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** The first frame (already received or future) matching `pred` that was not consumed before. */
  next(pred: (f: Frame) => boolean = () => true, timeoutMs = 10_000): Promise<Frame> {
    const i = this.frames.findIndex(pred);
    if (i >= 0) {
      const [f] = this.frames.splice(i, 1);
      if (f !== undefined) return Promise.resolve(f);
    }
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          this.frames.splice(this.frames.indexOf(f), 1);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timed out waiting for a frame; have ${JSON.stringify(this.frames).slice(0, 500)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  nextOfType(t: string, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.t === t, timeoutMs);
  }

  /** Sends hello (with optional app bindings) and returns the welcome frame. */
  async hello(device: string, apps: { app: string; token: string; after?: number }[] = []): Promise<Frame> {
    this.send({ t: 'hello', device, apps });
    return this.nextOfType('welcome');
  }

  async bind(app: string, token: string, after?: number): Promise<Frame> {
    this.send({ t: 'bind', app, token, ...(after === undefined ? {} : { after }) });
    return this.next((f) => f.t === 'bound' || f.t === 'error');
  }

  close(): void {
    this.ws.close();
  }
}

export async function token(app: string, secret: string, user: string, opts: { expSeconds?: number; claimApp?: string } = {}): Promise<string> {
  return new SignJWT({ app: opts.claimApp ?? app })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expSeconds ?? 3600))
    .sign(new TextEncoder().encode(secret));
}

export interface TestApp {
  readonly app: string;
  readonly apiKey: string;
  readonly tokenSecret: string;
}

/** Creates an app through the admin API. */
export async function createApp(
  node: { api: (m: string, p: string, o?: { body?: unknown }) => Promise<{ status: number; body: unknown }> },
  app: string,
  extra: Record<string, unknown> = {},
): Promise<TestApp> {
  const cfg = { apiKey: `key-${app}-0123456789abcdef`, tokenSecret: `secret-${app}-0123456789abcdef`, ...extra };
  const r = await node.api('PUT', `/v1/apps/${app}`, { body: cfg });
  if (r.status !== 200) throw new Error(`create app ${app}: ${r.status} ${JSON.stringify(r.body)}`);
  return { app, apiKey: cfg.apiKey, tokenSecret: cfg.tokenSecret };
}
