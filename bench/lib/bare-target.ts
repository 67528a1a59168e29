// Starts the bare ws baseline (baseline/bare-ws-server.ts) as its own process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HttpClient } from './http.js';
import { collectGarbage, inspectorUrl, INSPECT_FLAG } from './inspector.js';
import { freePort } from './ports.js';
import { stopChild, track } from './reaper.js';
import type { Target } from './target.js';

const SERVER = fileURLToPath(new URL('../baseline/bare-ws-server.js', import.meta.url));

export async function startBare(opts: { readonly httpConcurrency: number; readonly inspect: boolean }): Promise<Target> {
  const wsPort = await freePort();
  const httpPort = await freePort();
  const child = spawn(process.execPath, [...(opts.inspect ? [INSPECT_FLAG] : []), SERVER, String(wsPort), String(httpPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8192);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bare ws server not ready in 10 s: ${stderr}`)), 10_000);
    child.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bare ws server exited ${code ?? 'by signal'}: ${stderr}`));
    });
  });
  child.stdout?.resume();
  const pid = child.pid;
  if (pid === undefined) throw new Error('bare ws server has no pid');
  const http = new HttpClient(`http://127.0.0.1:${httpPort}`, opts.httpConcurrency);
  const inspector = opts.inspect ? inspectorUrl(stderr) : undefined;
  if (opts.inspect && inspector === undefined) throw new Error(`bare ws server printed no inspector URL: ${stderr}`);
  return {
    label: 'bare-ws',
    pid,
    wsUrl: `ws://127.0.0.1:${wsPort}/`,
    ca: undefined,
    async collectGarbage() {
      if (inspector !== undefined) await collectGarbage(inspector, 60_000);
    },
    async heapUsed() {
      const m = (await http.json('GET', '/memory')) as { heapUsed: number };
      return m.heapUsed;
    },
    async broadcast(data) {
      await http.json('POST', '/broadcast', { data });
    },
    async push(user, data, qos) {
      // The baseline forwards every push as a qos 1 frame: it has no qos 0 path to compare with.
      if (qos !== 1) throw new Error('bare ws baseline: qos 1 only');
      const a = await http.call('POST', '/push', { users: [user], data });
      if (a.status !== 200) throw new Error(`bare push: ${a.status} ${a.body.slice(0, 200)}`);
    },
    stderrTail() {
      return stderr;
    },
    async stop() {
      http.close();
      await stopChild(child, 'SIGTERM', 5000);
    },
  };
}
