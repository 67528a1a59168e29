// Starts a real `longwire start` process (the compiled CLI) on loopback ports
// and a fresh data dir, creates the bench app through the admin API, and
// removes the data dir when stopped.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './clock.js';
import { HttpClient } from './http.js';
import { collectGarbage, inspectorUrl, INSPECT_FLAG } from './inspector.js';
import { freePort } from './ports.js';
import { stopChild, track, trackDir, untrackDir } from './reaper.js';
import { BENCH_API_KEY, BENCH_APP, BENCH_TOKEN_SECRET, type Target } from './target.js';

/** dist/bench/lib → dist/node/src/cli.js */
const CLI = fileURLToPath(new URL('../../node/src/cli.js', import.meta.url));
const ADMIN = 'bench-admin-token-0123456789abcdef';
const HEAP_METRIC = /^longwire_process_nodejs_heap_size_used_bytes (\S+)$/m;

export interface LongwireOptions {
  readonly fsync: boolean;
  readonly httpConcurrency: number;
  /** Run with the inspector on loopback so memory readings can force a GC first. */
  readonly inspect: boolean;
  /** Parent directory of the data dir (default: the OS temp dir). */
  readonly dataRoot?: string;
  /** Serve wss:// and https:// with this certificate and key; clients trust `ca`. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly ca: string };
}

export async function startLongwire(opts: LongwireOptions): Promise<Target> {
  const dataDir = await mkdtemp(join(opts.dataRoot ?? tmpdir(), 'longwire-bench-'));
  trackDir(dataDir);
  const gatewayPort = await freePort();
  const apiPort = await freePort();
  // The peer port too: the default (7802) would collide between the bench's nodes and any other node on this host.
  const peerPort = await freePort();
  const args = [
    ...(opts.inspect ? [INSPECT_FLAG] : []),
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
    ADMIN,
    '--log-level',
    'warn',
  ];
  if (opts.fsync) args.push('--fsync');
  if (opts.tls !== undefined) args.push('--tls-cert', opts.tls.certFile, '--tls-key', opts.tls.keyFile);
  const scheme = opts.tls === undefined ? '' : 's';
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-16_384);
  });
  child.stdout?.resume();
  const pid = child.pid;
  if (pid === undefined) throw new Error('longwire has no pid');
  const http = new HttpClient(`http${scheme}://127.0.0.1:${apiPort}`, opts.httpConcurrency, opts.tls === undefined ? {} : { ca: opts.tls.ca });
  const stop = async (): Promise<void> => {
    http.close();
    await stopChild(child, 'SIGTERM', 15_000);
    await rm(dataDir, { recursive: true, force: true });
    untrackDir(dataDir);
  };
  let inspector: string | undefined;
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`longwire exited ${child.exitCode} before ready: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`longwire not ready in 20 s: ${stderr}`);
      const ready = await http.call('GET', '/readyz').then(
        (a) => a.status === 200,
        () => false,
      );
      if (ready) break;
      await sleep(100);
    }
    await http.json(
      'PUT',
      `/v1/apps/${BENCH_APP}`,
      {
        apiKey: BENCH_API_KEY,
        tokenSecret: BENCH_TOKEN_SECRET,
        limits: { pushPerSecond: 0, maxInbox: 100_000, defaultTtl: 3600 },
      },
      ADMIN,
    );
    // Every bench connection comes from 127.0.0.1: lift the per-address caps
    // (defaults 10,000 open and 1,000/s) as an operator would behind a proxy.
    await http.json('PUT', '/v1/settings/node', { connectionsPerAddressMax: 1_000_000, connectionsPerAddressPerSecond: 1_000_000 }, ADMIN);
    await sleep(500);
    inspector = opts.inspect ? inspectorUrl(stderr) : undefined;
    if (opts.inspect && inspector === undefined) throw new Error(`longwire printed no inspector URL: ${stderr}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    label: ['longwire', ...(opts.fsync ? ['--fsync'] : []), ...(opts.tls === undefined ? [] : ['tls'])].join(' '),
    pid,
    wsUrl: `ws${scheme}://127.0.0.1:${gatewayPort}/ws`,
    ca: opts.tls?.ca,
    async collectGarbage() {
      if (inspector !== undefined) await collectGarbage(inspector, 60_000);
    },
    async heapUsed() {
      const a = await http.call('GET', '/metrics');
      const m = HEAP_METRIC.exec(a.body);
      if (m === null || m[1] === undefined) throw new Error('no longwire_process_nodejs_heap_size_used_bytes in /metrics');
      return Number(m[1]);
    },
    async broadcast(data) {
      // ttl 1 s: clients that bind later (the next size step) do not get old broadcasts replayed.
      await http.json('POST', `/v1/apps/${BENCH_APP}/broadcast`, { data, ttl: 1, rate: 1_000_000 }, BENCH_API_KEY);
    },
    async push(user, data, qos) {
      const a = await http.call('POST', `/v1/apps/${BENCH_APP}/push`, { users: [user], data, qos }, BENCH_API_KEY);
      if (a.status !== 200) throw new Error(`longwire push: ${a.status} ${a.body.slice(0, 200)}`);
    },
    stop,
    stderrTail() {
      return stderr;
    },
  };
}
