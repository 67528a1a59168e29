// A longwire cluster of 1 or 3 real `longwire start` processes (the compiled
// CLI) on 127.0.0.1, each on free ports and its own temp data dir: the first
// bootstraps, the others `--join` it one at a time (as
// jepsen-tests/cluster/keeper-cluster.ts does), and the bench waits until
// every member is a voter. The keeper's Raft log is always fsynced; --fsync
// (inbox writes) does not concern the keeper and is not given.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/ports.js';
import { trackDir, untrackDir } from '../lib/reaper.js';
import { ServerProcess, waitReady } from './server-process.js';

/** dist/bench/keeper → dist/node/src/cli.js */
const CLI = fileURLToPath(new URL('../../node/src/cli.js', import.meta.url));
export const LONGWIRE_ADMIN_TOKEN = 'bench-keeper-admin-token-0123456789';
const START_TIMEOUT_MS = 30_000;

export interface LongwireCluster {
  readonly apiUrls: readonly string[];
  readonly procs: readonly ServerProcess[];
  stop(): Promise<void>;
}

async function get(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${LONGWIRE_ADMIN_TOKEN}` }, signal: AbortSignal.timeout(2000) });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as unknown) : text };
}

/** `cpuProf`: a directory for V8 CPU profiles of every node process (all threads, the Raft worker too), written when it stops. */
export async function startLongwireCluster(size: number, cpuProf?: string): Promise<LongwireCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'longwire-bench-keeper-'));
  trackDir(dir);
  const procs: ServerProcess[] = [];
  const apiUrls: string[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
    untrackDir(dir);
  };
  try {
    for (let i = 0; i < size; i++) {
      const [gateway, api, peer] = [await freePort(), await freePort(), await freePort()];
      const first = apiUrls[0];
      const id = `n${i + 1}`;
      const prof = cpuProf === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProf];
      const args = [...prof, CLI, 'start', '--id', id, '--data-dir', join(dir, id), '--gateway', `127.0.0.1:${gateway}`, '--api', `127.0.0.1:${api}`, '--peer', `127.0.0.1:${peer}`];
      args.push('--admin-token', LONGWIRE_ADMIN_TOKEN, '--log-level', 'warn', ...(first === undefined ? [] : ['--join', first]));
      const p = ServerProcess.spawn(`longwire ${id}`, process.execPath, args);
      procs.push(p);
      const url = `http://127.0.0.1:${api}`;
      apiUrls.push(url);
      await waitReady(`longwire ${id}`, [p], START_TIMEOUT_MS, async () => (await get(`${url}/readyz`)).status === 200);
    }
    const first = apiUrls[0] ?? '';
    // A joined node starts as a learner; measure only once all are voters.
    await waitReady(`longwire cluster of ${size}`, procs, START_TIMEOUT_MS, async () => {
      const c = await get(`${first}/v1/cluster`);
      const members = (c.body as { members?: { role?: string }[] }).members ?? [];
      return c.status === 200 && members.length === size && members.every((m) => m.role === 'voter');
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { apiUrls, procs, stop };
}
