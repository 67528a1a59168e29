// Runs a Jepsen round inside a network namespace of its own, as Jepsen runs
// against real hosts: the round's process (clients, nemesis and every node it
// spawns) is re-executed under `unshare --net`, `lo` is brought up there, and
// all traffic stays on 127.0.0.0/8 inside it. Partition rules (iptables) then
// live only in that namespace: nothing on the host is touched, and the kernel
// deletes the namespace, rules and all, when its last process exits (also
// after a failure or SIGINT). The namespace is anonymous, so no name in
// /run/netns can leak.
import { spawn, spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Set to '1' in the process that runs inside the namespace. */
const INSIDE_ENV = 'LONGWIRE_JEPSEN_NETNS';
/** The namespace (net:[inode]) of the process that made the child's, so the child can tell it is elsewhere. */
const OUTER_ENV = 'LONGWIRE_JEPSEN_OUTER_NETNS';
/** Set by `node --test` in a test file's process; a child that inherits it would report in the runner's wire format. */
const TEST_CONTEXT_ENV = 'NODE_TEST_CONTEXT';
/** Output of the child kept for a failure message. */
const OUTPUT_CHARS_MAX = 512 * 1024;

export function insideNetns(): boolean {
  return process.env[INSIDE_ENV] === '1';
}

/** This process's network namespace, as net:[inode]. */
export function currentNetns(): string {
  return readlinkSync('/proc/self/ns/net');
}

/** Inside a namespace: the one of the process that re-executed us. */
export function outerNetns(): string | undefined {
  return process.env[OUTER_ENV];
}

let probed: { ok: true } | { ok: false; why: string } | undefined;

/** Whether this process can create a network namespace (root, util-linux `unshare`, iproute2 `ip`). Why not, otherwise. */
export function netnsAvailable(): { ok: true } | { ok: false; why: string } {
  if (probed !== undefined) return probed;
  if (process.getuid?.() !== 0) probed = { ok: false, why: 'not root: unshare --net needs root' };
  else {
    const r = spawnSync('unshare', ['--net', '--', 'ip', 'link', 'set', 'lo', 'up'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
    probed = r.status === 0 ? { ok: true } : { ok: false, why: `unshare --net failed: ${r.error?.message ?? r.stderr.toString().trim()}` };
  }
  return probed;
}

/** The network the round runs on, for its output. */
export function networkMode(): string {
  if (insideNetns()) return 'netns (a network namespace of its own)';
  const a = netnsAvailable();
  return `host (no namespace: ${a.ok ? 'not re-executed' : a.why})`;
}

export interface NetnsChild {
  readonly code: number;
  /** stdout and stderr together (only with stdio 'pipe'). */
  readonly output: string;
  readonly pid: number | undefined;
}

/**
 * Runs `node <args>` inside a new network namespace with `lo` up and answers
 * its exit code. The child gets its own process group, so a terminal's Ctrl-C
 * reaches only this process, which passes the first SIGINT or SIGTERM on as
 * SIGINT (the round then stops its faults, stops its nodes and reports); later
 * ones are ignored while it cleans up.
 */
export function runInNetns(args: readonly string[], stdio: 'inherit' | 'pipe'): Promise<NetnsChild> {
  const env: NodeJS.ProcessEnv = { ...process.env, [INSIDE_ENV]: '1', [OUTER_ENV]: currentNetns() };
  delete env[TEST_CONTEXT_ENV];
  // `unshare` and `sh` exec into node: the child's pid is the round's pid.
  const child = spawn('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, ...args], {
    stdio: stdio === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    env,
    detached: true,
  });
  let output = '';
  const keep = (d: Buffer): void => {
    output = (output + d.toString()).slice(-OUTPUT_CHARS_MAX);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let forwarded = false;
  const forward = (): void => {
    if (forwarded) return;
    forwarded = true;
    child.kill('SIGINT');
  };
  const onExit = (): void => {
    child.kill('SIGINT');
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  process.once('exit', onExit);
  return new Promise((resolve) => {
    child.once('error', (err) => {
      output += `\n${err.message}`;
    });
    child.once('close', (code, signal) => {
      process.removeListener('SIGINT', forward);
      process.removeListener('SIGTERM', forward);
      process.removeListener('exit', onExit);
      resolve({ code: code ?? (signal !== null ? 128 : 1), output, pid: child.pid });
    });
  });
}

/**
 * For a CLI entry (its import.meta.url): when namespaces are available and
 * this process is not yet inside one, re-runs the CLI with the same arguments
 * in a new namespace and exits with its code; otherwise returns and the CLI
 * runs here (`hostNet` forces that).
 */
export async function reexecInNetns(entryUrl: string, hostNet: boolean): Promise<void> {
  if (hostNet || insideNetns() || !netnsAvailable().ok) return;
  const child = await runInNetns([fileURLToPath(entryUrl), ...process.argv.slice(2)], 'inherit');
  process.exit(child.code);
}
