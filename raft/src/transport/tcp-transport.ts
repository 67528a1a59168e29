import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { Message } from '../message.js';
import type { Rng } from '../rng.js';
import type { NodeId } from '../types.js';
import { FRAME_BYTES_MAX, encodeMessage, type DecodeError } from './codec.js';
import { InboundLink, AuthError } from './inbound-link.js';
import { NO_SECURITY, type LinkSecurity } from './link-security.js';
import { DEFAULT_PEER_LINK, PeerLink } from './peer-link.js';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface TransportOptions {
  readonly selfId: NodeId;
  readonly listen: PeerAddress;
  readonly rng: Rng;
  readonly onMessage: (m: Message) => void;
  readonly onUnreachable: (peer: NodeId) => void;
  /**
   * An authenticated connection to or from `peer` closed (a crashed process's
   * sockets close at once): Raft may act before its timeouts (RawNode.reportDisconnected).
   */
  readonly onDisconnected?: (peer: NodeId) => void;
  /** Called for a peer connection closed for a protocol error or a failed authentication. */
  readonly onProtocolError?: (err: DecodeError | AuthError, remote: string) => void;
  readonly frameBytesMax?: number;
  /** How links prove their ends (link-security.ts); none by default. */
  readonly security?: LinkSecurity;
  /** Reconnect backoff of outbound links (DEFAULT_PEER_LINK otherwise). */
  readonly backoff?: { readonly minMs: number; readonly maxMs: number };
}

/** Inbound connections held at once: a cluster has a few peers, so more is a flood. */
export const INBOUND_MAX = 256;

/** The Raft peer transport over TCP: one outbound link per peer, inbound connections accepted on `listen`. */
export class TcpTransport {
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly server: Server;
  private readonly inbound = new Set<Socket>();
  private security: LinkSecurity;
  private closing = false;

  private constructor(private readonly o: TransportOptions) {
    this.security = o.security ?? NO_SECURITY;
    const tls = this.security.tls;
    this.server =
      tls === undefined
        ? createServer((s) => this.accept(s))
        : createTlsServer({ ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (s) => this.accept(s));
    // A TLS handshake the CA check refused never reaches accept().
    this.server.on('tlsClientError', (err: Error, s: Socket) => this.reportError(new AuthError(`TLS: ${err.message}`), s));
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  static async start(o: TransportOptions): Promise<{ transport: TcpTransport; port: number }> {
    const t = new TcpTransport(o);
    const port = await new Promise<number>((resolve, reject) => {
      t.server.once('error', reject);
      t.server.listen(o.listen.port, o.listen.host, () => {
        const addr = t.server.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : o.listen.port);
      });
    });
    return { transport: t, port };
  }

  private readonly disconnected = (peer: NodeId): void => {
    if (!this.closing) this.o.onDisconnected?.(peer);
  };

  private reportError(err: DecodeError | AuthError, s: Socket): void {
    this.o.onProtocolError?.(err, `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`);
  }

  private accept(s: Socket): void {
    s.on('error', () => s.destroy());
    if (this.inbound.size >= INBOUND_MAX) {
      this.reportError(new AuthError(`more than ${INBOUND_MAX} inbound peer connections`), s);
      s.destroy();
      return;
    }
    this.inbound.add(s);
    s.on('close', () => this.inbound.delete(s));
    s.setNoDelay(true);
    new InboundLink(s, {
      selfId: this.o.selfId,
      security: this.security,
      frameBytesMax: this.o.frameBytesMax ?? FRAME_BYTES_MAX,
      isPeer: (id) => this.links.has(id),
      onMessage: this.o.onMessage,
      onError: (err) => this.reportError(err, s),
      // A peer that dials us is up: our link to it need not wait out its backoff.
      onOpened: (peer) => this.links.get(peer)?.reconnectNow(),
      onDisconnected: this.disconnected,
    });
  }

/** Adds or replaces the address of a peer. */
  setPeer(id: NodeId, addr: PeerAddress): void {
    this.links.get(id)?.close();
    this.links.set(
      id,
      new PeerLink({
        selfId: this.o.selfId,
        peerId: id,
        host: addr.host,
        port: addr.port,
        rng: this.o.rng,
        security: () => this.security,
        onUnreachable: this.o.onUnreachable,
        onAuthError: (err) => this.o.onProtocolError?.(err, `${addr.host}:${addr.port}`),
        onDisconnected: this.disconnected,
        ...DEFAULT_PEER_LINK,
        ...(this.o.backoff === undefined ? {} : { backoffMinMs: this.o.backoff.minMs, backoffMaxMs: this.o.backoff.maxMs }),
      }),
    );
  }

  /**
   * New PEM material (certificate rotation): the listener and the links
   * made from now on use it; links already open keep theirs. Throws, changing
   * nothing, if it does not load or the transport was started without TLS.
   */
  setTls(pem: { readonly ca: string; readonly cert: string; readonly key: string }): void {
    const tls = this.security.tls;
    if (tls === undefined) throw new Error('peer links were started without TLS: a restart is needed to add it');
    (this.server as TlsServer).setSecureContext({ ca: pem.ca, cert: pem.cert, key: pem.key });
    this.security = { ...this.security, tls: { ...tls, ca: pem.ca, cert: pem.cert, key: pem.key } };
  }

  removePeer(id: NodeId): void {
    this.links.get(id)?.close();
    this.links.delete(id);
  }

  /** Sends messages; unknown or unreachable peers are reported through onUnreachable. */
  send(msgs: readonly Message[]): void {
    for (const m of msgs) {
      const link = this.links.get(m.to);
      if (link === undefined) {
        this.o.onUnreachable(m.to);
        continue;
      }
      link.send(encodeMessage(m));
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const l of this.links.values()) l.close();
    this.links.clear();
    for (const s of this.inbound) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
