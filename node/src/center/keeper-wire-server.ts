// The serving side of the keeper wire (keeper/src/keeper-wire.ts): a
// WebSocket upgrade at /v1/keeper/wire on the API port, taking the admin
// tokens the keeper routes take. Each binary message is a MessagePack array
// of calls (kv and leases); each call runs through KeeperOps, as its HTTP
// route would, and is answered by id as soon as it finishes; the answers of
// one turn leave in one message (turn-batch.ts). The token is checked again on every message, so a revoked token
// stops working on an open connection too.
//
// Bounds: connections per node and per client address, new connections per
// second per address (429 past them), message size (1009), calls per
// message (4400), calls of one connection running at once (past it the
// connection is not read until one finishes, so a client's surplus waits in
// TCP). A message that is not MessagePack closes the connection (1007); a
// call that is MessagePack but not a valid call is refused `invalid` by id.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { refuseUpgrade as refuse } from './upgrade-refusal.js';
import { Ajv, type ValidateFunction } from 'ajv';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { KEEPER_WIRE_PROTOCOL, WIRE_CALLS_PER_MESSAGE_MAX, WireClose, packWire, unpackWire, type WireAnswer, type WireRefusal, type WireRequest } from '../../../keeper/src/keeper-wire.js';
import type { Auth } from './auth.js';
import { ApiError } from './errors.js';
import { errorAnswer } from './error-answer.js';
import { KEY_CHARS_MAX, fullKey, leaseTtlSchema, putProperties, txnSchema, type KeeperOps, type Reach } from './keeper-ops.js';
import type { Logger } from '../logger.js';
import { AddressLimiter } from '../address-limiter.js';
import { normalizeAddress } from '../ip-policy.js';
import type { Metrics } from '../metrics.js';
import { CallGate } from '../call-gate.js';
import { TurnBatch } from '../turn-batch.js';

export interface KeeperWireLimits {
  readonly connectionsMax: number;
  /** Of those, from one IP address: one client in a reconnect loop cannot take them all. */
  readonly connectionsPerAddressMax: number;
  /** New connections per second from one IP address (and as many at once). */
  readonly connectionsPerAddressPerSecond: number;
  /** Calls of one connection running at once. */
  readonly callsMax: number;
  /** Largest message either way (a txn's values included): the API's body limit. */
  readonly messageBytesMax: number;
  /** How often every connection is pinged; one silent for a whole period is dropped. */
  readonly pingMs: number;
}

export interface KeeperWireDeps {
  readonly auth: Auth;
  readonly ops: KeeperOps;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly limits: KeeperWireLimits;
}


const idProp = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const;
const keyProp = { type: 'string', maxLength: KEY_CHARS_MAX } as const;
const consistency = { type: 'string', enum: ['linearizable', 'serializable'] } as const;
/** A lease id as the routes take it in their path (ids are 16 hex digits; a longer one is no lease). */
const leaseProp = { type: 'string', minLength: 1, maxLength: 64 } as const;
const callSchemas = {
  range: {
    type: 'object',
    required: ['id', 'op', 'key'],
    additionalProperties: false,
    properties: {
      id: idProp,
      op: { const: 'range' },
      key: keyProp,
      prefix: { type: 'boolean' },
      consistency,
      after: { type: 'string', maxLength: KEY_CHARS_MAX },
      limit: { type: 'integer', minimum: 1, maximum: 1_000_000 },
      keysOnly: { type: 'boolean' },
      countOnly: { type: 'boolean' },
      revision: { type: 'integer', minimum: 1, maximum: 999_999_999_999_999 },
    },
  },
  put: { type: 'object', required: ['id', 'op', 'key', 'value'], additionalProperties: false, properties: { id: idProp, op: { const: 'put' }, key: keyProp, ...putProperties } },
  delete: { type: 'object', required: ['id', 'op', 'key'], additionalProperties: false, properties: { id: idProp, op: { const: 'delete' }, key: keyProp, prefix: { type: 'boolean' } } },
  txn: { type: 'object', required: ['id', 'op', 'txn'], additionalProperties: false, properties: { id: idProp, op: { const: 'txn' }, txn: txnSchema, consistency } },
  leaseGrant: { type: 'object', required: ['id', 'op', 'ttl'], additionalProperties: false, properties: { id: idProp, op: { const: 'leaseGrant' }, ttl: leaseTtlSchema } },
  leaseKeepAlive: { type: 'object', required: ['id', 'op', 'lease'], additionalProperties: false, properties: { id: idProp, op: { const: 'leaseKeepAlive' }, lease: leaseProp } },
  leaseRevoke: { type: 'object', required: ['id', 'op', 'lease'], additionalProperties: false, properties: { id: idProp, op: { const: 'leaseRevoke' }, lease: leaseProp } },
  leaseInfo: { type: 'object', required: ['id', 'op', 'lease'], additionalProperties: false, properties: { id: idProp, op: { const: 'leaseInfo' }, lease: leaseProp, consistency } },
} as const;
const ajv = new Ajv({ allErrors: false, coerceTypes: false });
const validators = new Map<string, ValidateFunction>(Object.entries(callSchemas).map(([op, schema]) => [op, ajv.compile(schema)]));

/** The call, or the reason it is not one (with its id when it has one, so the refusal can be answered). */
function parseCall(v: unknown): { ok: true; call: WireRequest } | { ok: false; id: number | undefined; why: string } {
  const o = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const id = typeof o?.id === 'number' && Number.isSafeInteger(o.id) && o.id > 0 ? o.id : undefined;
  const validate = typeof o?.op === 'string' ? validators.get(o.op) : undefined;
  if (validate === undefined) return { ok: false, id, why: `a call is a map with an id and an op of ${Object.keys(callSchemas).join(', ')}` };
  if (!validate(v)) return { ok: false, id, why: `${String(o?.op)}: ${ajv.errorsText(validate.errors, { dataVar: 'call' })}` };
  return { ok: true, call: v as WireRequest };
}

function keyOf(key: string): string {
  const k = fullKey(key);
  if (k.length > KEY_CHARS_MAX) throw new ApiError('invalid', `key longer than ${KEY_CHARS_MAX} characters`);
  return k;
}

export class KeeperWireServer {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<WireSession>();
  private readonly addresses: AddressLimiter;
  private stopping = false;
  /** Pings every connection; one that answered nothing since the last ping is dropped (a client gone without a FIN). */
  private readonly pinger: NodeJS.Timeout;

  constructor(private readonly d: KeeperWireDeps) {
    this.addresses = new AddressLimiter(() => d.limits);
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: d.limits.messageBytesMax,
      handleProtocols: (protocols) => (protocols.has(KEEPER_WIRE_PROTOCOL) ? KEEPER_WIRE_PROTOCOL : false),
    });
    this.pinger = setInterval(() => {
      for (const s of this.sessions) s.ping();
    }, d.limits.pingMs);
    this.pinger.unref();
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (req.method !== 'GET') return refuse(socket, 404, 'not-found', `no upgrade at ${req.method ?? ''} ${req.url ?? ''}`);
    const asked = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || !asked.includes(KEEPER_WIRE_PROTOCOL)) {
      return refuse(socket, 400, 'invalid', `a WebSocket upgrade with subprotocol ${KEEPER_WIRE_PROTOCOL} only`);
    }
    const authorization = req.headers.authorization;
    try {
      this.d.auth.keeperToken(authorization);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.d.metrics.apiErrors.labels(err.code).inc();
      return refuse(socket, err.status, err.code, err.message);
    }
    if (this.stopping) return refuse(socket, 503, 'not-ready', 'the node is stopping');
    if (this.sessions.size >= this.d.limits.connectionsMax) {
      this.d.metrics.apiErrors.labels('too-many-connections').inc();
      return refuse(socket, 429, 'too-many-connections', `this node serves ${this.d.limits.connectionsMax} keeper wire connections: use another member, or HTTP`);
    }
    const ip = normalizeAddress(req.socket.remoteAddress ?? '');
    const admitted = this.addresses.admit(ip, Date.now());
    if (admitted !== 'ok') {
      const code = admitted === 'too-many' ? 'too-many-connections' : 'rate-limited';
      this.d.metrics.apiErrors.labels(code).inc();
      const why = admitted === 'too-many' ? `${this.d.limits.connectionsPerAddressMax} keeper wire connections from ${ip} are open` : `more than ${this.d.limits.connectionsPerAddressPerSecond} new keeper wire connections per second from ${ip}`;
      return refuse(socket, 429, code, `${why}: one keeper client per process shares one connection per member`);
    }
    // ws refuses a malformed handshake itself (a bad key or version) and never calls back: the address's place is given back when its socket closes.
    let taken = false;
    socket.once('close', () => {
      if (!taken) this.addresses.release(ip);
    });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      taken = true;
      const s = new WireSession(ws, authorization ?? '', this.d, () => {
        this.sessions.delete(s);
        this.addresses.release(ip);
        this.d.metrics.keeperWireConnections.dec();
      });
      this.sessions.add(s);
      this.d.metrics.keeperWireConnections.inc();
    });
  }

  /**
   * The node is stopping: new upgrades are refused, new calls answered 503
   * (the client sends them to another member, writes too, as they were not
   * applied), calls running get up to `graceMs` to be answered; then every
   * connection is closed (1001).
   */
  async drain(graceMs: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.pinger);
    await Promise.all([...this.sessions].map((s) => s.drain(graceMs)));
  }
}

/** One client's connection. */
class WireSession {
  private readonly calls: CallGate<{ call: WireRequest; reach: Reach }>;
  /** The answers of one turn, sent as one message. */
  private readonly answers: TurnBatch<WireAnswer>;
  private closed = false;
  private stopping = false;
  /** Heard from since the last ping. */
  private alive = true;

  constructor(
    private readonly ws: WebSocket,
    private readonly authorization: string,
    private readonly d: KeeperWireDeps,
    private readonly onClose: () => void,
  ) {
    this.calls = new CallGate(d.limits.callsMax, ({ call, reach }) => this.run(call, reach), {
      pause: () => ws.pause(),
      resume: () => {
        if (!this.closed) ws.resume();
      },
    });
    this.answers = new TurnBatch((all) => this.send(all));
    ws.on('message', (data, isBinary) => {
      this.alive = true;
      this.onMessage(data, isBinary);
    });
    ws.on('pong', () => (this.alive = true));
    ws.on('close', () => this.ended());
    // A reset or a protocol error (ws closes with 1002/1009 itself): nothing more to do than end.
    ws.on('error', () => this.ended());
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
    this.ended();
  }

  ping(): void {
    if (!this.alive) {
      this.ws.terminate();
      this.ended();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  /** See KeeperWireServer.drain. */
  async drain(graceMs: number): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + graceMs;
    while (this.calls.running > 0 && !this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // The last answers leave first.
    this.answers.flushNow();
    this.close(WireClose.goingAway, 'the node is stopping');
  }

  private ended(): void {
    if (this.closed) return;
    this.closed = true;
    this.answers.close();
    this.onClose();
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (!isBinary) return this.close(1003, 'binary MessagePack messages only');
    let frames: unknown;
    try {
      frames = unpackWire(data as Buffer);
    } catch {
      return this.close(1007, 'a message that is not MessagePack');
    }
    if (!Array.isArray(frames) || frames.length > WIRE_CALLS_PER_MESSAGE_MAX) return this.close(WireClose.badMessage, `a message is an array of at most ${WIRE_CALLS_PER_MESSAGE_MAX} calls`);
    let reach: Reach;
    try {
      reach = this.d.auth.keeperToken(this.authorization);
    } catch {
      return this.close(WireClose.tokenRevoked, 'the token is no longer valid');
    }
    for (const f of frames) {
      const p = parseCall(f);
      if (!p.ok) {
        if (p.id === undefined) return this.close(WireClose.badMessage, 'a call without an id');
        this.answers.add({ id: p.id, err: { code: 'invalid', status: 400, message: p.why } });
        continue;
      }
      if (this.stopping) this.answers.add({ id: p.call.id, err: { code: 'not-ready', status: 503, message: 'the node is stopping: call another member' } });
      else this.calls.submit({ call: p.call, reach });
    }
  }

  /** Runs a call and queues its answer; never rejects. */
  private async run(call: WireRequest, reach: Reach): Promise<void> {
    this.d.metrics.keeperWireCalls.labels(call.op).inc();
    try {
      this.answers.add({ id: call.id, ok: (await this.serve(call, reach)) ?? null });
    } catch (err) {
      this.answers.add({ id: call.id, err: this.refusal(call, err) });
    }
  }

  /** Async, so a check that throws at once is a refusal of this call like any other. */
  private async serve(c: WireRequest, reach: Reach): Promise<unknown> {
    const ops = this.d.ops;
    switch (c.op) {
      case 'range':
        return ops.range(reach, keyOf(c.key), {
          prefix: c.prefix === true,
          consistency: c.consistency ?? 'linearizable',
          keysOnly: c.keysOnly === true,
          countOnly: c.countOnly === true,
          ...(c.after === undefined ? {} : { after: c.after }),
          ...(c.limit === undefined ? {} : { limit: c.limit }),
          ...(c.revision === undefined ? {} : { revision: c.revision }),
        });
      case 'put':
        return ops.put(reach, keyOf(c.key), c);
      case 'delete':
        return ops.delete(reach, keyOf(c.key), c.prefix === true);
      case 'txn':
        return ops.txn(reach, c.txn, c.consistency ?? 'linearizable');
      case 'leaseGrant':
        return ops.leaseGrant(reach, c.ttl);
      case 'leaseKeepAlive':
        return ops.leaseKeepAlive(reach, c.lease);
      case 'leaseRevoke':
        return ops.leaseRevoke(reach, c.lease);
      case 'leaseInfo':
        return ops.leaseInfo(reach, c.lease, c.consistency ?? 'linearizable');
    }
  }

  private refusal(call: WireRequest, err: unknown): WireRefusal {
    const known = errorAnswer(err);
    if (known !== undefined) {
      this.d.metrics.apiErrors.labels(known.code).inc();
      return { code: known.code, status: known.status, message: known.message, ...known.extra };
    }
    this.d.log.error({ err, op: call.op }, 'keeper wire call failed');
    this.d.metrics.apiErrors.labels('internal').inc();
    return { code: 'internal', status: 500, message: 'internal error' };
  }

  /** A turn's answers, in messages of at most WIRE_CALLS_PER_MESSAGE_MAX. */
  private send(all: readonly WireAnswer[]): void {
    for (let i = 0; i < all.length; i += WIRE_CALLS_PER_MESSAGE_MAX) {
      const batch = all.slice(i, i + WIRE_CALLS_PER_MESSAGE_MAX);
      const msg = packWire(batch);
      if (msg.length <= this.d.limits.messageBytesMax) this.ws.send(msg);
      // Too big together: one message per answer, an answer too big alone refused.
      else for (const a of batch) this.ws.send(this.alone(a));
    }
  }

  private alone(a: WireAnswer): Buffer {
    const msg = packWire([a]);
    if (msg.length <= this.d.limits.messageBytesMax) return msg;
    return packWire([{ id: a.id, err: { code: 'too-large', status: 413, message: `an answer of ${msg.length} bytes, over the ${this.d.limits.messageBytesMax}-byte message limit: read fewer keys (limit)` } }]);
  }
}
