// A server the keeper bench starts (a longwire node, an etcd member, a
// ZooKeeper JVM): spawned with its output kept as a bounded tail for failure
// reports, tracked by bench/lib/reaper.ts so a failed or interrupted run still
// kills it by PID, and stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { stopChild, track } from '../lib/reaper.js';

const TAIL_CHARS_MAX = 16_384;

export class ServerProcess {
  private tailText = '';

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (d: Buffer): void => {
      this.tailText = (this.tailText + d.toString()).slice(-TAIL_CHARS_MAX);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  static spawn(name: string, command: string, args: readonly string[], cwd?: string): ServerProcess {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd === undefined ? {} : { cwd }) });
    if (child.pid === undefined) throw new Error(`could not spawn ${name} (${command})`);
    track(child);
    return new ServerProcess(name, child);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** The last lines it wrote (stdout and stderr), for failure reports. */
  tail(): string {
    return this.tailText;
  }

  /** Throws with its output if it has exited (called while waiting for it to be ready). */
  assertRunning(): void {
    if (this.exited) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}):\n${this.tailText.slice(-4000)}`);
  }

  stop(): Promise<void> {
    return stopChild(this.child, 'SIGTERM', 10_000);
  }
}

/** Polls `ready` every 100 ms until it resolves true; fails when a process exits or after timeoutMs. */
export async function waitReady(what: string, procs: readonly ServerProcess[], timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const p of procs) p.assertRunning();
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms:\n${procs.map((p) => `--- ${p.name}\n${p.tail().slice(-3000)}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
