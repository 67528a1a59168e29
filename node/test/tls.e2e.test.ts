// TLS on the client and API ports of a real node: wss:// and https:// with a
// custom CA, the dispatcher answering wss:// URLs, plain HTTP refused, and a
// certificate reload on SIGHUP that new connections see while an open
// connection keeps working; the SDK and the keeper client (its wire on wss://)
// trusting the CA through NODE_EXTRA_CA_CERTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { servedSerial } from './support/served-serial.js';
import { createCa, createNodeCert } from '../src/certs.js';
import { NodeProcess, tempDir } from './support/node-process.js';
import { TestSocket, createApp, token } from './support/ws-client.js';
import { eventually, obj } from './support/contract.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** dist/node/test → dist/client/src/index.js: the SDK as an app developer imports it. */
const SDK = fileURLToPath(new URL('../../client/src/index.js', import.meta.url));

test('wss:// and https:// with a custom CA; the dispatcher answers wss://; SIGHUP reloads the certificate and keeps open connections', async () => {
  const dir = await tempDir('longwire-tls-');
  const ca = await createCa();
  const first = await createNodeCert(ca, 'n1', ['127.0.0.1']);
  const certFile = join(dir, 'n1.pem');
  const keyFile = join(dir, 'n1-key.pem');
  await writeFile(certFile, first.cert);
  await writeFile(keyFile, first.key);
  const n = await NodeProcess.start({ args: ['--tls-cert', certFile, '--tls-key', keyFile], tlsCa: ca.cert });
  try {
    assert.match(n.apiUrl, /^https:/);
    // Plain HTTP on the TLS port gets no answer from the API.
    const plain = await fetch(`http://127.0.0.1:${n.apiPort}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    assert.notEqual(plain, 200);
    // A client that does not trust the CA is refused by its own TLS check.
    await assert.rejects(fetch(`${n.apiUrl}/healthz`));

    const app = await createApp(n, 'tlsapp');
    const dispatch = obj(await (await n.fetch(`${n.gatewayUrl}/v1/dispatch?app=tlsapp&user=u1`)).json());
    const nodes = dispatch.nodes as { url: string }[];
    assert.equal(nodes[0]?.url, `wss://127.0.0.1:${n.gatewayPort}/ws`);

    const s = await TestSocket.open(nodes[0]?.url ?? '', 'json', { ca: ca.cert });
    await s.hello('d1');
    assert.equal((await s.bind('tlsapp', await token('tlsapp', app.tokenSecret, 'u1'))).t, 'bound');
    const push = async (data: string): Promise<void> => {
      const r = await n.api('POST', '/v1/apps/tlsapp/push', { token: app.apiKey, body: { users: ['u1'], data } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    await push('before');
    assert.equal((await s.nextOfType('msg')).data, 'before');
    // A broadcast is written pre-framed straight to the TLS socket (ws-frame.ts).
    const b = await n.api('POST', '/v1/apps/tlsapp/broadcast', { token: app.apiKey, body: { data: { all: 'over wss' }, ttl: 60 } });
    assert.equal(b.status, 202, JSON.stringify(b.body));
    assert.deepEqual((await s.nextOfType('msg')).data, { all: 'over wss' });

    const before = await servedSerial(n.gatewayPort, ca.cert);
    assert.equal(before, new (await import('node:crypto')).X509Certificate(first.cert).serialNumber);
    const second = await createNodeCert(ca, 'n1', ['127.0.0.1']);
    await writeFile(certFile, second.cert);
    await writeFile(keyFile, second.key);
    process.kill(n.pid, 'SIGHUP');
    const secondSerial = new (await import('node:crypto')).X509Certificate(second.cert).serialNumber;
    await eventually(async () => ((await servedSerial(n.gatewayPort, ca.cert)) === secondSerial ? true : undefined), 'gateway serves the new certificate');
    await eventually(async () => ((await servedSerial(n.apiPort, ca.cert)) === secondSerial ? true : undefined), 'API serves the new certificate');

    // The connection opened under the old certificate is still served.
    await push('after');
    assert.equal((await s.nextOfType('msg')).data, 'after');
    // A broken pair on the next SIGHUP is refused; the node keeps serving the good one.
    await writeFile(keyFile, 'not a key');
    process.kill(n.pid, 'SIGHUP');
    await eventually(async () => (n.logs.includes('TLS reload failed') ? true : undefined), 'the failed reload is logged');
    assert.equal(await servedSerial(n.gatewayPort, ca.cert), secondSerial);
    s.close();
  } finally {
    await n.stop();
  }
});

test('a node refuses to start with a TLS key that does not match its certificate', async () => {
  const dir = await tempDir('longwire-tls-');
  const ca = await createCa();
  const a = await createNodeCert(ca, 'n1', ['127.0.0.1']);
  const b = await createNodeCert(ca, 'n1', ['127.0.0.1']);
  await writeFile(join(dir, 'cert.pem'), a.cert);
  await writeFile(join(dir, 'key.pem'), b.key);
  await assert.rejects(
    NodeProcess.start({ args: ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')], tlsCa: ca.cert }),
    /key values mismatch|cert\.pem/,
  );
});

/** A node serving TLS with a certificate of a fresh CA, whose PEM is `dir`/ca.pem (for NODE_EXTRA_CA_CERTS). */
async function tlsNode(): Promise<{ dir: string; n: NodeProcess }> {
  const dir = await tempDir('longwire-tls-');
  const ca = await createCa();
  const pair = await createNodeCert(ca, 'n1', ['127.0.0.1']);
  await writeFile(join(dir, 'n1.pem'), pair.cert);
  await writeFile(join(dir, 'n1-key.pem'), pair.key);
  await writeFile(join(dir, 'ca.pem'), ca.cert);
  return { dir, n: await NodeProcess.start({ args: ['--tls-cert', join(dir, 'n1.pem'), '--tls-key', join(dir, 'n1-key.pem')], tlsCa: ca.cert }) };
}

test('the Node client SDK connects through an https dispatcher to wss:// with the CA given by NODE_EXTRA_CA_CERTS', async () => {
  const { dir, n } = await tlsNode();
  try {
    const app = await createApp(n, 'sdk');
    const jwt = await token('sdk', app.tokenSecret, 'alice');
    // A separate process: NODE_EXTRA_CA_CERTS is read at process start, as an app would set it.
    const script = `
      const { createClient } = await import(${JSON.stringify(SDK)});
      const c = createClient({ dispatchUrl: ${JSON.stringify(n.gatewayUrl)}, device: 'laptop', getToken: () => ${JSON.stringify(jwt)} });
      await c.bind('sdk', (m) => { console.log(JSON.stringify(m.data)); setTimeout(() => process.exit(0), 50); });
      console.log('bound');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    try {
      await eventually(async () => (out.includes('bound') ? true : undefined), `the SDK binds over wss (stderr: ${err})`, 200, 50);
      const r = await n.api('POST', '/v1/apps/sdk/push', { token: app.apiKey, body: { users: ['alice'], data: { over: 'wss' } } });
      assert.equal(r.status, 200);
      assert.equal(await exited, 0, err);
      assert.match(out, /\{"over":"wss"\}/);
    } finally {
      child.kill('SIGKILL');
    }
  } finally {
    await n.stop();
  }
});

/** dist/node/test → dist/keeper/src/keeper-client.js: the keeper client as a service imports it. */
const KEEPER_CLIENT = fileURLToPath(new URL('../../keeper/src/keeper-client.js', import.meta.url));

test('the keeper client speaks the keeper wire over wss:// with the CA given by NODE_EXTRA_CA_CERTS, and its idle connection lets the process exit', async () => {
  const { dir, n } = await tlsNode();
  try {
    // No close() and no exit(): the process ends when nothing is left to do.
    const script = `
      const { KeeperClient } = await import(${JSON.stringify(KEEPER_CLIENT)});
      const k = new KeeperClient({ endpoints: [${JSON.stringify(n.apiUrl)}], adminToken: ${JSON.stringify(n.adminToken)} });
      await k.put('/tls/a', 'over-wss');
      const lease = await k.leaseGrant(30);
      console.log(JSON.stringify({ value: (await k.get('/tls/a')).kvs[0].value, ttl: lease.ttl }));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => {
      child.once('exit', r);
      setTimeout(() => {
        child.kill('SIGKILL');
      }, 20_000).unref();
    });
    assert.equal(code, 0, `exited by itself (stderr: ${err})`);
    assert.deepEqual(JSON.parse(out), { value: 'over-wss', ttl: 30 });
    const metrics = String((await n.api('GET', '/metrics', { token: null })).body);
    for (const op of ['put', 'range', 'leaseGrant']) assert.match(metrics, new RegExp(`longwire_keeper_wire_calls_total\\{op="${op}"\\} 1\\b`), `${op} went over the wire`);
  } finally {
    await n.stop();
  }
});
