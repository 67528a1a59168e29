// Starts a real `longwire start` process on loopback ports and a temp data
// dir for black-box tests, and stops it by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, fetch as undiciFetch } from 'undici';

/** dist/node/test/support → dist/node/src/cli.js */
export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function tempDir(prefix = 'longwire-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

export interface NodeStartOptions {
  readonly dataDir?: string;
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
  readonly gatewayPort?: number;
  readonly apiPort?: number;
  readonly peerPort?: number;
  /** The node serves https/wss (--tls-cert in args): the harness talks to it trusting this CA (PEM). */
  readonly tlsCa?: string;
  /** Start without --admin-token (a node joining with a secret or certificate). */
  readonly noAdminToken?: boolean;
}

/** How long, and how often, a start on given ports is retried while one of them is in use. */
const FIXED_PORTS_RETRY_MS = 10_000;
const FIXED_PORTS_RETRY_PAUSE_MS = 500;

export class NodeProcess {
  private exited: Promise<number | null>;
  /** The child's stdout and stderr have ended: all it wrote is in `stderr` and `logs`. */
  private readonly outputDone: Promise<void>;
  stderr = '';
  logs = '';
  private constructor(
    readonly child: ChildProcess,
    readonly dataDir: string,
    readonly gatewayPort: number,
    readonly apiPort: number,
    readonly peerPort: number,
    readonly adminToken: string,
    private readonly ownsDir: boolean,
    /** undici dispatcher trusting the node's CA, when it serves TLS. */
    private readonly tls: Agent | undefined,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.outputDone = new Promise((resolve) => child.once('close', () => resolve()));
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      if (this.stderr.length > 64 * 1024) this.stderr = this.stderr.slice(-32 * 1024);
    });
    // The node's JSON log lines (pino writes to stdout), the last 256 KiB.
    child.stdout?.on('data', (d: Buffer) => {
      this.logs += d.toString();
      if (this.logs.length > 512 * 1024) this.logs = this.logs.slice(-256 * 1024);
    });
  }

  /**
   * Starts a node and waits until /readyz answers 200. Ports left to the
   * harness come from freePort(), which can race with another process taking
   * the port before the node binds it: on EADDRINUSE the start is retried on
   * fresh ports (and a fresh data dir, if the harness made it). A node
   * restarted on its previous ports can find one taken for a while (by
   * another process's connection or listener, while it was down): on
   * EADDRINUSE it is retried on the same ports, every 500 ms for 10 s.
   */
  static async start(opts: NodeStartOptions = {}): Promise<NodeProcess> {
    const fixedPorts = opts.gatewayPort !== undefined || opts.apiPort !== undefined || opts.peerPort !== undefined;
    const retryUntil = Date.now() + FIXED_PORTS_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await NodeProcess.startOnce(opts);
      } catch (err) {
        if (!(err instanceof Error && err.message.includes('EADDRINUSE'))) throw err;
        if (!fixedPorts) {
          if (attempt >= 3) throw err;
          continue;
        }
        if (Date.now() >= retryUntil) throw err;
        await new Promise((r) => setTimeout(r, FIXED_PORTS_RETRY_PAUSE_MS));
      }
    }
  }

  private static async startOnce(opts: NodeStartOptions): Promise<NodeProcess> {
    const ownsDir = opts.dataDir === undefined;
    const dataDir = opts.dataDir ?? (await tempDir());
    const gatewayPort = opts.gatewayPort ?? (await freePort());
    const apiPort = opts.apiPort ?? (await freePort());
    const peerPort = opts.peerPort ?? (await freePort());
    const adminToken = 'test-admin-token-0123456789';
    const child = spawn(
      process.execPath,
      [
        CLI,
        'start',
        '--data-dir',
        dataDir,
        '--gateway',
        `127.0.0.1:${gatewayPort}`,
        '--api',
        `127.0.0.1:${apiPort}`,
        '--peer',
        `127.0.0.1:${peerPort}`,
        ...(opts.noAdminToken === true ? [] : ['--admin-token', adminToken]),
        '--log-level',
        'warn',
        ...(opts.args ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
    );
    const node = new NodeProcess(child, dataDir, gatewayPort, apiPort, peerPort, adminToken, ownsDir, opts.tlsCa === undefined ? undefined : new Agent({ connect: { ca: opts.tlsCa } }));
    try {
      await node.waitReady();
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  get apiUrl(): string {
    return `${this.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.apiPort}`;
  }
  get gatewayUrl(): string {
    return `${this.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.gatewayPort}`;
  }
  get wsUrl(): string {
    return `${this.tls === undefined ? 'ws' : 'wss'}://127.0.0.1:${this.gatewayPort}/ws`;
  }

  /** fetch that trusts the node's CA when it serves TLS. */
  fetch(url: string, init: RequestInit = {}): Promise<Response> {
    if (this.tls === undefined) return fetch(url, init);
    return undiciFetch(url, { ...(init as object), dispatcher: this.tls }) as unknown as Promise<Response>;
  }
  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error('no pid');
    return pid;
  }

  /** 60 s: a joining or restarted member on this shared two-core machine, busy with a second test file, took over 30 s at times. */
  private async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    /** The last /readyz answer, for the error: why the node says it is not ready. */
    let last = 'no answer';
    let exitCode: number | null | undefined;
    void this.exited.then((c) => (exitCode = c ?? -1));
    while (Date.now() < deadline) {
      if (exitCode !== undefined) {
        // 'exit' can come before the last of stderr (the EADDRINUSE that start() looks for).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.outputDone, new Promise((r) => (timer = setTimeout(r, 2000)))]);
        clearTimeout(timer);
        throw new Error(`node exited with ${exitCode} before ready:\n${this.stderr}`);
      }
      try {
        // Bounded: whatever else holds the port may take the connection and never answer.
        const r = await this.fetch(`${this.apiUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
        if (r.status === 200) return;
        last = `${r.status} ${(await r.text()).slice(0, 500)}`;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`node not ready within ${timeoutMs} ms (last /readyz: ${last}):\n${this.stderr}`);
  }

  async api(method: string, path: string, opts: { body?: unknown; token?: string | null; rawBody?: string } = {}): Promise<ApiResponse> {
    const token = opts.token === undefined ? this.adminToken : opts.token;
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetch(this.apiUrl + path, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (metrics)
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  /** kill -9: no shutdown code runs. */
  async kill9(): Promise<void> {
    process.kill(this.pid, 'SIGKILL');
    await this.exited;
  }

  /** Graceful stop (SIGTERM), then removes the data dir if this process created it. */
  async stop(opts: { keepData?: boolean } = {}): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      process.kill(this.pid, 'SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(t);
    }
    if (this.ownsDir && opts.keepData !== true) await rm(this.dataDir, { recursive: true, force: true });
  }
}
