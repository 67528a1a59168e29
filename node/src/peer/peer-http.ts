// One-off HTTP calls from this node to another member's API, signed as this
// node (peer-auth.ts): a membership call forwarded to the leader, another
// member's stats for the admin page. Over https when the cluster serves its
// API with TLS, trusting the system roots and the peer CA.
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import type { PeerAuth } from './peer-auth.js';

export interface PeerTransport {
  /** Whether members serve their API over https (this node's own --tls-cert). */
  readonly https: boolean;
  /** Extra trust anchor for members' API certificates (PEM): the peer CA. */
  readonly ca?: string;
}

/** undici connect options for a member's API. */
export function peerConnectOptions(t: PeerTransport): { ca?: string[] } {
  return t.ca === undefined ? {} : { ca: [...rootCertificates, t.ca] };
}

export class PeerHttp {
  private readonly agent: Agent;

  constructor(
    private readonly auth: PeerAuth,
    readonly transport: PeerTransport,
  ) {
    this.agent = new Agent({ connect: peerConnectOptions(transport) });
  }

  url(api: string, path: string): string {
    return `${this.transport.https ? 'https' : 'http'}://${api}${path}`;
  }

  /** Calls `path` (with its query) on the member at `api`; answers status and body text. Throws when unreachable or unsigned. */
  async call(
    api: string,
    method: 'GET' | 'POST' | 'DELETE' | 'PUT',
    path: string,
    body: string | undefined,
    timeoutMs: number,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; text: string }> {
    const headers = this.auth.sign(method, path, body ?? '');
    if (headers === undefined) throw new Error('this node has no peer key yet');
    const res = await request(this.url(api, path), {
      method,
      dispatcher: this.agent,
      headers: { ...extraHeaders, ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.statusCode, text: await res.body.text() };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
