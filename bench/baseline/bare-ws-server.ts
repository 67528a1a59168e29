// The baseline: a bare `ws` server with no storage, no auth check and no
// state beyond a user → socket map. It answers the same frames as longwire so
// the same bench clients drive it (hello → welcome, bind → bound, ping →
// pong, ack ignored), and takes the same pushes over HTTP:
//   POST /broadcast {data}       one frame encoded once, sent to every socket
//   POST /push {users, data}     one frame per user, forwarded, not stored
//   GET  /memory                 process.memoryUsage()
// Usage: node bare-ws-server.js <wsPort> <httpPort>
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';

const wsPort = Number(process.argv[2]);
const httpPort = Number(process.argv[3]);
const APP = 'bench';

const users = new Map<string, WebSocket>();
const seqs = new Map<string, number>();

/** The token's `sub`, read without verifying the signature (the baseline does no auth). */
function subOf(token: unknown): string {
  if (typeof token !== 'string') return '';
  const payload = token.split('.')[1] ?? '';
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : '';
  } catch {
    return '';
  }
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: wsPort, perMessageDeflate: false });
wss.on('connection', (ws) => {
  let user = '';
  ws.on('message', (raw) => {
    let f: { t?: unknown; token?: unknown };
    try {
      f = JSON.parse(raw.toString()) as { t?: unknown; token?: unknown };
    } catch {
      return;
    }
    switch (f.t) {
      case 'hello':
        ws.send(JSON.stringify({ t: 'welcome', session: randomUUID(), node: 'bare', heartbeat: 25 }));
        return;
      case 'bind':
        user = subOf(f.token);
        users.set(user, ws);
        ws.send(JSON.stringify({ t: 'bound', app: APP, user, seq: seqs.get(user) ?? 0 }));
        return;
      case 'ping':
        ws.send('{"t":"pong"}');
        return;
      default:
        return;
    }
  });
  ws.on('close', () => {
    if (users.get(user) === ws) users.delete(user);
  });
});

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === 'GET' && req.url === '/memory') return answer(res, 200, process.memoryUsage());
  if (req.method !== 'POST') return answer(res, 404, { error: 'no route' });
  const body = (await readBody(req)) as { users?: unknown; data?: unknown };
  if (req.url === '/broadcast') {
    const id = randomUUID();
    // Encoded once to bytes; every socket gets the same buffer as a text frame.
    const frame = Buffer.from(JSON.stringify({ t: 'msg', app: APP, id, data: body.data, ts: Date.now(), qos: 0 }));
    for (const ws of wss.clients) ws.send(frame, { binary: false });
    return answer(res, 202, { job: id });
  }
  if (req.url === '/push' && Array.isArray(body.users)) {
    const id = randomUUID();
    const ts = Date.now();
    const results: { user: string; seq: number }[] = [];
    for (const u of body.users) {
      const user = String(u);
      const seq = (seqs.get(user) ?? 0) + 1;
      seqs.set(user, seq);
      users.get(user)?.send(JSON.stringify({ t: 'msg', app: APP, seq, id, data: body.data, ts, qos: 1 }));
      results.push({ user, seq });
    }
    return answer(res, 200, { id, results });
  }
  return answer(res, 404, { error: 'no route' });
}

const http = createServer((req, res) => {
  route(req, res).catch((err: unknown) => answer(res, 400, { error: String(err) }));
});
http.listen(httpPort, '127.0.0.1', () => process.stdout.write('ready\n'));

process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
