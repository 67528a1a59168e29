// One accepted peer connection: the listener's side of the handshake, then
// Raft messages from the authenticated peer only. Nothing a peer sends before
// it is authenticated reaches Raft, and every message after must carry the
// peer's own id as sender and ours as receiver.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Message } from '../message.js';
import type { NodeId } from '../types.js';
import { DecodeError, FrameDecoder, decodeMessage, frame } from './codec.js';
import {
  HANDSHAKE_FRAME_BYTES_MAX,
  HANDSHAKE_TIMEOUT_MS,
  decodeHandshake,
  encodeHandshake,
  isNodeId,
  newNonce,
  proofMatches,
  proofOf,
  type LinkSecurity,
} from './link-security.js';

export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly code = 'RAFT_ERR_PEER_AUTH';
}

export interface InboundOptions {
  readonly selfId: NodeId;
  readonly security: LinkSecurity;
  readonly frameBytesMax: number;
  /** Whether `id` is a current peer: links claiming any other id are refused. */
  readonly isPeer: (id: NodeId) => boolean;
  readonly onMessage: (m: Message) => void;
  /** The connection was closed for this error (protocol or authentication). */
  readonly onError: (err: DecodeError | AuthError) => void;
  /** `peer` proved itself on this connection. */
  readonly onOpened: (peer: NodeId) => void;
  /** An authenticated connection from `peer` closed. */
  readonly onDisconnected: (peer: NodeId) => void;
}

type State =
  | { readonly t: 'hello' }
  | { readonly t: 'proof'; readonly peer: NodeId; readonly dialerNonce: string; readonly listenerNonce: string }
  | { readonly t: 'open'; readonly peer: NodeId };

export class InboundLink {
  private state: State = { t: 'hello' };
  private readonly dec: FrameDecoder;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly s: Socket,
    private readonly o: InboundOptions,
  ) {
    // A secret-authenticated peer is held to small frames until it has proved itself.
    this.dec = new FrameDecoder(o.security.secret === undefined ? o.frameBytesMax : HANDSHAKE_FRAME_BYTES_MAX);
    this.timer = setTimeout(() => this.fail(new AuthError(`no completed handshake within ${HANDSHAKE_TIMEOUT_MS} ms`)), HANDSHAKE_TIMEOUT_MS);
    this.timer.unref();
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('close', () => {
      clearTimeout(this.timer);
      if (this.state.t === 'open') this.o.onDisconnected(this.state.peer);
    });
  }

  private fail(err: DecodeError | AuthError): void {
    clearTimeout(this.timer);
    if (this.s.destroyed) return;
    this.o.onError(err);
    this.s.destroy();
  }

  private onData(chunk: Buffer): void {
    const frames = this.dec.push(chunk);
    if (frames instanceof DecodeError) return this.fail(this.state.t === 'open' ? frames : new AuthError(`handshake: ${frames.message}`));
    for (const f of frames) {
      if (this.s.destroyed) return;
      const st = this.state;
      if (st.t === 'open') {
        const m = decodeMessage(f);
        if (m instanceof DecodeError) return this.fail(m);
        if (m.from !== st.peer || m.to !== this.o.selfId) return this.fail(new DecodeError(`message ${m.from}->${m.to} on the link of ${st.peer}`));
        this.o.onMessage(m);
      } else if (st.t === 'hello') {
        this.onHello(f);
      } else {
        this.onProof(f, st);
      }
    }
  }

  private onHello(f: Uint8Array): void {
    const h = decodeHandshake(f);
    const peer = h?.['hello'];
    if (h === undefined || !isNodeId(peer)) return this.fail(new AuthError('expected a hello frame'));
    if (h['to'] !== undefined && h['to'] !== this.o.selfId) return this.fail(new AuthError(`hello for ${String(h['to'])} reached ${this.o.selfId}`));
    if (!this.o.isPeer(peer)) return this.fail(new AuthError(`${peer} is not a member`));
    const tls = this.o.security.tls;
    if (tls !== undefined) {
      const named = tls.peerIdOf((this.s as TLSSocket).getPeerCertificate());
      if (named !== peer) return this.fail(new AuthError(`hello from ${peer} with a certificate of ${named ?? 'no member'}`));
    }
    const secret = this.o.security.secret;
    if (secret === undefined) return this.open(peer);
    const dialerNonce = h['nonce'];
    if (typeof dialerNonce !== 'string' || dialerNonce.length > 64) return this.fail(new AuthError(`${peer} sent no challenge: no cluster secret?`));
    const listenerNonce = newNonce();
    this.state = { t: 'proof', peer, dialerNonce, listenerNonce };
    this.s.write(frame(encodeHandshake({ nonce: listenerNonce, proof: proofOf(secret, 'listener', this.o.selfId, peer, dialerNonce, listenerNonce) })));
  }

  private onProof(f: Uint8Array, st: Extract<State, { t: 'proof' }>): void {
    const secret = this.o.security.secret;
    if (secret === undefined) return this.fail(new AuthError('unexpected proof'));
    const expected = proofOf(secret, 'dialer', st.peer, this.o.selfId, st.dialerNonce, st.listenerNonce);
    if (!proofMatches(expected, decodeHandshake(f)?.['proof'])) return this.fail(new AuthError(`${st.peer} failed the cluster-secret challenge`));
    this.s.write(frame(encodeHandshake({ ok: true })));
    this.open(st.peer);
  }

  private open(peer: NodeId): void {
    clearTimeout(this.timer);
    this.state = { t: 'open', peer };
    this.dec.setFrameBytesMax(this.o.frameBytesMax);
    this.o.onOpened(peer);
  }
}
