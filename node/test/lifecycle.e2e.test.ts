// Graceful shutdown of a real node process: SIGTERM tells connected clients to
// reconnect elsewhere (`redirect`, then close 4009), flushes and exits 0, and a
// qos 1 message answered just before the signal is delivered after a restart.
// A second SIGTERM while the node still waits for a client exits at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { rm } from 'node:fs/promises';
import { NodeProcess, tempDir } from './support/node-process.js';
import { TestSocket, createApp } from './support/ws-client.js';
import { isRecord, obj, openBound, roundTrip } from './support/contract.js';

function exitOf(node: NodeProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return Promise.resolve({ code: node.child.exitCode, signal: node.child.signalCode });
  return new Promise((resolve) => node.child.once('exit', (code, signal) => resolve({ code, signal })));
}

test('SIGTERM: clients get redirect and close 4009, the node exits 0; an answered message survives the restart and an acked one is not sent again', async () => {
  const dataDir = await tempDir();
  let node = await NodeProcess.start({ dataDir });
  try {
    const app = await createApp(node, 'life');
    const { s } = await openBound(node, app, 'online-device', 'online-user');
    const push = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: ['offline-user'], data: { keep: 'me' } } });
    assert.equal(push.status, 200, JSON.stringify(push.body));
    const seq = obj((obj(push.body).results as unknown[])[0]).seq;
    assert.equal(seq, 1);
    // The online device acks its message just before the signal: the drain must write that cursor.
    const acked = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: ['online-user'], data: { n: 1 } } });
    assert.equal(acked.status, 200);
    const first = await s.nextOfType('msg');
    assert.equal(first.seq, 1);
    s.send({ t: 'ack', app: app.app, seq: 1 });
    await roundTrip(s);

    const exited = exitOf(node);
    process.kill(node.pid, 'SIGTERM');
    const redirect = await s.nextOfType('redirect');
    assert.equal(redirect.reason, 'shutdown');
    assert.deepEqual(redirect.nodes, [], 'a one-node cluster has no other member to name');
    const closed = await s.closed;
    assert.equal(closed.code, 4009);
    const exit = await exited;
    assert.deepEqual(exit, { code: 0, signal: null }, node.stderr);

    node = await NodeProcess.start({ dataDir });
    const again = await openBound(node, app, 'offline-device', 'offline-user');
    const m = await again.s.nextOfType('msg');
    assert.equal(m.seq, 1);
    assert.ok(isRecord(m.data) && m.data.keep === 'me', JSON.stringify(m));
    again.s.ws.close();

    const back = await openBound(node, app, 'online-device', 'online-user');
    assert.equal(back.bound.seq, 1);
    const next = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: ['online-user'], data: { n: 2 } } });
    assert.equal(next.status, 200);
    const m2 = await back.s.nextOfType('msg');
    assert.equal(m2.seq, 2, `the acked seq 1 came again: ${JSON.stringify(m2)}`);
    back.s.ws.close();
  } finally {
    await node.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a second SIGTERM exits at once (status 1) while the first still waits for a client to close', async () => {
  const node = await NodeProcess.start();
  try {
    // A raw WebSocket that never answers the server's close frame, so the drain has to wait for it.
    const sock = connect(node.gatewayPort, '127.0.0.1');
    const key = Buffer.from('0123456789abcdef').toString('base64');
    sock.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: longwire.v1.json\r\n\r\n`,
    );
    let received = '';
    const saw = (needle: string): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (received.includes(needle)) {
            sock.off('data', onData);
            resolve();
          }
        };
        const onData = (d: Buffer): void => {
          received += d.toString('latin1');
          check();
        };
        sock.on('data', onData);
        check();
      });
    await saw('101 Switching Protocols');
    // Proof the node holds the connection: it is counted before the signal.
    const stats = obj((await node.api('GET', '/v1/stats')).body);
    assert.equal(stats.connections, 1);

    const exited = exitOf(node);
    process.kill(node.pid, 'SIGTERM');
    await saw('"t":"redirect"');
    process.kill(node.pid, 'SIGTERM');
    const exit = await exited;
    assert.deepEqual(exit, { code: 1, signal: null }, node.stderr);
    sock.destroy();
  } finally {
    await node.stop();
  }
});

test('SIGTERM also redirects a connection that has not sent hello yet', async () => {
  const node = await NodeProcess.start();
  try {
    const s = await TestSocket.open(node.wsUrl);
    const exited = exitOf(node);
    process.kill(node.pid, 'SIGTERM');
    assert.equal((await s.nextOfType('redirect')).reason, 'shutdown');
    assert.equal((await s.closed).code, 4009);
    assert.equal((await exited).code, 0);
  } finally {
    await node.stop();
  }
});
