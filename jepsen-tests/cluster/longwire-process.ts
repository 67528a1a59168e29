// Starts, kills, pauses and restarts real `longwire start` processes by PID,
// on loopback ports and a data dir that survives restarts.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The tail of a node's output kept in memory for reports. */
const LOG_CHARS_MAX = 256 * 1024;

const CLI = fileURLToPath(new URL('../../node/src/cli.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

export interface LongwireNodeSpec {
  readonly id: string;
  readonly dataDir: string;
  readonly gatewayPort: number;
  readonly apiPort: number;
  readonly peerPort: number;
  readonly adminToken: string;
  readonly extraArgs: readonly string[];
  /** Loopback address the node listens on (default 127.0.0.1); a cluster gives each node its own. */
  readonly host?: string;
  /** Run the node as this uid/gid (root only), so iptables can match its packets by owner. */
  readonly uid?: number;
  readonly gid?: number;
}

export class LongwireProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  paused = false;
  log = '';

  constructor(readonly spec: LongwireNodeSpec) {}

  get host(): string {
    return this.spec.host ?? '127.0.0.1';
  }
  get apiUrl(): string {
    return `http://${this.host}:${this.spec.apiPort}`;
  }
  get wsUrl(): string {
    return `ws://${this.host}:${this.spec.gatewayPort}/ws`;
  }
  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    const s = this.spec;
    const h = this.host;
    const child = spawn(
      process.execPath,
      [CLI, 'start', '--id', s.id, '--data-dir', s.dataDir, '--gateway', `${h}:${s.gatewayPort}`, '--api', `${h}:${s.apiPort}`, '--peer', `${h}:${s.peerPort}`, '--admin-token', s.adminToken, '--log-level', 'warn', ...s.extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'], ...(s.uid === undefined ? {} : { uid: s.uid }), ...(s.gid === undefined ? {} : { gid: s.gid }) },
    );
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        // A node that exits on its own (crash, failed start) is no longer running: kill/stop must not signal its old pid.
        if (this.child === child) {
          this.child = undefined;
          this.paused = false;
        }
        resolve();
      }),
    );
    // The node logs to stdout (pino) and reports fatal errors on stderr; both go to the tail kept for reports.
    const keep = (d: Buffer): void => {
      this.log = (this.log + d.toString()).slice(-LOG_CHARS_MAX);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${s.id} exited with ${child.exitCode}:\n${this.log.slice(-4096)}`);
      try {
        if ((await fetch(`${this.apiUrl}/readyz`)).status === 200) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${s.id} not ready in 20 s:\n${this.log.slice(-4096)}`);
  }

  private pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error(`${this.spec.id} is not running`);
    return pid;
  }

  async kill9(): Promise<void> {
    if (this.child === undefined) return;
    if (this.paused) this.resume();
    process.kill(this.pid(), 'SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  pause(): void {
    if (this.child === undefined || this.paused) return;
    process.kill(this.pid(), 'SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (this.child === undefined || !this.paused) return;
    process.kill(this.pid(), 'SIGCONT');
    this.paused = false;
  }

  async stop(): Promise<void> {
    if (this.child === undefined) return;
    this.resume();
    const child = this.child;
    process.kill(this.pid(), 'SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
    this.child = undefined;
  }
}
