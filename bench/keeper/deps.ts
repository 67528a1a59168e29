// The external servers the keeper bench runs, found on this machine or
// reported missing with the command that installs them (the bench itself
// installs nothing).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ETCD_BINARY } from './etcd-cluster.js';
import type { System } from './system.js';
import { JAVA_BINARY, ZK_JAR } from './zk-cluster.js';

const INSTALL_HINT = 'install them with `npm run bench:keeper:deps` (as root: apt-get install etcd-server zookeeper default-jre-headless), or run a subset with --systems';

/** Thrown when a server the bench needs is not installed: reported as a message, not a crash. */
export class MissingDeps extends Error {}

function run(cmd: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return undefined;
  }
}

/** Each asked-for external system's version; throws naming every missing piece. */
export function checkDeps(systems: readonly System[]): Record<string, string> {
  const versions: Record<string, string> = {};
  const missing: string[] = [];
  if (systems.includes('etcd')) {
    const v = /etcd Version: (\S+)/.exec(run(ETCD_BINARY, ['--version']) ?? '')?.[1];
    if (v === undefined) missing.push('etcd (Debian package etcd-server)');
    else if (!v.startsWith('3.4.')) missing.push(`etcd 3.4 (found ${v})`);
    else versions.etcd = v;
  }
  if (systems.includes('zookeeper')) {
    if (run(JAVA_BINARY, ['-version']) === undefined) missing.push('java (Debian package default-jre-headless)');
    else if (!existsSync(ZK_JAR)) missing.push(`ZooKeeper (Debian package zookeeper: ${ZK_JAR})`);
    else {
      const v = /^(\d+\.\d+\.\d+)/.exec(run(JAVA_BINARY, ['-cp', ZK_JAR, 'org.apache.zookeeper.Version']) ?? '')?.[1];
      if (v === undefined || !v.startsWith('3.8.')) missing.push(`ZooKeeper 3.8 (found ${v ?? 'an unknown version'})`);
      else versions.zookeeper = v;
    }
  }
  if (missing.length > 0) throw new MissingDeps(`bench:keeper needs ${missing.join(', ')}: ${INSTALL_HINT}`);
  return versions;
}
