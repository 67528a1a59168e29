// One device of the delivery workload: stays connected (reconnecting with
// backoff), binds with `after` = its last processed seq as the SDK does, acks
// what it processed, and records every event it observes.
import WebSocket from 'ws';
import { clientToken } from './client-token.js';
import type { DeviceEvent, DeviceHistory } from '../checker/history.js';

export interface DeviceOptions {
  readonly device: string;
  readonly user: string;
  readonly app: string;
  readonly tokenSecret: string;
  /** Where to connect; called on every attempt so a restarted node is found. */
  readonly url: () => string;
}

const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 1000;

export class Device {
  readonly events: DeviceEvent[] = [];
  /** Highest seq processed (msg received in order, or gap). */
  processed = 0;
  private conn = 0;
  private ws: WebSocket | undefined;
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: DeviceOptions) {}

  get user(): string {
    return this.o.user;
  }

  start(): void {
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const conn = ++this.conn;
    const token = await clientToken(this.o.app, this.o.user, this.o.tokenSecret);
    const ws = new WebSocket(this.o.url(), ['longwire.v1.json'], { handshakeTimeout: 2000 });
    this.ws = ws;
    let open = false;
    ws.on('open', () => {
      open = true;
      this.attempt = 0;
      this.events.push({ type: 'connected', conn, at: Date.now() });
      ws.send(JSON.stringify({ t: 'hello', device: this.o.device, apps: [{ app: this.o.app, token, after: this.processed }] }));
    });
    ws.on('message', (data: Buffer) => this.onFrame(conn, ws, JSON.parse(data.toString()) as Record<string, unknown>));
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (open) this.events.push({ type: 'disconnected', conn, at: Date.now() });
      if (this.ws === ws) this.ws = undefined;
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt++);
    this.timer = setTimeout(() => void this.connect(), Math.random() * delay);
  }

  private onFrame(conn: number, ws: WebSocket, f: Record<string, unknown>): void {
    const at = Date.now();
    if (f.t === 'msg' && typeof f.seq === 'number') {
      const data = f.data as { v: string };
      this.events.push({ type: 'msg', conn, seq: f.seq, value: data.v, at });
      if (f.seq === this.processed + 1) this.processed = f.seq;
      this.ack(conn, ws);
    } else if (f.t === 'gap' && typeof f.from === 'number' && typeof f.to === 'number') {
      this.events.push({ type: 'gap', conn, from: f.from, to: f.to, reason: String(f.reason), at });
      if (f.from <= this.processed + 1 && f.to > this.processed) this.processed = f.to;
      this.ack(conn, ws);
    }
  }

  private ack(conn: number, ws: WebSocket): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ t: 'ack', app: this.o.app, seq: this.processed }));
    this.events.push({ type: 'ack', conn, seq: this.processed, at: Date.now() });
  }

  /** Drops the connection abruptly (a network blip). */
  blip(): void {
    this.ws?.terminate();
  }

  stop(): DeviceHistory {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.ws?.terminate();
    return { device: this.o.device, user: this.o.user, events: this.events };
  }
}
