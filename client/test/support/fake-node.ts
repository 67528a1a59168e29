// A small longwire node written against PROTOCOL.md, for end-to-end tests of
// the SDK until the real node exists: the dispatcher (with CORS, as browsers
// need), the /ws gateway in both subprotocols, per-device cursors in
// per-user inboxes, topics with offsets, upstream replies, and fault controls
// (drop, redirect, silence) real nodes do not expose.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Packr } from 'msgpackr';
import { WebSocketServer, type WebSocket } from 'ws';
import { signToken, verifyToken } from './jwt.js';
import type { TestNode } from './test-node.js';

const JSON_PROTO = 'longwire.v1.json';
const MSGPACK_PROTO = 'longwire.v1.msgpack';
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

type Frame = Record<string, unknown>;

interface Conn {
  readonly ws: WebSocket;
  readonly proto: string;
  device: string | undefined;
  /** app → user */
  readonly apps: Map<string, string>;
  readonly topics: Set<string>;
  readonly received: Frame[];
}

interface Stored {
  readonly seq: number;
  readonly id: string;
  readonly data: unknown;
  readonly ts: number;
}

export interface FakeNodeOptions {
  readonly id?: string;
  readonly heartbeat?: number;
  readonly dispatchTtl?: number;
  /** Extra nodes listed by the dispatcher after this one. */
  readonly otherNodes?: readonly string[];
}

export class FakeNode implements TestNode {
  readonly kind = 'fake';
  readonly app = 'chat';
  readonly secret = 'test-secret';
  readonly conns = new Set<Conn>();
  readonly dispatchQueries: URLSearchParams[] = [];
  /** Ignore pings and send nothing: the client must notice a dead connection. */
  silent = false;
  private readonly inboxes = new Map<string, Stored[]>();
  private readonly cursors = new Map<string, number>();
  private readonly topicLogs = new Map<string, { offset: number; data: unknown; ts: number }[]>();
  private nextSession = 0;
  private nextMsgId = 0;
  private firstListed: readonly string[] = [];

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    private readonly options: FakeNodeOptions,
  ) {}

  static async start(options: FakeNodeOptions = {}): Promise<FakeNode> {
    const http = createServer();
    const wss = new WebSocketServer({
      server: http,
      path: '/ws',
      handleProtocols: (protocols) => (protocols.has(JSON_PROTO) ? JSON_PROTO : protocols.has(MSGPACK_PROTO) ? MSGPACK_PROTO : false),
    });
    const node = new FakeNode(http, wss, options);
    http.on('request', (req, res) => node.onHttp(req.url ?? '/', res));
    wss.on('connection', (ws) => node.onConnection(ws));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    return node;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get dispatchUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** Nodes the dispatcher lists before this one (to test walking). */
  listFirst(urls: readonly string[]): void {
    this.firstListed = urls;
  }

  token(user: string, expSeconds = 3600): string {
    return signToken(this.secret, { sub: user, app: this.app, exp: Math.floor(Date.now() / 1000) + expSeconds });
  }

  async push(user: string, data: unknown): Promise<number> {
    const inbox = this.inbox(this.app, user);
    const m: Stored = { seq: inbox.length + 1, id: `m${this.nextMsgId++}`, data, ts: Date.now() };
    inbox.push(m);
    for (const c of this.conns) if (c.apps.get(this.app) === user) this.send(c, { t: 'msg', app: this.app, seq: m.seq, id: m.id, data, ts: m.ts, qos: 1 });
    return m.seq;
  }

  /** A seq-less message to every connection of the app, sent `times` times with one id. */
  broadcast(data: unknown, times: number): void {
    const id = `b${this.nextMsgId++}`;
    for (let i = 0; i < times; i++) {
      for (const c of this.conns) if (c.apps.has(this.app)) this.send(c, { t: 'msg', app: this.app, id, data, ts: Date.now(), qos: 0 });
    }
  }

  async publish(topic: string, data: unknown): Promise<number> {
    const log = this.topicLogs.get(topic) ?? [];
    this.topicLogs.set(topic, log);
    const e = { offset: log.length + 1, data, ts: Date.now() };
    log.push(e);
    for (const c of this.conns) if (c.topics.has(topic)) this.send(c, { t: 'pub', app: this.app, topic, ...e });
    return e.offset;
  }

  async kick(user: string): Promise<void> {
    for (const c of this.conns) if (c.apps.get(this.app) === user) c.ws.close(4002, 'kicked');
  }

  /** Kills every connection without a close frame (the client sees 1006). */
  drop(): void {
    for (const c of this.conns) c.ws.terminate();
  }

  redirect(urls: readonly string[]): void {
    for (const c of this.conns) {
      this.send(c, { t: 'redirect', reason: 'test', nodes: urls.map((url, i) => ({ id: `r${i}`, url, zone: 'z' })) });
      c.ws.close(4009, 'redirect');
    }
  }

  cursor(user: string, device: string): number {
    return this.cursors.get(`${this.app}/${user}/${device}`) ?? 0;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private onHttp(url: string, res: import('node:http').ServerResponse): void {
    const u = new URL(url, 'http://x');
    res.setHeader('access-control-allow-origin', '*');
    if (u.pathname !== '/v1/dispatch') {
      res.writeHead(404).end();
      return;
    }
    this.dispatchQueries.push(u.searchParams);
    // As the contract says: addresses in `tried` go last.
    const tried = new Set((u.searchParams.get('tried') ?? '').split(',').filter((t) => t !== ''));
    const all = [...this.firstListed, this.wsUrl, ...(this.options.otherNodes ?? [])];
    const urls = [...all.filter((x) => !tried.has(new URL(x).host)), ...all.filter((x) => tried.has(new URL(x).host))];
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ nodes: urls.map((url, i) => ({ id: `n${i}`, url, zone: 'z' })), ttl: this.options.dispatchTtl ?? 60 }));
  }

  private onConnection(ws: WebSocket): void {
    const c: Conn = { ws, proto: ws.protocol, device: undefined, apps: new Map(), topics: new Set(), received: [] };
    this.conns.add(c);
    ws.on('close', () => this.conns.delete(c));
    ws.on('message', (raw, isBinary) => {
      const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as Buffer);
      const f: unknown = isBinary ? packr.unpack(buf) : JSON.parse(buf.toString('utf8'));
      if (typeof f !== 'object' || f === null) return ws.close(4000, 'not an object');
      c.received.push(f as Frame);
      this.onFrame(c, f as Frame);
    });
  }

  private onFrame(c: Conn, f: Frame): void {
    if (c.device === undefined && f.t !== 'hello') return c.ws.close(4000, 'hello first');
    switch (f.t) {
      case 'hello': {
        c.device = String(f.device);
        this.send(c, { t: 'welcome', session: `s${this.nextSession++}`, node: this.options.id ?? 'fake-1', heartbeat: this.options.heartbeat ?? 25 });
        for (const b of (f.apps as Frame[] | undefined) ?? []) if (!this.bind(c, b)) return;
        return;
      }
      case 'bind':
        this.bind(c, f);
        return;
      case 'unbind':
        c.apps.delete(String(f.app));
        return;
      case 'ack': {
        const user = c.apps.get(String(f.app));
        if (user === undefined || c.device === undefined) return;
        const key = `${String(f.app)}/${user}/${c.device}`;
        this.cursors.set(key, Math.max(this.cursors.get(key) ?? 0, Number(f.seq)));
        return;
      }
      case 'up': {
        const data = f.data as Frame | null;
        const reply = data !== null && typeof data === 'object' && data.fail === true ? { ok: false, error: 'webhook-failed' } : { ok: true, data: { echo: f.data } };
        this.send(c, { t: 'reply', id: f.id, ...reply });
        return;
      }
      case 'sub': {
        const topic = String(f.topic);
        c.topics.add(topic);
        const after = typeof f.after === 'number' ? f.after : Infinity;
        for (const e of this.topicLogs.get(topic) ?? []) if (e.offset > after) this.send(c, { t: 'pub', app: this.app, topic, ...e });
        return;
      }
      case 'unsub':
        c.topics.delete(String(f.topic));
        return;
      case 'ping':
        if (!this.silent) this.send(c, { t: 'pong' });
        return;
      default:
        c.ws.close(4000, 'unknown frame');
    }
  }

  /** Checks the token, replies bound, and replays the inbox after the cursor. */
  private bind(c: Conn, b: Frame): boolean {
    const app = String(b.app);
    const claims = verifyToken(this.secret, String(b.token), app, Date.now() / 1000);
    if (claims === undefined) {
      c.ws.close(4001, 'unauthorized');
      return false;
    }
    c.apps.set(app, claims.sub);
    const inbox = this.inbox(app, claims.sub);
    this.send(c, { t: 'bound', app, user: claims.sub, seq: inbox.length });
    const after = typeof b.after === 'number' ? b.after : this.cursors.get(`${app}/${claims.sub}/${c.device ?? ''}`) ?? 0;
    for (const m of inbox) if (m.seq > after) this.send(c, { t: 'msg', app, seq: m.seq, id: m.id, data: m.data, ts: m.ts, qos: 1 });
    return true;
  }

  private inbox(app: string, user: string): Stored[] {
    const key = `${app}/${user}`;
    const inbox = this.inboxes.get(key) ?? [];
    this.inboxes.set(key, inbox);
    return inbox;
  }

  private send(c: Conn, f: Frame): void {
    if (this.silent || c.ws.readyState !== c.ws.OPEN) return;
    c.ws.send(c.proto === MSGPACK_PROTO ? packr.pack(f) : JSON.stringify(f));
  }
}
