// The `longwire` command line: start's flags, env vars and --config file,
// refused flags, and the apps/push/token commands against a real node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, NodeProcess, freePort, tempDir } from './support/node-process.js';
import { TestSocket } from './support/ws-client.js';
import { loadConfig } from '../src/config.js';

const run = promisify(execFile);

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let node: NodeProcess;
before(async () => {
  node = await NodeProcess.start();
});
after(async () => {
  await node.stop();
});

test('flags beat env vars, which beat the --config file, which beats defaults', async () => {
  const dir = await tempDir();
  const file = join(dir, 'longwire.json');
  await writeFile(file, JSON.stringify({ id: 'from-file', zone: 'file-zone', heartbeat: 7, 'data-dir': '/tmp/x' }));
  const cfg = loadConfig(['--config', file, '--zone', 'flag-zone'], { LONGWIRE_ID: 'from-env' });
  assert.equal(cfg.id, 'from-env');
  assert.equal(cfg.zone, 'flag-zone');
  assert.equal(cfg.heartbeatSeconds, 7);
  assert.equal(cfg.dataDir, '/tmp/x');
  const d = loadConfig([], {});
  assert.deepEqual([d.id, d.gateway, d.api, d.zone, d.fsync, d.keeperQuotaMb, d.apiConnectionsMax, d.watchesMax, d.keeperGroupCommitMs], ['n1', { host: '127.0.0.1', port: 7800 }, { host: '127.0.0.1', port: 7801 }, 'default', false, 256, 10_000, 1000, 1]);
  assert.equal(loadConfig(['--keeper-group-commit-ms', '0'], {}).keeperGroupCommitMs, 0);
  assert.equal(loadConfig(['--keeper-quota-mb', '0'], {}).keeperQuotaMb, 0);
});

test('bad flags are refused with a clear error', async () => {
  const unknown = await cli(['start', '--no-such-flag']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no-such-flag/);
  const secret = await cli(['start', '--cluster-secret', 's3cret']);
  assert.equal(secret.code, 2);
  assert.match(secret.stderr, /--cluster-secret must be at least 16 characters/);
  const join_ = await cli(['start', '--join', 'http://127.0.0.1:1']);
  assert.equal(join_.code, 2);
  assert.match(join_.stderr, /--join needs --cluster-secret or --peer-cert/);
  const halfTls = await cli(['start', '--tls-cert', 'a.pem']);
  assert.equal(halfTls.code, 2);
  assert.match(halfTls.stderr, /--tls-cert and --tls-key go together/);
  const badAddr = await cli(['start', '--gateway', 'nope']);
  assert.equal(badAddr.code, 2);
  assert.match(badAddr.stderr, /--gateway must be host:port/);
  for (const q of ['-1', '1.5', 'lots', '16385']) {
    const quota = await cli(['start', `--keeper-quota-mb=${q}`]);
    assert.equal(quota.code, 2, q);
    assert.match(quota.stderr, /--keeper-quota-mb must be 0\.\.16384/);
  }
  const conns = await cli(['start', '--api-connections-max', '0']);
  assert.equal(conns.code, 2);
  assert.match(conns.stderr, /--api-connections-max must be 1\.\.1000000/);
  for (const g of ['-1', '21', '1.5']) {
    const wait = await cli(['start', `--keeper-group-commit-ms=${g}`]);
    assert.equal(wait.code, 2, g);
    assert.match(wait.stderr, /--keeper-group-commit-ms must be 0\.\.20/);
  }
  for (const w of ['0', '100001', 'many']) {
    const watches = await cli(['start', `--watches-max=${w}`]);
    assert.equal(watches.code, 2, w);
    assert.match(watches.stderr, /--watches-max must be 1\.\.100000/);
  }
});

test('start takes its settings from env vars', async () => {
  const dir = await tempDir();
  const gw = await freePort();
  const api = await freePort();
  const n = await NodeProcess.start({ dataDir: dir, env: { LONGWIRE_ID: 'envnode', LONGWIRE_ZONE: 'zz' }, gatewayPort: gw, apiPort: api });
  try {
    const r = await n.api('GET', '/v1/cluster');
    const body = r.body as { leader: string; members: { id: string; zone: string }[] };
    assert.equal(body.leader, 'envnode');
    assert.equal(body.members[0]?.zone, 'zz');
  } finally {
    await n.stop();
  }
});

test('apps put/get, token and push work from the command line', async () => {
  const api = node.apiUrl;
  const put = await cli(['apps', 'put', 'cliapp', '--api-key', 'cli-api-key-0123456789', '--token-secret', 'cli-token-secret-0123456789', '--admin-token', node.adminToken, '--api', api]);
  assert.equal(put.code, 0, put.stderr + put.stdout);
  const get = await cli(['apps', 'get', 'cliapp', '--admin-token', node.adminToken, '--api', api, '--json']);
  assert.equal(get.code, 0);
  const cfg = JSON.parse(get.stdout) as { app: string; apiKey: string };
  assert.equal(cfg.app, 'cliapp');
  assert.equal(cfg.apiKey, '<redacted>');
  const tok = await cli(['token', '--app', 'cliapp', '--secret', 'cli-token-secret-0123456789', '--user', 'carol']);
  assert.equal(tok.code, 0);
  const s = await TestSocket.open(node.wsUrl);
  await s.hello('d');
  assert.equal((await s.bind('cliapp', tok.stdout.trim())).t, 'bound');
  const push = await cli(['push', '--app', 'cliapp', '--key', 'cli-api-key-0123456789', '--user', 'carol', '--data', '{"from":"cli"}', '--api', api, '--json']);
  assert.equal(push.code, 0, push.stderr + push.stdout);
  assert.equal((JSON.parse(push.stdout) as { results: { seq: number }[] }).results[0]?.seq, 1);
  const m = await s.nextOfType('msg');
  assert.deepEqual(m.data, { from: 'cli' });
  s.close();
  const denied = await cli(['apps', 'get', 'cliapp', '--admin-token', 'wrong', '--api', api, '--json']);
  assert.equal(denied.code, 1);
  assert.match(denied.stdout, /unauthorized/);
});
