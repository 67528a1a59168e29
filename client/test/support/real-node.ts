// A real `longwire start` process behind the TestNode interface, driven only
// through the contract (PROTOCOL.md): flags, /readyz, the admin app route, the
// service push/topic/kick routes, and a webhook answering `up`.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from './jwt.js';
import type { TestNode } from './test-node.js';

const READY_TIMEOUT_MS = 20_000;
const ADMIN_TOKEN = 'e2e-admin-token';
const API_KEY = 'e2e-api-key-0123456789abcdef';
const TOKEN_SECRET = 'e2e-token-secret-0123456789abcdef0123456789';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Answers `up` webhooks: `{ echo: data }`, or a 500 for `{ fail: true }`. */
async function startWebhook(): Promise<Server> {
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const { data } = JSON.parse(body) as { data: unknown };
      const fail = typeof data === 'object' && data !== null && 'fail' in data && data.fail === true;
      res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(fail ? {} : { data: { echo: data } }));
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return s;
}

export async function startRealNode(cli: string): Promise<TestNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'longwire-e2e-'));
  const [gateway, api, peer] = [await freePort(), await freePort(), await freePort()];
  const webhook = await startWebhook();
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, 'start', '--id', 'n1', '--data-dir', dataDir, '--gateway', `127.0.0.1:${gateway}`, '--api', `127.0.0.1:${api}`, '--peer', `127.0.0.1:${peer}`, '--admin-token', ADMIN_TOKEN],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const apiUrl = `http://127.0.0.1:${api}`;
  const call = async (method: string, path: string, bearer: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await new Promise<void>((resolve) => webhook.close(() => resolve()));
    await rm(dataDir, { recursive: true, force: true });
  };
  const app = 'chat';
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const ready = await fetch(`${apiUrl}/readyz`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error('real node not ready in time');
      await new Promise((r) => setTimeout(r, 200));
    }
    const webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/`;
    await call('PUT', `/v1/apps/${app}`, ADMIN_TOKEN, { apiKey: API_KEY, tokenSecret: TOKEN_SECRET, webhook: webhookUrl });
    // The contract lets every node take up to a second to apply app changes.
    await new Promise((r) => setTimeout(r, 1100));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kind: 'real',
    app,
    dispatchUrl: `http://127.0.0.1:${gateway}`,
    wsUrl: `ws://127.0.0.1:${gateway}/ws`,
    token: (user, expSeconds = 3600) => signToken(TOKEN_SECRET, { sub: user, app, exp: Math.floor(Date.now() / 1000) + expSeconds }),
    async push(user, data) {
      const r = (await call('POST', `/v1/apps/${app}/push`, API_KEY, { users: [user], data })) as { results: { seq: number }[] };
      return r.results[0]?.seq ?? -1;
    },
    async publish(topic, data) {
      const r = (await call('POST', `/v1/apps/${app}/topics/${encodeURIComponent(topic)}`, API_KEY, { data })) as { offset: number };
      return r.offset;
    },
    async kick(user) {
      await call('POST', `/v1/apps/${app}/users/${encodeURIComponent(user)}/kick`, API_KEY, {});
    },
    close: stop,
  };
}
