// A small real HTTP server playing an app's backend (webhook or status
// callback) in tests: records requests, verifies signatures, and answers with
// whatever behaviour the test sets.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface Received {
  readonly body: string;
  readonly json: unknown;
  readonly timestamp: string;
  readonly signature: string;
  readonly at: number;
}

export type Behaviour = (req: Received, res: ServerResponse) => void | Promise<void>;

export function expectedSignature(apiKey: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', apiKey).update(`${timestamp}.${body}`).digest('hex');
}

export class HttpReceiver {
  readonly received: Received[] = [];
  behaviour: Behaviour = (_r, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  };
  private waiters: { n: number; resolve: () => void }[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<HttpReceiver> {
    let self: HttpReceiver | undefined;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const r: Received = {
          body,
          json,
          timestamp: String(req.headers['x-longwire-timestamp'] ?? ''),
          signature: String(req.headers['x-longwire-signature'] ?? ''),
          at: Date.now(),
        };
        self?.received.push(r);
        self?.wake();
        void Promise.resolve(self?.behaviour(r, res)).catch(() => res.destroy());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const a = server.address();
    const port = typeof a === 'object' && a !== null ? a.port : 0;
    self = new HttpReceiver(server, `http://127.0.0.1:${port}/hook`);
    return self;
  }

  private wake(): void {
    for (const w of [...this.waiters]) {
      if (this.received.length >= w.n) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Resolves once at least n requests have arrived (bounded by timeoutMs). */
  waitFor(n: number, timeoutMs = 15_000): Promise<void> {
    if (this.received.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { n, resolve: () => (clearTimeout(t), resolve()) };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`only ${this.received.length} of ${n} requests arrived`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
