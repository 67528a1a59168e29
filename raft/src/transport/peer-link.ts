import { Socket } from 'node:net';
import type { Rng } from '../rng.js';
import type { NodeId } from '../types.js';
import { frame } from './codec.js';

export interface PeerLinkOptions {
  readonly selfId: NodeId;
  readonly peerId: NodeId;
  readonly host: string;
  readonly port: number;
  /** Bytes queued on the socket before new messages are dropped (and the peer reported unreachable). */
  readonly queueBytesMax: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly rng: Rng;
  /** Called when a message to the peer was dropped (not connected, or queue full). */
  readonly onUnreachable: (peer: NodeId) => void;
}

export const DEFAULT_PEER_LINK = {
  queueBytesMax: 16 * 1024 * 1024,
  backoffMinMs: 50,
  backoffMaxMs: 2000,
} as const;

/**
 * One long-lived outbound TCP connection to a peer, used only for Raft.
 * Reconnects with jittered exponential backoff. Frames written in the same
 * microtask are coalesced (cork/uncork). Raft tolerates loss, so a message
 * that cannot be queued is dropped, never buffered without bound.
 */
export class PeerLink {
  private socket: Socket | undefined = undefined;
  private connected = false;
  private closed = false;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private corked = false;

  constructor(private readonly o: PeerLinkOptions) {
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const s = new Socket();
    this.socket = s;
    s.setNoDelay(true);
    s.setKeepAlive(true, 5000);
    s.on('connect', () => {
      this.connected = true;
      this.attempts = 0;
      // Hello: who we are, so the receiver can check every message's sender.
      s.write(frame(new TextEncoder().encode(JSON.stringify({ hello: this.o.selfId }))));
    });
    s.on('error', () => {
      // 'close' follows and schedules the reconnect.
    });
    s.on('close', () => {
      this.connected = false;
      this.socket = undefined;
      this.scheduleReconnect();
    });
    s.connect(this.o.port, this.o.host);
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const base = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** Math.min(this.attempts, 16));
    this.attempts++;
    const delay = base / 2 + this.o.rng.intn(Math.max(1, Math.floor(base / 2)));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delay);
  }

  /** Queues an encoded message. False if it was dropped. */
  send(payload: Uint8Array): boolean {
    const s = this.socket;
    if (s === undefined || !this.connected || s.writableLength > this.o.queueBytesMax) {
      this.o.onUnreachable(this.o.peerId);
      return false;
    }
    if (!this.corked) {
      this.corked = true;
      s.cork();
      queueMicrotask(() => {
        this.corked = false;
        s.uncork();
      });
    }
    s.write(frame(payload));
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.socket?.destroy();
  }
}
