// Helpers for the black-box contract tests: the error-body shape, bounded
// polling, a small webhook receiver on loopback, and a "witness" client whose
// deliveries prove the node kept serving others after some bad input.
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect } from 'node:net';
import WebSocket from 'ws';
import type { ApiResponse, NodeProcess } from './node-process.js';
import { TestSocket, token, type Frame, type Proto, type TestApp } from './ws-client.js';

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Narrows an API body to an object, failing the test otherwise. */
export function obj(v: unknown, what = 'body'): Record<string, unknown> {
  assert.ok(isRecord(v), `${what} is not an object: ${JSON.stringify(v)}`);
  return v;
}

/** Asserts the contract's error shape {"error":{"code","message"}} and the status; returns the error object. */
export function assertApiError(r: ApiResponse, status: number, code?: string): { code: string; message: string } {
  assert.equal(r.status, status, `expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
  const body = obj(r.body);
  assert.deepEqual(Object.keys(body), ['error'], `error body has other keys: ${JSON.stringify(body)}`);
  const e = obj(body.error, 'error');
  assert.equal(typeof e.code, 'string', `error.code: ${JSON.stringify(e)}`);
  assert.equal(typeof e.message, 'string', `error.message: ${JSON.stringify(e)}`);
  assert.ok((e.message as string).length > 0, 'error.message is empty');
  if (code !== undefined) assert.equal(e.code, code, JSON.stringify(e));
  return { code: e.code as string, message: e.message as string };
}

/** Asserts the WebSocket error frame shape {"t":"error","code","message"}. */
export function assertErrorFrame(f: Frame, code: string): void {
  assert.equal(f.t, 'error', JSON.stringify(f));
  assert.equal(f.code, code, JSON.stringify(f));
  assert.equal(typeof f.message, 'string', JSON.stringify(f));
}

/**
 * How long `eventually` polls when the caller names no count. Its waits cross
 * processes (a register write can wait out an election of up to 3 s), and a
 * loaded machine stretches them: generous, as a pass costs only its wait.
 */
export const EVENTUALLY_DEFAULT_MS = 30_000;

/**
 * Polls `probe`, `intervalMs` apart, until it returns a value other than
 * undefined. Gives up after `attempts` tries when the caller names a count;
 * else after EVENTUALLY_DEFAULT_MS of wall time (slow probes mean fewer tries,
 * not a longer wait).
 */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, attempts?: number, intervalMs = 50): Promise<T> {
  const started = Date.now();
  const more = (tries: number): boolean => (attempts === undefined ? Date.now() - started < EVENTUALLY_DEFAULT_MS : tries < attempts);
  let tries = 0;
  do {
    tries++;
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  } while (more(tries));
  throw new Error(`gave up waiting for ${what} after ${tries} tries in ${Date.now() - started} ms`);
}

/**
 * Repeats an API call while it answers 503 `not-ready`, which the contract
 * gives as "no leader for now, retry" (an election, which a loaded machine
 * can set off at any time); answers the first other answer.
 */
export async function unless503(call: () => Promise<ApiResponse>, what: string): Promise<ApiResponse> {
  return eventually(async () => {
    const r = await call();
    return r.status === 503 && isRecord(r.body) && isRecord(r.body.error) && r.body.error.code === 'not-ready' ? undefined : r;
  }, `${what} answered other than 503`, undefined, 100);
}

/** Awaits `p`, failing with `what` if it has not settled within `ms` (an await that must not hang the file). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A round trip on the connection: every frame the server sent before the pong has arrived. */
export async function roundTrip(s: TestSocket): Promise<void> {
  s.send({ t: 'ping' });
  await s.nextOfType('pong');
}

export async function openBound(node: NodeProcess, app: TestApp, device: string, user: string, proto: Proto = 'json'): Promise<{ s: TestSocket; welcome: Frame; bound: Frame }> {
  const s = await TestSocket.open(node.wsUrl, proto);
  const welcome = await s.hello(device);
  const bound = await s.bind(app.app, await token(app.app, app.tokenSecret, user));
  assert.equal(bound.t, 'bound', JSON.stringify(bound));
  return { s, welcome, bound };
}

/**
 * A client bound on its own connection for the whole file. check() pushes to
 * it and waits for the message: proof that the node still serves other users.
 */
export class Witness {
  private n = 0;
  private constructor(
    private readonly node: NodeProcess,
    private readonly app: TestApp,
    private readonly user: string,
    readonly s: TestSocket,
  ) {}

  static async open(node: NodeProcess, app: TestApp, user = 'witness', proto: Proto = 'json'): Promise<Witness> {
    const { s } = await openBound(node, app, `${user}-device`, user, proto);
    return new Witness(node, app, user, s);
  }

  async check(): Promise<void> {
    const n = ++this.n;
    const r = await this.node.api('POST', `/v1/apps/${this.app.app}/push`, { token: this.app.apiKey, body: { users: [this.user], data: { witness: n } } });
    assert.equal(r.status, 200, `witness push: ${r.status} ${JSON.stringify(r.body)}`);
    const m = await this.s.next((f) => f.t === 'msg' && isRecord(f.data) && f.data.witness === n);
    assert.equal(typeof m.seq, 'number');
    this.s.send({ t: 'ack', app: this.app.app, seq: m.seq });
    await roundTrip(this.s);
    assert.equal(this.s.frames.filter((f) => f.t === 'error').length, 0, `witness got an error: ${JSON.stringify(this.s.frames)}`);
  }
}

export interface WebhookCall {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A webhook receiver on 127.0.0.1 that records each call and answers with `answer(call)`. */
export class WebhookServer {
  readonly calls: WebhookCall[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(answer: (call: WebhookCall) => { status: number; body: string }): Promise<WebhookServer> {
    let self: WebhookServer | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 1024 * 1024) chunks.push(c);
      });
      req.on('end', () => {
        const call = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        self?.calls.push(call);
        const a = answer(call);
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(a.body);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const a = server.address();
    const port = typeof a === 'object' && a !== null ? a.port : 0;
    self = new WebhookServer(server, `http://127.0.0.1:${port}/hook`);
    return self;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** True when `signature` is `sha256=` + hex HMAC-SHA256 under `key` of "<timestamp>.<body>". */
export function validSignature(key: string, timestamp: string, body: string, signature: string): boolean {
  const want = Buffer.from('sha256=' + createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex'));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Opens a raw ws with the given subprotocols and reports whether it opened and how it closed. */
export async function rawUpgrade(url: string, protocols: string[]): Promise<{ opened: boolean; code: number }> {
  const ws = protocols.length === 0 ? new WebSocket(url) : new WebSocket(url, protocols);
  let opened = false;
  ws.on('open', () => (opened = true));
  ws.on('error', () => {
    // a refused handshake reports here and then closes
  });
  const timer = setTimeout(() => ws.terminate(), 10_000);
  const code = await new Promise<number>((resolve) => ws.once('close', (c: number) => resolve(c)));
  clearTimeout(timer);
  return { opened, code };
}

/**
 * Sends only a request's head, declaring a body of `declaredBytes`, and reads
 * the answer. A server that refuses a body by its declared length answers
 * without reading it; sending the body as well would race the server's close
 * (unread bytes make the close a reset, which can discard the answer before
 * the client reads it).
 */
export async function headOnly(url: string, method: string, headers: Record<string, string>, declaredBytes: number): Promise<ApiResponse> {
  const u = new URL(url);
  const sock = connect(Number(u.port), u.hostname);
  const chunks: Buffer[] = [];
  const timer = setTimeout(() => sock.destroy(new Error('timed out')), 10_000);
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => {
        const lines = [`${method} ${u.pathname}${u.search} HTTP/1.1`, `host: ${u.host}`, `content-length: ${declaredBytes}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
        sock.write(lines.join('\r\n') + '\r\n\r\n');
      });
      sock.on('data', (c: Buffer) => {
        chunks.push(c);
        const text = Buffer.concat(chunks).toString('utf8');
        const end = text.indexOf('\r\n\r\n');
        const len = /\r\ncontent-length: *(\d+)/i.exec(text);
        if (end >= 0 && len?.[1] !== undefined && Buffer.byteLength(text) >= Buffer.byteLength(text.slice(0, end + 4)) + Number(len[1])) resolve();
      });
      sock.once('end', () => resolve());
      sock.once('error', reject);
    });
  } finally {
    clearTimeout(timer);
    sock.destroy();
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  const head = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
  const h = new Headers();
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) h.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const bodyText = text.slice(end + 4);
  let body: unknown = bodyText;
  try {
    body = JSON.parse(bodyText);
  } catch {
    // not JSON
  }
  return { status, body, headers: h };
}
