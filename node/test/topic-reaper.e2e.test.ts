// Idle topics' offset keys leave the keeper (--topic-idle-s), and offsets
// still only grow: a topic whose key went goes on above what it used, a new
// topic starts above every reaped one. On a real node with a 1 s idle time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcess } from './support/node-process.js';
import { createApp } from './support/ws-client.js';
import { eventually, obj } from './support/contract.js';

test('an idle topic key is deleted with the floor raised past it; offsets keep growing; --topic-idle-s 0 keeps the keys', async () => {
  const node = await NodeProcess.start({ args: ['--topic-idle-s', '1'] });
  const keeping = await NodeProcess.start({ args: ['--topic-idle-s', '0'] });
  try {
    const publish = async (n: NodeProcess, app: string, key: string, topic: string): Promise<number> => {
      const r = await n.api('POST', `/v1/apps/${app}/topics/${topic}`, { token: key, body: { data: topic } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return Number(obj(r.body).offset);
    };
    const kv = async (n: NodeProcess, key: string): Promise<string | undefined> => (obj((await n.api('GET', `/v1/kv${key}`)).body).kvs as { value: string }[])[0]?.value;
    const app = await createApp(node, 'reap');
    const first = [await publish(node, app.app, app.apiKey, 'a'), await publish(node, app.app, app.apiKey, 'a'), await publish(node, app.app, app.apiKey, 'a')];
    assert.deepEqual(first, [1, 2, 3]);
    assert.equal(await kv(node, '/sys/topics/reap/a'), '1024', 'a block of 1024 offsets reserved');
    // Checks every 250 ms; the key goes once a check at least 1 s old saw it unchanged.
    await eventually(async () => ((await kv(node, '/sys/topics/reap/a')) === undefined ? true : undefined), 'the idle key deleted', 100, 100);
    assert.equal(await kv(node, '/sys/topics-floor'), '1024', 'the floor raised to the bound it held');
    // The owner goes on inside its block; a new topic starts above the floor.
    assert.equal(await publish(node, app.app, app.apiKey, 'a'), 4);
    assert.equal(await publish(node, app.app, app.apiKey, 'b'), 1025);
    const metrics = await (await fetch(`${node.apiUrl}/metrics`)).text();
    assert.match(metrics, /^longwire_topic_keys_reaped_total [1-9]/m);

    // With 0 the keys stay.
    const kept = await createApp(keeping, 'keep');
    assert.equal(await publish(keeping, kept.app, kept.apiKey, 'a'), 1);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await kv(keeping, '/sys/topics/keep/a'), '1024');
  } finally {
    await node.stop();
    await keeping.stop();
  }
});

test('--topic-idle-s out of range is refused at start', async () => {
  await assert.rejects(NodeProcess.start({ args: ['--topic-idle-s', '-1'] }), /topic-idle-s/);
});
