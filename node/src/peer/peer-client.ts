// One peer's data link: a single keep-alive HTTP/1.1 connection to the peer's
// API port (undici Client, so exactly one socket), with requests pipelined on
// it. Each call carries a request id that the peer echoes, a deadline, and
// counts against bounded in-flight requests and bytes: when either bound is
// reached the call fails at once with PeerError('busy') instead of queueing.
import { Client } from 'undici';
import { packPeer, unpackPeer, PEER_CONTENT_TYPE } from './codec.js';
import { PeerError } from './errors.js';
import type { PeerAuth } from './peer-auth.js';
import { peerConnectOptions, type PeerTransport } from './peer-http.js';

export interface PeerLimits {
  /** Calls sent and not yet answered; more fail fast with `busy`. */
  readonly inflightMax: number;
  /** Request body bytes of those calls; more fail fast with `busy`. */
  readonly inflightBytesMax: number;
  /** Requests written back to back on the connection before an answer. */
  readonly pipelining: number;
  /** A call not answered within this fails with `timeout` (the peer may still have acted). */
  readonly timeoutMs: number;
}

export const DEFAULT_PEER_LIMITS: PeerLimits = { inflightMax: 1024, inflightBytesMax: 32 * 1024 * 1024, pipelining: 64, timeoutMs: 10_000 };

export const RPC_PATH_PREFIX = '/internal/v1/rpc/';
export const RPC_ID_HEADER = 'x-longwire-rpc-id';

export class PeerClient {
  private readonly client: Client;
  private nextId = 1;
  private inflight = 0;
  private inflightBytes = 0;

  constructor(
    readonly peerId: string,
    /** host:port of the peer's API listener. */
    readonly api: string,
    private readonly auth: PeerAuth,
    transport: PeerTransport,
    private readonly limits: PeerLimits,
  ) {
    this.client = new Client(`${transport.https ? 'https' : 'http'}://${api}`, {
      pipelining: limits.pipelining,
      keepAliveTimeout: 60_000,
      headersTimeout: limits.timeoutMs,
      bodyTimeout: limits.timeoutMs,
      connect: { timeout: Math.min(limits.timeoutMs, 5000), ...peerConnectOptions(transport) },
    });
  }

  /** Calls `method` on the peer with a MessagePack body; resolves with the decoded answer. */
  async call(method: string, body: unknown): Promise<unknown> {
    const bytes = packPeer(body);
    if (this.inflight >= this.limits.inflightMax || this.inflightBytes + bytes.length > this.limits.inflightBytesMax) {
      throw new PeerError('busy', this.peerId, `queue full (${this.inflight} calls, ${this.inflightBytes} bytes in flight)`);
    }
    const path = RPC_PATH_PREFIX + method;
    const signed = this.auth.sign('POST', path, bytes);
    if (signed === undefined) throw new PeerError('unreachable', this.peerId, 'this node has no peer key yet');
    const id = String(this.nextId++);
    this.inflight++;
    this.inflightBytes += bytes.length;
    try {
      const res = await this.client
        .request({
          path,
          method: 'POST',
          headers: { ...signed, 'content-type': PEER_CONTENT_TYPE, [RPC_ID_HEADER]: id },
          body: bytes,
          // Lets undici pipeline this POST behind others; undici never retries it on its own.
          idempotent: true,
          signal: AbortSignal.timeout(this.limits.timeoutMs),
        })
        .catch((err: unknown) => {
          const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'HeadersTimeoutError' || err.name === 'BodyTimeoutError');
          throw new PeerError(timedOut ? 'timeout' : 'unreachable', this.peerId, err instanceof Error ? err.message : String(err), { cause: err });
        });
      const raw = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 200) {
        let message = raw.toString('utf8').slice(0, 500);
        try {
          const parsed: unknown = JSON.parse(message);
          if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) message = JSON.stringify(parsed.error);
        } catch {
          // not JSON: keep the text
        }
        throw new PeerError('refused', this.peerId, `${method} answered ${res.statusCode}: ${message}`);
      }
      if (res.headers[RPC_ID_HEADER] !== id) throw new PeerError('refused', this.peerId, `${method}: answer for request ${String(res.headers[RPC_ID_HEADER])}, expected ${id}`);
      return unpackPeer(raw);
    } finally {
      this.inflight--;
      this.inflightBytes -= bytes.length;
    }
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => this.client.destroy());
  }
}
