// The app backend of the upstream bench, run as its own process: plain
// node:http with keep-alive. Every POST /hook has its HMAC signature verified
// (so the cost is real) and is answered at once with {"data":<the call's data>}.
// GET /stats answers the counters; on SIGTERM the counters are printed and the
// process exits.
//
// argv: <apiKey>. Prints "WEBHOOK-PORT <port>" once listening on 127.0.0.1.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { verify } from './signature.js';
import { COUNT_PREFIX, PORT_PREFIX, type WebhookStats } from './webhook-stats.js';

const BODY_BYTES_MAX = 64 * 1024;

function main(): void {
  const apiKey = process.argv[2];
  if (apiKey === undefined || apiKey.length === 0) throw new Error('usage: webhook-server <apiKey>');
  const stats: { -readonly [K in keyof WebhookStats]: number } = { requests: 0, ok: 0, badSignature: 0, badBody: 0 };

  const answer = (res: ServerResponse, status: number, body: string): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && req.url === '/stats') {
      answer(res, 200, JSON.stringify(stats));
      return;
    }
    if (req.method !== 'POST' || req.url !== '/hook') {
      answer(res, 404, '{"error":"not found"}');
      return;
    }
    stats.requests++;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= BODY_BYTES_MAX) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const ts = req.headers['x-longwire-timestamp'];
      const sig = req.headers['x-longwire-signature'];
      if (typeof ts !== 'string' || typeof sig !== 'string' || !verify(apiKey, ts, body, sig)) {
        stats.badSignature++;
        answer(res, 401, '{"error":"bad signature"}');
        return;
      }
      let data: unknown;
      try {
        const parsed = JSON.parse(body) as unknown;
        if (typeof parsed !== 'object' || parsed === null || !('data' in parsed)) throw new Error('no data');
        data = parsed.data;
      } catch {
        stats.badBody++;
        answer(res, 400, '{"error":"bad body"}');
        return;
      }
      stats.ok++;
      answer(res, 200, JSON.stringify({ data }));
    });
  });
  // Longer than any client's idle time, so pooled connections are never closed under a request.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;

  const finish = (): void => {
    process.stdout.write(COUNT_PREFIX + JSON.stringify(stats) + '\n', () => process.exit(0));
    server.closeAllConnections();
    server.close();
  };
  process.once('SIGTERM', finish);
  process.once('SIGINT', finish);

  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    const port = typeof a === 'object' && a !== null ? a.port : 0;
    process.stdout.write(`${PORT_PREFIX}${port}\n`);
  });
}

main();
