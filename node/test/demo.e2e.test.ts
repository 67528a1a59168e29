// `npm start` (longwire demo): it prints working keys, a push that works, and
// a client snippet whose SDK calls deliver the pushed message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { CLI, freePort, tempDir } from './support/node-process.js';
import { within } from './support/contract.js';
import { createClient, type LongwireClient } from '../../client/src/index.js';

/** Bound on the bind and the stored message's delivery, generous for a loaded machine. */
const BIND_WAIT_MS = 20_000;

/** SIGTERM, and SIGKILL if the demo is not gone within 10 s; returns at once if it already exited. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await within(exited, 10_000, 'the demo exiting on SIGTERM').catch(() => {
    child.kill('SIGKILL');
    return exited;
  });
}

test('the demo prints keys, a working curl push and a working client snippet', async () => {
  const dir = await tempDir();
  const gw = await freePort();
  const api = await freePort();
  const child = spawn(process.execPath, [CLI, 'demo', '--data-dir', dir, '--gateway', `127.0.0.1:${gw}`, '--api', `127.0.0.1:${api}`, '--peer', `127.0.0.1:${await freePort()}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let c: LongwireClient | undefined;
  try {
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!out.includes('Ctrl-C') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /Ctrl-C/, `the demo printed its instructions\n${out}\n${err}`);
    const apiKey = /apiKey\s+(\S+)/.exec(out)?.[1];
    const token = /token for user "alice".*\n\s+(\S+)/.exec(out)?.[1];
    assert.ok(apiKey !== undefined && token !== undefined, out);
    assert.match(out, new RegExp(`curl -s -X POST http://127\\.0\\.0\\.1:${api}/v1/apps/demo/push`));
    assert.match(out, /createClient\(\{ dispatchUrl: 'http:\/\/127\.0\.0\.1:\d+', device: 'laptop', getToken/);
    // The printed curl, as fetch.
    const r = await fetch(`http://127.0.0.1:${api}/v1/apps/demo/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ users: ['alice'], data: { hello: 'world' } }),
    });
    assert.equal(r.status, 200);
    // The printed client snippet.
    const client = createClient({ dispatchUrl: `http://127.0.0.1:${gw}`, device: 'laptop', getToken: () => token });
    c = client;
    const message = new Promise<unknown>((resolve, reject) => {
      client.bind('demo', (m) => resolve(m.data)).catch(reject);
    });
    const got = await within(message, BIND_WAIT_MS, 'a message through the client snippet').catch((e: unknown) => assert.fail(`${String(e)}\n${err}`));
    assert.deepEqual(got, { hello: 'world' });
  } finally {
    c?.close();
    await stop(child);
    await rm(dir, { recursive: true, force: true });
  }
});
