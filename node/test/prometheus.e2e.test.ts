// A real Prometheus (Debian's `prometheus` package; .ci/run installs it)
// scrapes a real node every second: the exposition parses, the target is up,
// and the day-one series are queryable. Missing Prometheus fails the test:
// an operator's first dashboard depends on exactly this working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeProcess, freePort, tempDir } from './support/node-process.js';
import { createApp } from './support/ws-client.js';
import { isRecord, openBound } from './support/contract.js';

/** Upper bound on waiting for the first scrapes to be queryable (scrape interval 1 s). */
const SCRAPE_WAIT_MS = 30_000;

function prometheusBinary(): string {
  const r = spawnSync('which', ['prometheus'], { encoding: 'utf8' });
  const path = r.status === 0 ? r.stdout.trim() : '';
  if (path === '') {
    assert.fail('prometheus is not installed (`which prometheus` failed). Install Debian\'s package: apt-get install -y prometheus (.ci/run does this).');
  }
  return path;
}

interface Sample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

async function query(base: string, q: string): Promise<Sample[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as unknown;
  if (!isRecord(body) || body.status !== 'success' || !isRecord(body.data) || !Array.isArray(body.data.result)) {
    throw new Error(`prometheus query ${q}: ${JSON.stringify(body)}`);
  }
  return body.data.result.map((r: unknown) => {
    if (!isRecord(r) || !isRecord(r.metric) || !Array.isArray(r.value)) throw new Error(`unexpected sample ${JSON.stringify(r)}`);
    return { metric: r.metric as Record<string, string>, value: Number(r.value[1]) };
  });
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  process.kill(p.pid, 'SIGTERM');
  const t = setTimeout(() => {
    if (p.pid !== undefined && p.exitCode === null) process.kill(p.pid, 'SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(t);
}

test('Prometheus scrapes a node: up = 1 and the longwire series are queryable', async () => {
  const bin = prometheusBinary();
  const node = await NodeProcess.start();
  const dir = await tempDir('longwire-prom-');
  let prom: ChildProcess | undefined;
  let promLog = '';
  try {
    const app = await createApp(node, 'scraped');
    const { s } = await openBound(node, app, 'prom-device', 'prom-user');

    const port = await freePort();
    const config = join(dir, 'prometheus.yml');
    await writeFile(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: longwire',
        '    metrics_path: /metrics',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${node.apiPort}']`,
        '',
      ].join('\n'),
    );
    prom = spawn(bin, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (d: Buffer): void => {
      promLog = (promLog + d.toString()).slice(-16 * 1024);
    };
    prom.stdout?.on('data', collect);
    prom.stderr?.on('data', collect);
    const base = `http://127.0.0.1:${port}`;

    let connects: Sample[] = [];
    const deadline = Date.now() + SCRAPE_WAIT_MS;
    while (Date.now() < deadline) {
      assert.equal(prom.exitCode, null, `prometheus exited early:\n${promLog}`);
      try {
        connects = await query(base, 'longwire_gateway_connects_total');
        if (connects.length > 0) break;
      } catch {
        // not listening yet, or no scrape stored yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(connects.length > 0, `no longwire_gateway_connects_total in Prometheus within ${SCRAPE_WAIT_MS} ms:\n${promLog}`);
    assert.equal(connects[0]?.value, 1);
    assert.equal(connects[0]?.metric.job, 'longwire');

    const up = await query(base, 'up{job="longwire"}');
    assert.equal(up.length, 1);
    assert.equal(up[0]?.value, 1, 'the scrape of /metrics must succeed');

    const byApp = await query(base, 'longwire_gateway_app_connections');
    assert.deepEqual(
      byApp.map((x) => [x.metric.app, x.value]),
      [['scraped', 1]],
    );
    for (const name of ['longwire_gateway_connections', 'longwire_process_nodejs_eventloop_lag_p99_seconds', 'longwire_process_nodejs_heap_size_used_bytes', 'longwire_broadcast_jobs_running', 'longwire_raft_is_leader']) {
      assert.equal((await query(base, name)).length, 1, `${name} is not in Prometheus`);
    }
    s.ws.close();
    await s.closed;
  } finally {
    if (prom !== undefined) await stopProcess(prom);
    await node.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
