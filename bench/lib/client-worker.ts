// A bench client process (child_process.fork): holds thousands of real `ws`
// connections that speak the longwire JSON subprotocol (hello, bind, ping,
// ack) and measures what arrives. Driven over IPC by fleet.ts; it exits when
// told to close or when its parent goes away.
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { nowMs } from './clock.js';
import type { ConnectCmd, ExpectCmd, Health, WorkerCmd, WorkerReply } from './fleet-messages.js';

/** Each connection pings this often; the node closes connections silent for 2×25 s + 5 s. */
const PING_EVERY_MS = 20_000;
const PING_TICK_MS = 1000;

type Frame = { t?: unknown; seq?: unknown; data?: unknown; code?: unknown; message?: unknown };

class Conn {
  bound = false;
  onReady: ((err?: Error) => void) | undefined;
  constructor(
    readonly ws: WebSocket,
    readonly user: string,
    readonly app: string,
    readonly token: string,
  ) {}
}

const conns: Conn[] = [];
let open = 0;
let errorFrames = 0;
let lastError = '';
const closes: Record<string, number> = {};
let closing = false;

// Unicast measurement state.
let latencies = new Float64Array(1 << 16);
let latencyCount = 0;
let received = 0;
let lastAt = 0;

// Broadcast expectation state.
// `latencies`: receipt − the send time written into the broadcast, ms, one per delivery.
let expect: { marker: number; expected: number; got: number; firstAt: number; lastAt: number; latencies: Float64Array; timer: NodeJS.Timeout } | undefined;

function reply(r: WorkerReply): void {
  process.send?.(r);
}

function health(): Health {
  return { open, errorFrames, lastError, closes: { ...closes } };
}

function addLatency(ms: number): void {
  if (latencyCount === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[latencyCount++] = ms;
}

function finishExpect(): void {
  if (expect === undefined) return;
  const e = expect;
  expect = undefined;
  clearTimeout(e.timer);
  reply({ t: 'expect-done', marker: e.marker, got: e.got, expected: e.expected, firstAt: e.firstAt, lastAt: e.lastAt, latencies: e.latencies.slice(0, e.got) });
}

function onMsg(c: Conn, f: Frame, at: number): void {
  const d = f.data as { k?: unknown; s?: unknown; m?: unknown } | undefined;
  if (typeof f.seq === 'number') c.ws.send(`{"t":"ack","app":${JSON.stringify(c.app)},"seq":${f.seq}}`);
  if (d === undefined || d === null) return;
  if (d.k === 'u' && typeof d.s === 'number') {
    received++;
    lastAt = at;
    addLatency(at - d.s);
  } else if (d.k === 'b' && expect !== undefined && d.m === expect.marker) {
    if (expect.got === 0) expect.firstAt = at;
    if (typeof d.s === 'number' && expect.got < expect.latencies.length) expect.latencies[expect.got] = at - d.s;
    expect.got++;
    expect.lastAt = at;
    if (expect.got >= expect.expected) finishExpect();
  }
}

function onFrame(c: Conn, raw: WebSocket.RawData): void {
  const at = nowMs();
  let f: Frame;
  try {
    f = JSON.parse(raw.toString()) as Frame;
  } catch {
    errorFrames++;
    lastError = 'undecodable frame';
    return;
  }
  switch (f.t) {
    case 'msg':
      return onMsg(c, f, at);
    case 'welcome':
      c.ws.send(JSON.stringify({ t: 'bind', app: c.app, token: c.token }));
      return;
    case 'bound':
      c.bound = true;
      c.onReady?.();
      c.onReady = undefined;
      return;
    case 'pong':
      return;
    case 'error':
      errorFrames++;
      lastError = `${String(f.code)}: ${String(f.message)}`;
      return;
    default:
      return;
  }
}

async function mint(app: string, secret: Uint8Array, user: string): Promise<string> {
  return new SignJWT({ app })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 24 * 3600)
    .sign(secret);
}

function openOne(cmd: ConnectCmd, user: string, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(cmd.url, ['longwire.v1.json'], { perMessageDeflate: false, handshakeTimeout: cmd.timeoutMs, ...(cmd.ca === undefined ? {} : { ca: cmd.ca }) });
    const c = new Conn(ws, user, cmd.app, token);
    const timer = setTimeout(() => done(new Error(`${user}: not bound within ${cmd.timeoutMs} ms`)), cmd.timeoutMs);
    const done = (err?: Error): void => {
      clearTimeout(timer);
      c.onReady = undefined;
      if (err === undefined) {
        conns.push(c);
        open++;
        resolve();
      } else {
        ws.terminate();
        reject(err);
      }
    };
    c.onReady = done;
    ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', device: `d-${user}` })));
    ws.on('message', (raw) => onFrame(c, raw));
    ws.on('error', (err) => c.onReady?.(err));
    ws.on('close', (code, reason) => {
      if (c.onReady !== undefined) return c.onReady(new Error(`${user}: closed ${code} ${reason.toString()} before bound`));
      if (!c.bound) return;
      c.bound = false;
      open--;
      if (!closing) {
        closes[String(code)] = (closes[String(code)] ?? 0) + 1;
        lastError = `closed ${code} ${reason.toString()}`;
      }
    });
  });
}

async function connect(cmd: ConnectCmd): Promise<void> {
  const t0 = nowMs();
  const secret = new TextEncoder().encode(cmd.secret);
  let next = 0;
  let ok = 0;
  let failed = 0;
  let firstFailure = '';
  const lane = async (): Promise<void> => {
    while (next < cmd.count) {
      const user = `u${cmd.first + next++}`;
      try {
        await openOne(cmd, user, await mint(cmd.app, secret, user));
        ok++;
      } catch (err) {
        failed++;
        if (firstFailure === '') firstFailure = err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, cmd.concurrency) }, lane));
  reply({ t: 'connected', ok, failed, firstFailure, ms: nowMs() - t0, health: health() });
}

function arm(cmd: ExpectCmd): void {
  finishExpect();
  expect = {
    marker: cmd.marker,
    expected: open,
    got: 0,
    firstAt: 0,
    lastAt: 0,
    latencies: new Float64Array(open),
    timer: setTimeout(finishExpect, cmd.timeoutMs),
  };
  reply({ t: 'armed', marker: cmd.marker });
  if (open === 0) finishExpect();
}

let tick = 0;
const pinger = setInterval(() => {
  const slots = PING_EVERY_MS / PING_TICK_MS;
  const slot = tick++ % slots;
  for (let i = slot; i < conns.length; i += slots) {
    const c = conns[i];
    if (c !== undefined && c.bound) c.ws.send('{"t":"ping"}');
  }
}, PING_TICK_MS);

function closeAll(): void {
  closing = true;
  clearInterval(pinger);
  for (const c of conns) c.ws.terminate();
  conns.length = 0;
  reply({ t: 'closed' });
  setTimeout(() => process.exit(0), 100).unref();
}

process.on('message', (m: WorkerCmd) => {
  switch (m.t) {
    case 'connect':
      void connect(m);
      return;
    case 'expect':
      return arm(m);
    case 'reset':
      latencyCount = 0;
      received = 0;
      lastAt = 0;
      return;
    case 'count':
      return reply({ t: 'count', received, health: health() });
    case 'collect':
      return reply({ t: 'samples', latencies: latencies.slice(0, latencyCount), received, lastAt, health: health() });
    case 'close':
      return closeAll();
  }
});

process.on('disconnect', () => process.exit(0));
