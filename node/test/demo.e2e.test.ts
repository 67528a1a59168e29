// `npm start` (longwire demo): it prints working keys, a push that works, and
// a client snippet whose SDK calls deliver the pushed message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { CLI, freePort, tempDir } from './support/node-process.js';
import { createClient } from '../../client/src/index.js';

test('the demo prints keys, a working curl push and a working client snippet', async () => {
  const dir = await tempDir();
  const gw = await freePort();
  const api = await freePort();
  const child = spawn(process.execPath, [CLI, 'demo', '--data-dir', dir, '--gateway', `127.0.0.1:${gw}`, '--api', `127.0.0.1:${api}`, '--peer', `127.0.0.1:${await freePort()}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!out.includes('Ctrl-C') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /Ctrl-C/, 'the demo printed its instructions');
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
    const c = createClient({ dispatchUrl: `http://127.0.0.1:${gw}`, device: 'laptop', getToken: () => token });
    const got = await new Promise<unknown>((resolve) => {
      void c.bind('demo', (m) => resolve(m.data));
    });
    assert.deepEqual(got, { hello: 'world' });
    c.close();
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
});
