// An etcd 3.4 cluster of 1 or 3 members (the Debian etcd-server binary), each
// on free 127.0.0.1 client and peer ports and its own temp data dir, all
// started at once with a static --initial-cluster. etcd fsyncs its WAL by
// default; the bench leaves that on.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../lib/ports.js';
import { trackDir, untrackDir } from '../lib/reaper.js';
import { ServerProcess, waitReady } from './server-process.js';

export const ETCD_BINARY = 'etcd';
const START_TIMEOUT_MS = 30_000;

export interface EtcdCluster {
  readonly clientUrls: readonly string[];
  readonly procs: readonly ServerProcess[];
  stop(): Promise<void>;
}

export async function startEtcdCluster(size: number): Promise<EtcdCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-bench-keeper-'));
  trackDir(dir);
  const members: { name: string; client: string; peer: string }[] = [];
  for (let i = 0; i < size; i++) members.push({ name: `e${i + 1}`, client: `http://127.0.0.1:${await freePort()}`, peer: `http://127.0.0.1:${await freePort()}` });
  const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(',');
  const procs = members.map((m) =>
    ServerProcess.spawn(`etcd ${m.name}`, ETCD_BINARY, [
      '--name', m.name,
      '--data-dir', join(dir, m.name),
      '--listen-client-urls', m.client,
      '--advertise-client-urls', m.client,
      '--listen-peer-urls', m.peer,
      '--initial-advertise-peer-urls', m.peer,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', `bench-${process.pid}`,
      '--logger', 'zap',
      '--log-level', 'warn',
    ]),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
    untrackDir(dir);
  };
  try {
    // /health is true once the member sees a leader and can serve a quorum read.
    await waitReady(`etcd cluster of ${size}`, procs, START_TIMEOUT_MS, async () => {
      const ok = await Promise.all(
        members.map(async (m) => {
          const res = await fetch(`${m.client}/health`, { signal: AbortSignal.timeout(2000) });
          return res.status === 200 && ((await res.json()) as { health?: string }).health === 'true';
        }),
      );
      return ok.every(Boolean);
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { clientUrls: members.map((m) => m.client), procs, stop };
}
