// Starts the webhook server (webhook-server.ts) as a child process and reads
// its counters: live over GET /stats, and the final line it prints when stopped.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnNode, stopChild } from './children.js';
import { API_KEY } from './constants.js';
import { LineReader, stderrTail } from './lines.js';
import { COUNT_PREFIX, isWebhookStats, PORT_PREFIX, type WebhookStats } from './webhook-stats.js';

const SCRIPT = fileURLToPath(new URL('./webhook-server.js', import.meta.url));

export class WebhookProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly lines: LineReader,
    readonly port: number,
    readonly stderr: () => string,
  ) {}

  static async start(): Promise<WebhookProcess> {
    const child = spawnNode([SCRIPT, API_KEY]);
    const lines = new LineReader(child);
    const stderr = stderrTail(child);
    try {
      const port = Number(await lines.waitFor(PORT_PREFIX, 10_000));
      if (!Number.isInteger(port) || port <= 0) throw new Error('webhook server printed no port');
      return new WebhookProcess(child, lines, port, stderr);
    } catch (err) {
      await stopChild(child, 'SIGKILL');
      throw new Error(`webhook server did not start: ${err instanceof Error ? err.message : String(err)}\n${stderr()}`);
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async stats(): Promise<WebhookStats> {
    const res = await fetch(`http://127.0.0.1:${this.port}/stats`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as unknown;
    if (!isWebhookStats(body)) throw new Error(`webhook /stats answered ${JSON.stringify(body)}`);
    return body;
  }

  /** SIGTERM; resolves with the count the server prints on its way out (undefined if it printed none). */
  async stop(): Promise<WebhookStats | undefined> {
    const final = this.lines.waitFor(COUNT_PREFIX, 5000).then(
      (line) => JSON.parse(line) as unknown,
      () => undefined,
    );
    await stopChild(this.child, 'SIGTERM', 5000);
    const parsed = await final;
    return isWebhookStats(parsed) ? parsed : undefined;
  }
}
