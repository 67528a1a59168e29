// The serving side of the peer link (peer-client.ts dials it): on the API
// port, an HTTP upgrade to `longwire-peer/1` at /internal/v1/link, signed by
// a member (Auth.peerSigned: refused with 401 and counted otherwise). Then
// each request frame runs its method (peer-methods.ts) and is answered by id
// as soon as it finishes, in any order; answers of one turn leave in one
// write. At most `callsMax` calls of a link run at once (call-gate.ts): past
// that the link stops reading, so a caller's surplus waits in TCP, not in
// this node.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { refuseUpgrade as refuse } from '../center/upgrade-refusal.js';
import type { Auth } from '../center/auth.js';
import { ApiError } from '../center/errors.js';
import { errorAnswer } from '../center/error-answer.js';
import type { Logger } from '../logger.js';
import { FrameDecoder, FrameError, asLinkRequest, encodeFrame, sealFrame, type LinkAnswer, type LinkRequest } from './link-frame.js';
import { FrameSeal, LINK_NONCE_HEADER, newLinkNonce } from './frame-seal.js';
import { PEER_HEADERS } from './peer-auth.js';
import { LinkWriter } from './link-writer.js';
import { CallGate } from '../call-gate.js';
import { DEFAULT_PEER_LIMITS, LINK_PATH, LINK_PROTOCOL } from './peer-client.js';
import type { PeerMethod } from './peer-methods.js';

export interface LinkServerLimits {
  /** Calls of one link running at once; past it the link is not read until one finishes. */
  readonly callsMax: number;
  /** Largest frame either way: a bigger request closes the link; a bigger answer is refused `too-large`. */
  readonly frameBytesMax: number;
}

export const DEFAULT_LINK_SERVER_LIMITS: LinkServerLimits = { callsMax: 256, frameBytesMax: DEFAULT_PEER_LIMITS.frameBytesMax };

export interface LinkServerDeps {
  readonly auth: Auth;
  readonly methods: ReadonlyMap<string, PeerMethod>;
  readonly log: Logger;
  readonly limits?: LinkServerLimits;
}


export class LinkServer {
  private readonly links = new Set<ServedLink>();
  private readonly limits: LinkServerLimits;

  constructor(private readonly d: LinkServerDeps) {
    this.limits = d.limits ?? DEFAULT_LINK_SERVER_LIMITS;
  }

  /** Serves links on `server`'s upgrade requests (a server that takes no other upgrades). */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // A reset before the answer must not become an uncaught error.
      socket.on('error', () => undefined);
      this.upgrade(req, socket, head);
    });
  }

  /** Closes every link; their callers' pending calls fail as unreachable. */
  close(): void {
    for (const l of this.links) l.destroy();
    this.links.clear();
  }

  /** An upgrade request: a link if it is one, else refused 404 (the API port's other upgrades go elsewhere first). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (req.url !== LINK_PATH || req.method !== 'GET') return refuse(socket, 404, 'not-found', `no upgrade at ${req.method ?? ''} ${req.url ?? ''}`);
    if (req.headers.upgrade !== LINK_PROTOCOL) return refuse(socket, 400, 'invalid', `upgrade to ${LINK_PROTOCOL} only`);
    let peer: string;
    try {
      peer = this.d.auth.peerSigned(req.headers, 'GET', LINK_PATH, '');
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return refuse(socket, err.status, err.code, err.message);
    }
    const nonce = newLinkNonce();
    const sig = req.headers[PEER_HEADERS.sig];
    const key = this.d.auth.peers.linkKey(peer, this.d.auth.peers.selfId, typeof sig === 'string' ? sig : '', nonce);
    if (key === undefined) return refuse(socket, 503, 'not-ready', 'this node has no peer key yet');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${LINK_PROTOCOL}\r\n${LINK_NONCE_HEADER}: ${nonce}\r\n\r\n`);
    const link = new ServedLink(socket, peer, new FrameSeal(key, 'listener'), this.d, this.limits, () => this.links.delete(link));
    this.links.add(link);
    if (head.length > 0) link.onData(head);
  }
}

/** One member's link to this node. */
class ServedLink {
  private readonly decoder: FrameDecoder;
  private readonly writer: LinkWriter;
  private readonly calls: CallGate<LinkRequest>;
  private closed = false;

  constructor(
    private readonly socket: Duplex,
    private readonly peer: string,
    private readonly seal: FrameSeal,
    private readonly d: LinkServerDeps,
    private readonly limits: LinkServerLimits,
    private readonly onClose: () => void,
  ) {
    this.decoder = new FrameDecoder(limits.frameBytesMax, seal);
    this.writer = new LinkWriter((b) => socket.write(b));
    this.calls = new CallGate(limits.callsMax, (req) => this.answer(req), {
      pause: () => socket.pause(),
      resume: () => {
        if (!this.closed) socket.resume();
      },
    });
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.destroy());
  }

  onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk, (f) => this.onFrame(f));
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.d.log.warn({ peer: this.peer, reason: err.message }, 'peer link closed: bad frame');
      this.destroy();
    }
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.writer.close();
    this.socket.destroy();
    this.onClose();
  }

  private onFrame(f: unknown): void {
    if (this.closed) return;
    const req = asLinkRequest(f);
    if (req === undefined) throw new FrameError('a frame that is not a request');
    // Signed by a member when it opened; a member removed since may not go on calling.
    if (!this.d.auth.peers.isMember(this.peer)) {
      this.d.log.warn({ peer: this.peer }, 'peer link closed: no longer a member');
      this.destroy();
      return;
    }
    this.calls.submit(req);
  }

  private async answer(req: LinkRequest): Promise<void> {
    let a: LinkAnswer;
    const method = this.d.methods.get(req.m);
    try {
      if (method === undefined) throw new ApiError('notFound', `no peer method ${req.m}`);
      a = { id: req.id, ok: (await method(req.b, this.peer)) ?? null };
    } catch (err) {
      a = { id: req.id, err: this.refusal(req, err) };
    }
    if (this.closed) return;
    let frame = encodeFrame(a);
    if (frame.length > this.limits.frameBytesMax) {
      frame = encodeFrame({ id: req.id, err: { code: 'too-large', status: 413, message: `${req.m}: answer of ${frame.length} bytes over the ${this.limits.frameBytesMax}-byte frame limit` } });
    }
    // Sealed here, in the order answers are written.
    this.writer.write(sealFrame(this.seal, frame));
  }

  private refusal(req: LinkRequest, err: unknown): { code: string; status: number; message: string } {
    const known = errorAnswer(err);
    if (known !== undefined) return { code: known.code, status: known.status, message: known.message };
    this.d.log.error({ err, peer: this.peer, method: req.m }, 'peer call failed');
    return { code: 'internal', status: 500, message: 'internal error' };
  }
}
