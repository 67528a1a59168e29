// Every child process the bench starts is registered here, so that a failed or
// interrupted run still stops each one by its PID and leaves nothing behind;
// so is every temp data dir, removed once its process is gone.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

/** A temp dir to remove at exit if the bench has not removed it itself. */
export function trackDir(dir: string): void {
  dirs.add(dir);
}

export function untrackDir(dir: string): void {
  dirs.delete(dir);
}

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

/** Kills every tracked child still running (SIGKILL by PID) and removes tracked dirs; synchronous, so safe in an exit handler. */
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
  for (const d of dirs) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort: the process holding it was just killed
    }
  }
  dirs.clear();
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
