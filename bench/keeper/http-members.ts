// The HTTP side of the longwire and etcd targets, the same for both so their
// figures compare: one undici keep-alive Pool per member (load worker w uses
// member w mod n, at most one request in flight per connection), and one
// dedicated connection per watch stream, read as newline-delimited JSON.
import { Client, Pool } from 'undici';

/** Per request: no answer within this is an error, not a stall of the phase. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface Answer {
  readonly status: number;
  readonly body: string;
}

export class HttpMembers {
  private readonly pools: Pool[];
  private readonly streams = new Set<Client>();

  constructor(
    private readonly urls: readonly string[],
    concurrency: number,
    private readonly headers: Readonly<Record<string, string>>,
  ) {
    const perMember = Math.ceil(concurrency / urls.length);
    this.pools = urls.map((u) => new Pool(u, { connections: perMember, pipelining: 1, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS }));
  }

  async call(worker: number, method: 'GET' | 'PUT' | 'POST', path: string, body?: string): Promise<Answer> {
    const pool = this.pools[worker % this.pools.length];
    if (pool === undefined) throw new Error('no member');
    const res = await pool.request({ method, path, headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body }) });
    return { status: res.statusCode, body: await res.body.text() };
  }

  /** Like call, but any status other than 200 is an error. */
  async ok(worker: number, method: 'GET' | 'PUT' | 'POST', path: string, body?: string): Promise<string> {
    const a = await this.call(worker, method, path, body);
    if (a.status !== 200) throw new Error(`${method} ${path}: ${a.status} ${a.body.slice(0, 200)}`);
    return a.body;
  }

  /**
   * Opens a streaming request on its own connection to member `member mod n`
   * and calls onLine for every complete line of the answer; resolves with a
   * close function once the status line is in (the caller decides when the
   * stream counts as established).
   */
  async stream(member: number, method: 'GET' | 'POST', path: string, body: string | undefined, onLine: (line: string) => void): Promise<() => void> {
    const url = this.urls[member % this.urls.length];
    if (url === undefined) throw new Error('no member');
    const client = new Client(url, { headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: 0 });
    this.streams.add(client);
    const close = (): void => {
      this.streams.delete(client);
      void client.destroy().catch(() => undefined);
    };
    try {
      const res = await client.request({ method, path, headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body }) });
      if (res.statusCode !== 200) throw new Error(`${method} ${path}: ${res.statusCode} ${(await res.body.text()).slice(0, 200)}`);
      let buf = '';
      res.body.setEncoding('utf8');
      res.body.on('data', (d: string) => {
        buf += d;
        let i = buf.indexOf('\n');
        while (i >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.trim() !== '') onLine(line);
          i = buf.indexOf('\n');
        }
      });
      // A stream the bench closes itself ends with an abort error; nothing to report then.
      res.body.on('error', () => undefined);
    } catch (err) {
      close();
      throw err;
    }
    return close;
  }

  async close(): Promise<void> {
    for (const c of [...this.streams]) await c.destroy().catch(() => undefined);
    this.streams.clear();
    await Promise.all(this.pools.map((p) => p.close().catch(() => undefined)));
  }
}
