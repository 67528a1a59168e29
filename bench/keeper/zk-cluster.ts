// A ZooKeeper 3.8 ensemble of 1 or 3 members from the Debian `zookeeper`
// package: one JVM per member running QuorumPeerMain on the package's jar
// (/usr/share/java/zookeeper.jar, whose manifest names its dependencies),
// with a generated zoo.cfg and myid in its own temp dir and free 127.0.0.1
// ports. A single member runs standalone. ZooKeeper fsyncs its transaction
// log by default (forceSync=yes); the bench leaves that on.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../lib/ports.js';
import { trackDir, untrackDir } from '../lib/reaper.js';
import { ServerProcess, waitReady } from './server-process.js';

export const ZK_JAR = '/usr/share/java/zookeeper.jar';
/** slf4j's simple binding (a zookeeper dependency in Debian): warnings and errors to stderr, kept for failure reports. */
const SLF4J_SIMPLE_JAR = '/usr/share/java/slf4j-simple.jar';
export const JAVA_BINARY = 'java';
const START_TIMEOUT_MS = 60_000;
const HEAP = '-Xmx512m';

export interface ZkCluster {
  /** host:port per member, for node-zookeeper-client connection strings. */
  readonly hosts: readonly string[];
  /** Client port per member. */
  readonly ports: readonly number[];
  readonly procs: readonly ServerProcess[];
  stop(): Promise<void>;
}

/**
 * The member's mode from the `srvr` four-letter command — "leader",
 * "follower" or "standalone", answered only once it is in a quorum — or
 * undefined. (A node-zookeeper-client session is no probe: closing one whose
 * connect is still pending makes the library misread the late answer and throw.)
 */
export function zkMode(port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(timeoutMs, () => s.destroy());
    s.on('connect', () => s.end('srvr'));
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => resolve(/^Mode: (leader|follower|standalone)$/m.exec(text)?.[1]));
  });
}

export async function startZkCluster(size: number): Promise<ZkCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'zk-bench-keeper-'));
  trackDir(dir);
  const members: { id: number; client: number; quorum: number; election: number }[] = [];
  for (let i = 0; i < size; i++) members.push({ id: i + 1, client: await freePort(), quorum: await freePort(), election: await freePort() });
  const procs: ServerProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
    untrackDir(dir);
  };
  try {
    const classpath = [ZK_JAR, ...(existsSync(SLF4J_SIMPLE_JAR) ? [SLF4J_SIMPLE_JAR] : [])].join(':');
    for (const m of members) {
      const home = join(dir, `z${m.id}`);
      await mkdir(home);
      await writeFile(join(home, 'myid'), `${m.id}\n`);
      const cfg = [
        'tickTime=2000',
        'initLimit=10',
        'syncLimit=5',
        `dataDir=${home}`,
        `clientPort=${m.client}`,
        'clientPortAddress=127.0.0.1',
        // Every bench session comes from 127.0.0.1; the default cap is 60 per address.
        'maxClientCnxns=0',
        // The admin HTTP server would take port 8080 on every member.
        'admin.enableServer=false',
        '4lw.commands.whitelist=srvr',
        ...(size > 1 ? members.map((o) => `server.${o.id}=127.0.0.1:${o.quorum}:${o.election}`) : []),
      ];
      await writeFile(join(home, 'zoo.cfg'), cfg.join('\n') + '\n');
      procs.push(
        ServerProcess.spawn(
          `zookeeper ${m.id}`,
          JAVA_BINARY,
          [HEAP, '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', classpath, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', join(home, 'zoo.cfg')],
          home,
        ),
      );
    }
    await waitReady(`zookeeper ensemble of ${size}`, procs, START_TIMEOUT_MS, async () => (await Promise.all(members.map((m) => zkMode(m.client, 2000)))).every((mode) => mode !== undefined));
  } catch (err) {
    await stop();
    throw err;
  }
  return { hosts: members.map((m) => `127.0.0.1:${m.client}`), ports: members.map((m) => m.client), procs, stop };
}
