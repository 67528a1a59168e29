// Spawning the upstream bench's child processes (node, webhook server,
// generators). Tracking and stopping them by PID is bench/lib/reaper.ts's job.
import { spawn, type ChildProcess } from 'node:child_process';
import { track } from '../lib/reaper.js';

export { installReaper, killAll, stopChild } from '../lib/reaper.js';

/** Spawns `node <args>` with piped stdout/stderr and tracks it. */
export function spawnNode(args: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not spawn node ${args[0] ?? ''}`);
  track(child);
  return child;
}

/** Resolves with the exit code (or the signal name) once the child has exited. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode ?? -1);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}
