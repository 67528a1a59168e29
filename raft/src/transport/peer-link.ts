import { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Rng } from '../rng.js';
import type { NodeId } from '../types.js';
import { FrameDecoder, DecodeError, frame } from './codec.js';
import { AuthError } from './inbound-link.js';
import {
  HANDSHAKE_FRAME_BYTES_MAX,
  HANDSHAKE_TIMEOUT_MS,
  decodeHandshake,
  encodeHandshake,
  newNonce,
  proofMatches,
  proofOf,
  type LinkSecurity,
} from './link-security.js';

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
  /** Read at each connect: a reload (TcpTransport.setTls) applies to the next connection. */
  readonly security: () => LinkSecurity;
  /** Called when a message to the peer was dropped (not connected, or queue full). */
  readonly onUnreachable: (peer: NodeId) => void;
  /** Called when the peer failed to prove it is the member we dialed. */
  readonly onAuthError: (err: AuthError) => void;
  /** Called when an authenticated connection to the peer closed. */
  readonly onDisconnected: (peer: NodeId) => void;
}

export const DEFAULT_PEER_LINK = {
  queueBytesMax: 16 * 1024 * 1024,
  backoffMinMs: 50,
  backoffMaxMs: 2000,
} as const;

/**
 * One long-lived outbound TCP connection to a peer, used only for Raft.
 * Messages flow only once the handshake proved the peer is the member we
 * dialed (link-security.ts). Reconnects with jittered exponential backoff. Frames written in the same
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
    const security = this.o.security();
    const tls = security.tls;
    const s =
      tls === undefined
        ? new Socket()
        : tlsConnect({
            host: this.o.host,
            port: this.o.port,
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            minVersion: 'TLSv1.2',
            // Peers are dialed by address; the certificate must name the member we meant.
            checkServerIdentity: (_host, cert) => {
              const named = tls.peerIdOf(cert);
              return named === this.o.peerId ? undefined : new AuthError(`dialed ${this.o.peerId}, reached a certificate of ${named ?? 'no member'}`);
            },
          });
    this.socket = s;
    s.setNoDelay(true);
    s.setKeepAlive(true, 5000);
    s.on(tls === undefined ? 'connect' : 'secureConnect', () => this.handshake(s, security.secret));
    s.on('error', (err) => {
      if (err instanceof AuthError) this.o.onAuthError(err);
      // 'close' follows and schedules the reconnect.
    });
    s.on('close', () => {
      const was = this.connected;
      this.connected = false;
      this.socket = undefined;
      if (was && !this.closed) this.o.onDisconnected(this.o.peerId);
      this.scheduleReconnect();
    });
    if (tls === undefined) s.connect(this.o.port, this.o.host);
  }

  /** Our side of the handshake; `connected` once the peer is proven. */
  private handshake(s: Socket, secret: Uint8Array | undefined): void {
    if (secret === undefined) {
      s.write(frame(encodeHandshake({ hello: this.o.selfId, to: this.o.peerId })));
      this.opened();
      return;
    }
    const dialerNonce = newNonce();
    s.write(frame(encodeHandshake({ hello: this.o.selfId, to: this.o.peerId, nonce: dialerNonce })));
    const dec = new FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX);
    const timer = setTimeout(() => fail(new AuthError(`no handshake answer within ${HANDSHAKE_TIMEOUT_MS} ms`)), HANDSHAKE_TIMEOUT_MS);
    timer.unref();
    let proved = false;
    const fail = (err: AuthError): void => {
      clearTimeout(timer);
      s.off('data', onData);
      this.o.onAuthError(err);
      s.destroy();
    };
    const onData = (chunk: Buffer): void => {
      const frames = dec.push(chunk);
      if (frames instanceof DecodeError) return fail(new AuthError(`handshake: ${frames.message}`));
      for (const f of frames) {
        const h = decodeHandshake(f);
        if (!proved) {
          const listenerNonce = h?.['nonce'];
          if (typeof listenerNonce !== 'string') return fail(new AuthError(`${this.o.peerId} sent no challenge`));
          const expected = proofOf(secret, 'listener', this.o.peerId, this.o.selfId, dialerNonce, listenerNonce);
          if (!proofMatches(expected, h?.['proof'])) return fail(new AuthError(`${this.o.peerId} failed the cluster-secret challenge`));
          proved = true;
          s.write(frame(encodeHandshake({ proof: proofOf(secret, 'dialer', this.o.selfId, this.o.peerId, dialerNonce, listenerNonce) })));
        } else if (h?.['ok'] === true) {
          clearTimeout(timer);
          s.off('data', onData);
          this.opened();
          return undefined;
        } else {
          return fail(new AuthError(`${this.o.peerId} did not accept our proof`));
        }
      }
      return undefined;
    };
    s.on('data', onData);
    s.on('close', () => clearTimeout(timer));
  }

  private opened(): void {
    this.connected = true;
    this.attempts = 0;
  }

  /**
   * The peer just dialed us, so it is up: a connection waiting out its
   * backoff (up to backoffMaxMs after the peer was down) is made now.
   */
  reconnectNow(): void {
    if (this.closed || this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.attempts = 0;
    this.connect();
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
