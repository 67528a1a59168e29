import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Message } from '../message.js';
import type { Rng } from '../rng.js';
import type { NodeId } from '../types.js';
import { DecodeError, FRAME_BYTES_MAX, FrameDecoder, decodeMessage, encodeMessage } from './codec.js';
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
  /** Called for a peer connection closed for a protocol error. */
  readonly onProtocolError?: (err: DecodeError, remote: string) => void;
  readonly frameBytesMax?: number;
}

/** The Raft peer transport over TCP: one outbound link per peer, inbound connections accepted on `listen`. */
export class TcpTransport {
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly server: Server;
  private readonly inbound = new Set<Socket>();

  private constructor(private readonly o: TransportOptions) {
    this.server = createServer((s) => this.accept(s));
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

  private accept(s: Socket): void {
    this.inbound.add(s);
    s.setNoDelay(true);
    const dec = new FrameDecoder(this.o.frameBytesMax ?? FRAME_BYTES_MAX);
    let peer: NodeId | undefined;
    const fail = (err: DecodeError): void => {
      this.o.onProtocolError?.(err, `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`);
      s.destroy();
    };
    s.on('data', (chunk: Buffer) => {
      const frames = dec.push(chunk);
      if (frames instanceof DecodeError) return fail(frames);
      for (const f of frames) {
        if (peer === undefined) {
          const hello = parseHello(f);
          if (hello === undefined) return fail(new DecodeError('expected a hello frame'));
          peer = hello;
          continue;
        }
        const m = decodeMessage(f);
        if (m instanceof DecodeError) return fail(m);
        if (m.from !== peer || m.to !== this.o.selfId) return fail(new DecodeError(`message ${m.from}->${m.to} on the link of ${peer}`));
        this.o.onMessage(m);
      }
      return undefined;
    });
    s.on('error', () => s.destroy());
    s.on('close', () => this.inbound.delete(s));
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
        onUnreachable: this.o.onUnreachable,
        ...DEFAULT_PEER_LINK,
      }),
    );
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
    for (const l of this.links.values()) l.close();
    this.links.clear();
    for (const s of this.inbound) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function parseHello(f: Uint8Array): NodeId | undefined {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(f));
    if (typeof v !== 'object' || v === null) return undefined;
    const id = (v as { hello?: unknown }).hello;
    return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : undefined;
  } catch {
    return undefined;
  }
}
