// Every child process the bench starts (node, webhook server, generators) is
// tracked here and stopped by its PID: on success, on failure, on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();

function alive(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

/** Spawns `node <args>` with piped stdout/stderr and tracks it. */
export function spawnNode(args: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not spawn node ${args[0] ?? ''}`);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves with the exit code (or the signal name) once the child has exited. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (!alive(child)) return Promise.resolve(child.exitCode ?? child.signalCode ?? -1);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}

/** Sends `signal` by PID, then SIGKILL after `graceMs` if it is still running. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || !alive(child)) return;
  const done = exited(child);
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    if (alive(child)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, graceMs);
  await done;
  clearTimeout(timer);
}

/** SIGKILLs every tracked child still running (synchronous: safe in an exit handler). */
export function killAll(): void {
  for (const c of children) {
    if (c.pid !== undefined && alive(c)) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

/** Kills tracked children when this process exits or is interrupted. */
export function installReaper(): void {
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}
