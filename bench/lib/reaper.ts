// Every child process the bench starts is registered here, so that a failed or
// interrupted run still stops each one by its PID and leaves nothing behind.
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();

export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Sends `signal`, waits up to `graceMs` for the exit, then SIGKILLs by PID. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || !alive(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
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
  await exited;
  clearTimeout(timer);
}

/** Kills every tracked child still running (SIGKILL by PID, synchronous: safe in an exit handler). */
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

let installed = false;

/** Kills tracked children when this process exits, is interrupted or throws. */
export function installReaper(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}
