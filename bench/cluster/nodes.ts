// Real longwire nodes for the cluster bench: one alone (the baseline) and
// three joined, each on free loopback ports and a temp data dir, stopped by
// PID (bench/lib/reaper.ts also stops them if the bench dies).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { spawnNode } from '../upstream/children.js';
import { stopChild, trackDir, untrackDir } from '../lib/reaper.js';
import { freePort } from '../lib/ports.js';
import { cpuNs } from '../lib/cpu-time.js';

const CLI = fileURLToPath(new URL('../../node/src/cli.js', import.meta.url));
export const ADMIN_TOKEN = 'bench-cluster-admin-token-0123456789';
export const APP = 'bench';
export const API_KEY = 'bench-cluster-api-key-0123456789';
export const TOKEN_SECRET = 'bench-cluster-token-secret-0123456789';
const READY_TIMEOUT_MS = 30_000;

export class BenchNode {
  private constructor(
    readonly id: string,
    private readonly child: ChildProcess,
    private readonly dataDir: string,
    readonly gatewayPort: number,
    readonly apiPort: number,
  ) {}

  static async start(id: string, join_?: BenchNode, cpuProfDir?: string): Promise<BenchNode> {
    const dataDir = await mkdtemp(join(tmpdir(), 'longwire-bench-cluster-'));
    trackDir(dataDir);
    const [gatewayPort, apiPort, peerPort] = [await freePort(), await freePort(), await freePort()];
    const child = spawnNode([
      ...(cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', join(cpuProfDir, id)]),
      CLI, 'start', '--id', id, '--data-dir', dataDir,
      '--gateway', `127.0.0.1:${gatewayPort}`, '--api', `127.0.0.1:${apiPort}`, '--peer', `127.0.0.1:${peerPort}`,
      '--admin-token', ADMIN_TOKEN, '--log-level', 'warn',
      ...(join_ === undefined ? [] : ['--join', join_.apiUrl]),
    ]);
    child.stdout?.resume();
    child.stderr?.resume();
    const n = new BenchNode(id, child, dataDir, gatewayPort, apiPort);
    await n.until(async () => (await fetch(`${n.apiUrl}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200, 'ready');
    return n;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.gatewayPort}/ws`;
  }

  async api(method: string, path: string, body?: unknown, token = ADMIN_TOKEN): Promise<{ status: number; body: unknown }> {
    const res = await fetch(this.apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text.length > 0 ? (JSON.parse(text) as unknown) : undefined };
  }

  /** Polls `probe` until it is true (errors count as false), bounded by READY_TIMEOUT_MS. */
  async until(probe: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await probe().catch(() => false))) {
      if (this.child.exitCode !== null) throw new Error(`${this.id} exited before ${what}`);
      if (Date.now() > deadline) throw new Error(`${this.id}: not ${what} within ${READY_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** CPU time this node's process has used so far (all threads), ns. */
  cpuNs(): number {
    return this.child.pid === undefined ? 0 : cpuNs(this.child.pid);
  }

  /** This node's peer calls sent so far, by method (longwire_peer_calls_total). */
  async peerCalls(): Promise<Map<string, number>> {
    const text = await (await fetch(`${this.apiUrl}/metrics`)).text();
    const out = new Map<string, number>();
    for (const m of text.matchAll(/^longwire_peer_calls_total\{method="([^"]+)"\} (\S+)$/gm)) out.set(m[1] ?? '', Number(m[2]));
    return out;
  }

  async ownerOf(user: string): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.gatewayPort}/v1/dispatch?app=${APP}&user=${encodeURIComponent(user)}`);
    return ((await res.json()) as { nodes: { id: string }[] }).nodes[0]?.id ?? '';
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
    await rm(this.dataDir, { recursive: true, force: true });
    untrackDir(this.dataDir);
  }
}

/** Creates the bench app through `via` and waits until every node accepts a push for it. */
export async function createApp(via: BenchNode, all: readonly BenchNode[]): Promise<void> {
  const r = await via.api('PUT', `/v1/apps/${APP}`, { apiKey: API_KEY, tokenSecret: TOKEN_SECRET, limits: { maxInbox: 100_000 } });
  // Every bench connection comes from 127.0.0.1: lift the per-address caps (node settings are cluster-wide).
  await via.api('PUT', '/v1/settings/node', { connectionsPerAddressMax: 1_000_000, connectionsPerAddressPerSecond: 1_000_000 });
  if (r.status >= 300) throw new Error(`app: ${r.status} ${JSON.stringify(r.body)}`);
  for (const n of all) {
    await n.until(async () => (await n.api('POST', `/v1/apps/${APP}/push`, { users: ['warmup'], data: 0 }, API_KEY)).status === 200, 'taking pushes');
  }
}

/** A cluster of `size` joined voters (1: a node alone). */
export async function startCluster(size: number, prefix: string, cpuProfDir?: string): Promise<BenchNode[]> {
  const first = await BenchNode.start(`${prefix}1`, undefined, cpuProfDir);
  const nodes = [first];
  for (let i = 2; i <= size; i++) {
    nodes.push(await BenchNode.start(`${prefix}${i}`, first, cpuProfDir));
    await first.until(async () => {
      const v = (await first.api('GET', '/v1/cluster')).body as { members: { role: string }[] };
      return v.members.filter((m) => m.role === 'voter').length === i;
    }, `${i} voters`);
  }
  await createApp(first, nodes);
  return nodes;
}
