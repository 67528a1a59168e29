// A keep-alive JSON client over node:http (or node:https for an https://
// base, trusting the given CA) for the bench's HTTP calls: cheaper per request
// than fetch, and one socket pool per target so concurrency is the caller's
// bound, not the pool's.
import * as http from 'node:http';
import * as https from 'node:https';

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

export class HttpClient {
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly timeoutMs: number;

  /** `ca`: the CA PEM to trust when `base` is https://. */
  constructor(
    private readonly base: string,
    maxSockets: number,
    opts: { readonly timeoutMs?: number; readonly ca?: string } = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    if (base.startsWith('https:')) {
      this.agent = new https.Agent({ keepAlive: true, maxSockets, ...(opts.ca === undefined ? {} : { ca: opts.ca }) });
      this.request = https.request;
    } else {
      this.agent = new http.Agent({ keepAlive: true, maxSockets });
      this.request = http.request;
    }
  }

  call(method: string, path: string, body?: unknown, token?: string): Promise<HttpAnswer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = {};
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      const req = this.request(this.base + path, { method, headers, agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async json(method: string, path: string, body?: unknown, token?: string): Promise<unknown> {
    const a = await this.call(method, path, body, token);
    if (a.status < 200 || a.status >= 300) throw new Error(`${method} ${path}: ${a.status} ${a.body.slice(0, 300)}`);
    return JSON.parse(a.body) as unknown;
  }

  close(): void {
    this.agent.destroy();
  }
}
