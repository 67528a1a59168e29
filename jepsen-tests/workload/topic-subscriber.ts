// A topic subscriber of the delivery workload: stays connected (reconnecting
// with backoff), binds a user nobody pushes to, subscribes to every topic
// with `after` = the last offset it got of it (as the SDK does), asks again
// for a topic whose owner could not be reached, and records every pub frame
// per connection. `readHistory` is the after-the-run read of one topic's whole
// history through any node.
import WebSocket from 'ws';
import { clientToken } from './client-token.js';
import type { FinalHistory, SubscriberHistory, TopicPubEvent } from '../checker/topics.js';

export interface SubscriberOptions {
  readonly name: string;
  readonly app: string;
  readonly tokenSecret: string;
  readonly topics: readonly string[];
  /** Where to connect; called on every attempt so a restarted node is found. */
  readonly url: () => string;
}

const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 1000;
/** After `owner-unavailable`, the topic is asked for again this much later on the same connection. */
const RESUBSCRIBE_MS = 300;
const HISTORY_READ_MS = 5000;

export class TopicSubscriber {
  private readonly pubs: TopicPubEvent[] = [];
  private readonly last = new Map<string, number>();
  private conn = 0;
  private ws: WebSocket | undefined;
  private stopped = false;
  private attempt = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly o: SubscriberOptions) {}

  start(): void {
    void this.connect();
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, ms);
    this.timers.add(t);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const conn = ++this.conn;
    const t = await clientToken(this.o.app, this.o.name, this.o.tokenSecret);
    const ws = new WebSocket(this.o.url(), ['longwire.v1.json'], { handshakeTimeout: 2000 });
    this.ws = ws;
    // Each sub is followed by a ping: frames are handled in order, so an error
    // before its pong is that sub's (the error frame names no topic), and
    // only a topic whose sub failed is asked for again, as the SDK does.
    const waiting: { topic: string; failed: boolean }[] = [];
    const sub = (topic: string): void => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(JSON.stringify({ t: 'sub', app: this.o.app, topic, after: this.last.get(topic) ?? 0 }));
      ws.send(JSON.stringify({ t: 'ping' }));
      waiting.push({ topic, failed: false });
    };
    ws.on('open', () => {
      this.attempt = 0;
      ws.send(JSON.stringify({ t: 'hello', device: `${this.o.name}-dev`, apps: [{ app: this.o.app, token: t }] }));
    });
    ws.on('message', (data: Buffer) => {
      const f = JSON.parse(data.toString()) as Record<string, unknown>;
      if (f.t === 'bound') for (const topic of this.o.topics) sub(topic);
      else if (f.t === 'pub' && typeof f.topic === 'string' && typeof f.offset === 'number') {
        const value = (f.data as { v?: unknown } | null)?.v;
        this.pubs.push({ conn, topic: f.topic, offset: f.offset, value: typeof value === 'string' ? value : JSON.stringify(f.data), at: Date.now() });
        this.last.set(f.topic, Math.max(this.last.get(f.topic) ?? 0, f.offset));
      } else if (f.t === 'error' && f.code === 'owner-unavailable') {
        const w = waiting[0];
        if (w !== undefined) w.failed = true;
      } else if (f.t === 'pong') {
        const w = waiting.shift();
        if (w?.failed === true) {
          this.later(RESUBSCRIBE_MS, () => {
            if (this.ws === ws) sub(w.topic);
          });
        }
      }
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.ws === ws) this.ws = undefined;
      if (this.stopped) return;
      const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt++);
      this.later(Math.random() * delay, () => void this.connect());
    });
  }

  /** Drops the connection abruptly (a network blip). */
  blip(): void {
    this.ws?.terminate();
  }

  stop(): SubscriberHistory {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.ws?.terminate();
    return { subscriber: this.o.name, pubs: this.pubs, last: Object.fromEntries(this.last) };
  }

  /** Connections made so far (the current one's number). */
  get connections(): number {
    return this.conn;
  }

  /** The highest offset got of `topic`, over all connections. */
  lastOf(topic: string): number {
    return this.last.get(topic) ?? 0;
  }
}

/** One topic's whole kept history, read with a fresh connection (`sub` with `after: 0`) through `url`. */
export async function readHistory(url: string, app: string, tokenSecret: string, topic: string): Promise<FinalHistory> {
  const t = await clientToken(app, 'history-reader', tokenSecret);
  const ws = new WebSocket(url, ['longwire.v1.json'], { handshakeTimeout: 2000 });
  const records: { offset: number; value: string }[] = [];
  try {
    return await new Promise<FinalHistory>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`history of ${topic}: no answer within ${HISTORY_READ_MS} ms`)), HISTORY_READ_MS);
      let readAt = 0;
      ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', device: 'history-reader', apps: [{ app, token: t }] })));
      ws.on('message', (data: Buffer) => {
        const f = JSON.parse(data.toString()) as Record<string, unknown>;
        if (f.t === 'bound') {
          readAt = Date.now();
          ws.send(JSON.stringify({ t: 'sub', app, topic, after: 0 }));
          // The replay is written before the answer to a ping sent after the sub.
          ws.send(JSON.stringify({ t: 'ping' }));
        } else if (f.t === 'pub' && f.topic === topic && typeof f.offset === 'number') {
          const value = (f.data as { v?: unknown } | null)?.v;
          records.push({ offset: f.offset, value: typeof value === 'string' ? value : JSON.stringify(f.data) });
        } else if (f.t === 'pong') {
          clearTimeout(timer);
          resolve({ topic, records, readAt });
        } else if (f.t === 'error') {
          clearTimeout(timer);
          reject(new Error(`history of ${topic}: ${JSON.stringify(f)}`));
        }
      });
      ws.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } finally {
    ws.terminate();
  }
}
