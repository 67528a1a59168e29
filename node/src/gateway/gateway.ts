// The client port: WebSocket upgrades on /ws and the dispatcher route, on one
// HTTP server. Hot-path listeners are module-level functions that reach their
// Client through a symbol, so a connection costs no closures; one sweep timer
// drives hello and idle deadlines for all connections.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TlsPair } from '../server-tls.js';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode } from '../protocol/close-codes.js';
import { SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, decode, type Subprotocol } from '../protocol/codec.js';
import { toClientFrame } from '../protocol/frames.js';
import { dispatch, DISPATCH_TTL_SECONDS } from '../dispatcher.js';
import { OWNER_CHECK_MS, OWNER_REDIRECTS_PER_CHECK } from '../owner-moves.js';
import type { ClusterMember } from '../../../keeper/src/keeper.js';
import { Client } from './client.js';
import { normalizeAddress } from '../ip-policy.js';
import type { GatewayContext } from './context.js';

const kClient = Symbol('longwire.client');
type Socket = WebSocket & { [kClient]?: Client };

/** How often hello and idle deadlines are checked. */
export const SWEEP_INTERVAL_MS = 1000;
const NOTHING_TRIED: ReadonlySet<string> = new Set();
/** After terminating sockets, how long close() waits for their cleanup before the stores close. */
const CLEANUP_AFTER_TERMINATE_MS = 1000;

/** Resolves when every client has closed and finished its cleanup, or after waitMs. */
async function settledWithin(clients: readonly Client[], waitMs: number): Promise<void> {
  if (clients.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const closedAll = (async () => {
    for (const c of clients) await c.whenCleanedUp();
  })();
  await Promise.race([closedAll, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
  clearTimeout(timer);
}

function onMessage(this: Socket, data: Buffer, isBinary: boolean): void {
  const c = this[kClient];
  if (c === undefined || c.state === 'closed') return;
  c.ctx.metrics.frameIn.add();
  const d = decode(c.proto, data, isBinary);
  if (!d.ok) return c.protocolError(d.error);
  let f: ReturnType<typeof toClientFrame>;
  try {
    f = toClientFrame(d.value);
  } catch {
    // A throw here would escape ws's event handler and end the process: whatever a frame holds, it only closes its connection.
    return c.protocolError('invalid frame');
  }
  if ('error' in f) return c.protocolError(f.error);
  c.receive(f);
}

function onClose(this: Socket, code: number): void {
  const c = this[kClient];
  if (c === undefined) return;
  this[kClient] = undefined;
  const g = c.ctx;
  g.hub.clients.delete(c);
  g.metrics.connections.dec();
  g.metrics.disconnected(code);
  g.addresses.release(c.ip);
  void c.closed(code).catch((err: unknown) => g.log.error({ err }, 'connection cleanup failed'));
}

function onError(this: Socket): void {
  // Socket errors are followed by 'close'; cleanup happens there.
}


function pickProtocol(protocols: Set<string>): Subprotocol | false {
  if (protocols.has(SUBPROTOCOL_MSGPACK)) return SUBPROTOCOL_MSGPACK;
  if (protocols.has(SUBPROTOCOL_JSON)) return SUBPROTOCOL_JSON;
  return false;
}

export class Gateway {
  readonly server: Server | HttpsServer;
  /** Whether it serves wss:// (the dispatcher then answers wss:// URLs). */
  private readonly tls: boolean;
  private readonly wss: WebSocketServer;
  private readonly sweeper: NodeJS.Timeout;
  private draining = false;

  constructor(
    private readonly ctx: GatewayContext,
    tls: TlsPair | undefined,
    /** Members clients are sent to, owner first: the voters, less any being drained (ownership.ts). */
    private readonly ringMembers: () => readonly ClusterMember[] = () => ctx.keeper.cluster().members,
  ) {
    this.tls = tls !== undefined;
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.onRequest(req, res);
    this.server = tls === undefined ? createServer(handler) : createHttpsServer({ cert: tls.cert, key: tls.key }, handler);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: ctx.settings.frameBytesMax,
      perMessageDeflate: ctx.settings.perMessageDeflate,
      handleProtocols: pickProtocol,
      clientTracking: false,
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** New certificate for new connections; open ones keep theirs (SIGHUP). */
  setTls(pair: TlsPair): void {
    if (!this.tls) throw new Error('the gateway was started without TLS');
    (this.server as HttpsServer).setSecureContext({ cert: pair.cert, key: pair.key });
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        resolve(typeof a === 'object' && a !== null ? a.port : port);
      });
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/v1/dispatch') {
      const app = url.searchParams.get('app') ?? '';
      const user = url.searchParams.get('user') ?? '';
      const tried = new Set((url.searchParams.get('tried') ?? '').split(',').filter((s) => s.length > 0));
      const nodes = dispatch(this.ringMembers(), app, user, tried, this.tls);
      const body = JSON.stringify({ nodes, ttl: DISPATCH_TTL_SECONDS });
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'cache-control': 'no-store' });
      res.end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not-found', message: `no route ${req.method ?? ''} ${url.pathname}` } }));
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    const ip = normalizeAddress(req.socket.remoteAddress ?? '');
    if (!this.ctx.ipPolicy.permits(ip)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws: Socket) => {
      if (ws.protocol !== SUBPROTOCOL_JSON && ws.protocol !== SUBPROTOCOL_MSGPACK) {
        ws.close(CloseCode.protocolError, `subprotocol must be ${SUBPROTOCOL_JSON} or ${SUBPROTOCOL_MSGPACK}`);
        return;
      }
      if (this.draining) {
        ws.close(CloseCode.redirect, 'draining');
        return;
      }
      if (this.ctx.hub.clients.size >= this.ctx.settings.connectionsMax) {
        ws.close(CloseCode.overloaded, 'node at connection cap');
        return;
      }
      const admitted = this.ctx.addresses.admit(ip, this.ctx.now());
      if (admitted !== 'ok') {
        this.ctx.metrics.rateLimitedAddress.inc();
        ws.close(CloseCode.tooManyFromAddress, admitted === 'too-many' ? 'too many connections from this address' : 'connecting too fast from this address');
        return;
      }
      const c = new Client(ws, ws.protocol, ip, this.ctx);
      ws[kClient] = c;
      this.ctx.hub.clients.add(c);
      this.ctx.metrics.connections.inc();
      this.ctx.metrics.connects.inc();
      ws.on('message', onMessage);
      ws.on('close', onClose);
      ws.on('error', onError);
    });
  }

  private sweep(): void {
    const now = this.ctx.now();
    const s = this.ctx.settings;
    const idleMs = 2 * s.heartbeatSeconds * 1000 + s.heartbeatGraceMs;
    for (const c of this.ctx.hub.clients) {
      if (c.state === 'hello' && now - c.lastSeenMs > s.helloTimeoutMs) {
        c.send({ t: 'error', code: 'no-hello', message: `no hello within ${s.helloTimeoutMs} ms` });
        c.close(CloseCode.noHello, 'no hello in time');
      } else if (c.state === 'ready' && now - c.lastSeenMs > idleMs) {
        c.close(CloseCode.idle, 'idle');
      }
    }
  }

  /**
   * Stops accepting, tells every client to reconnect to another member
   * (`redirect`, close 4009), and waits up to waitMs for the close handshakes
   * and each connection's cleanup (cursors written, register entries removed).
   * Clients still open after that are terminated by close().
   */
  async drain(reason: string, waitMs: number, paced = false): Promise<void> {
    if (!this.draining) {
      this.draining = true;
      // New TCP connections are refused from here; open ones finish their close handshake.
      this.server.close();
    }
    // The healthy other members, ranked for each client's (first) user as the dispatcher would.
    const others = this.ringMembers().filter((m) => m.id !== this.ctx.nodeId && m.healthy);
    const clients = [...this.ctx.hub.clients];
    for (const [i, c] of clients.entries()) {
      // Paced (a drain before removal): the other members take the reconnects in steps, as for owner moves.
      if (paced && i > 0 && i % OWNER_REDIRECTS_PER_CHECK === 0) await new Promise((r) => setTimeout(r, OWNER_CHECK_MS));
      if (c.state === 'closed') continue;
      const b = c.bindings.first();
      const nodes = dispatch(others, b?.app ?? '', b?.user ?? '', NOTHING_TRIED, this.tls);
      c.send({ t: 'redirect', reason, nodes });
      c.close(CloseCode.redirect, reason);
    }
    await settledWithin(clients, waitMs);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const left = [...this.ctx.hub.clients];
    for (const c of left) c.ws.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await settledWithin(left, CLEANUP_AFTER_TERMINATE_MS);
  }
}
