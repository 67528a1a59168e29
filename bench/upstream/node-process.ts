// Starts a real longwire node (`node dist/node/src/cli.js start`) on loopback
// ports and a temp data dir, prepares it for the bench (app with webhook and
// a high upstream limit, per-connection frame limit raised), and stops it by
// PID, removing the data dir.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnNode, stopChild } from './children.js';
import { ADMIN_TOKEN, API_KEY, APP, TOKEN_SECRET } from './constants.js';
import { stderrTail } from './lines.js';
import { freePort } from '../lib/ports.js';

/** dist/bench/upstream → dist/node/src/cli.js */
const CLI = fileURLToPath(new URL('../../node/src/cli.js', import.meta.url));
const READY_TIMEOUT_MS = 20_000;

export class NodeProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dataDir: string,
    readonly gatewayPort: number,
    readonly apiPort: number,
    readonly stderr: () => string,
  ) {}

  static async start(): Promise<NodeProcess> {
    const dataDir = await mkdtemp(join(tmpdir(), 'longwire-bench-upstream-'));
    // Also removed when the bench dies (the exit handler runs after the reaper has killed the node).
    process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
    const gatewayPort = await freePort();
    const apiPort = await freePort();
    // The peer port too: the default (7802) collides with any other node on this host.
    const peerPort = await freePort();
    const child = spawnNode([
      CLI,
      'start',
      '--data-dir',
      dataDir,
      '--gateway',
      `127.0.0.1:${gatewayPort}`,
      '--api',
      `127.0.0.1:${apiPort}`,
      '--peer',
      `127.0.0.1:${peerPort}`,
      '--admin-token',
      ADMIN_TOKEN,
      '--log-level',
      'warn',
    ]);
    child.stdout?.resume();
    const node = new NodeProcess(child, dataDir, gatewayPort, apiPort, stderrTail(child));
    try {
      await node.waitReady();
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.gatewayPort}/ws`;
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`node exited before ready:\n${this.stderr()}`);
      const ok = await fetch(`http://127.0.0.1:${this.apiPort}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`node not ready within ${READY_TIMEOUT_MS} ms:\n${this.stderr()}`);
  }

  async admin(method: string, path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`http://127.0.0.1:${this.apiPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as unknown;
  }

  /** The bench app, calling `webhookUrl` for every up frame, with upstream limited to `upstreamPerSecond` per connection. */
  async createApp(webhookUrl: string, upstreamPerSecond: number): Promise<void> {
    await this.admin('PUT', `/v1/apps/${APP}`, { apiKey: API_KEY, tokenSecret: TOKEN_SECRET, webhook: webhookUrl, limits: { upstreamPerSecond } });
  }

  /** Overrides node settings (PUT /v1/settings/node), e.g. the per-connection frame limit. */
  async setSettings(overrides: Readonly<Record<string, number>>): Promise<void> {
    await this.admin('PUT', '/v1/settings/node', overrides);
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 'SIGTERM', 10_000);
    await rm(this.dataDir, { recursive: true, force: true });
  }
}
