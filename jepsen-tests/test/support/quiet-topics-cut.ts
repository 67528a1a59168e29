// A node cut off from the others (iptables, as the partition nemesis does)
// while topics get their last pubs, and no later pub comes to show it the
// hole: once the cut heals, its subscriber must still get each topic's newest
// pub, on the connection it kept. The owners send it again
// (node/src/topic-resends.ts), and, the cut having outlasted their interest
// records of the node (10 s), answer its next interest sync with each
// topic's newest offset (node/src/topic-interest.ts); with `restartOwners`
// the owners restart during the cut, so only the second can. The last pubs
// are made once the owners' links to the node are lost (their first calls
// timed out): a call on a lost link waits for a new dial, which fails under
// the cut, so those pubs are never written to a socket. (Pubs written to a
// socket before its link was dropped still arrive once the cut heals: the
// kernel goes on sending what a closed socket had queued.)
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeeperCluster } from '../../cluster/keeper-cluster.js';
import { Partitioner, partitionsAvailable } from '../../nemesis/partition.js';
import { ADMIN_TOKEN, API_KEY, APP, TOKEN_SECRET, createApp } from '../../workload/jepsen-app.js';
import { TopicSubscriber } from '../../workload/topic-subscriber.js';

/** After the first pubs of the cut: their calls time out (10 s) and the owners drop their links to the cut-off node. */
const LAST_PUBS_AT_MS = 12_500;
/** After the last pubs' calls failed with the dial made for them (at most 5 s): then the cut heals. */
const CUT_MS = 19_500;
/** Topics over the three owners: those owned by the cut-off node cannot publish meanwhile; the others can. */
const TOPICS = Array.from({ length: 9 }, (_, i) => `quiet-${i}`);
/** Before the last pubs: publishes made in the first moments of a cut were seen to cross it (see the note below). */
const SETTLE_MS = 1000;
/** With the owners restarted in it: two starts more. */
const RESTARTED_CUT_MS = CUT_MS + 10_000;
/** Owners resend every 2 s, members sync every 2 s; a catch-up read follows. */
const CAUGHT_UP_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ms: number, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${ms} ms`);
    await sleep(100);
  }
}

export async function quietTopicsCut(o: { readonly restartOwners: boolean }): Promise<void> {
  const avail = partitionsAvailable();
  assert.ok(avail.ok, `partitions need root and iptables: ${avail.ok ? '' : avail.why}`);
  const dir = await mkdtemp(join(tmpdir(), 'longwire-quiet-cut-'));
  const cluster = new KeeperCluster({ dir, count: 3, adminToken: ADMIN_TOKEN, ownUids: true, extraArgs: [] });
  await cluster.create();
  const partitioner = new Partitioner(cluster.nodes.map((n, i) => ({ id: n.spec.id, host: KeeperCluster.hostFor(i), uid: n.spec.uid ?? 0 })));
  const [n1, , n3] = cluster.nodes;
  assert.ok(n1 !== undefined && n3 !== undefined);
  const sub = new TopicSubscriber({ name: 'quiet-reader', app: APP, tokenSecret: TOKEN_SECRET, topics: TOPICS, url: () => n3.wsUrl });
  try {
    partitioner.setup();
    await cluster.start();
    await createApp(cluster.nodes);
    /** Publishes through n1, repeating a 503 (no leader, or an owner not ready) for up to `ms`; the offset, or undefined. */
    const publish = async (topic: string, v: string, ms: number, answerMs = 3000): Promise<number | undefined> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const r = await fetch(`${cluster.node(n1.spec.id).apiUrl}/v1/apps/${APP}/topics/${topic}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ data: { v } }),
          signal: AbortSignal.timeout(answerMs),
        }).catch(() => undefined);
        if (r?.status === 200) return ((await r.json()) as { offset: number }).offset;
        if (Date.now() > deadline) return undefined;
        await sleep(100);
      }
    };
    sub.start();
    // Each topic once before the cut, until the subscriber on n3 has it: it is subscribed to all.
    const before = new Map<string, number>();
    for (const t of TOPICS) {
      const offset = await publish(t, `${t}-before`, 20_000);
      assert.ok(offset !== undefined, `publish to ${t} before the cut`);
      before.set(t, offset);
    }
    await until('the subscriber on n3 to get every topic', 20_000, () => TOPICS.every((t) => sub.lastOf(t) >= (before.get(t) ?? 0)));

    partitioner.split([n3.spec.id], cluster.nodes.filter((n) => n !== n3).map((n) => n.spec.id));
    const cutAt = Date.now();
    await sleep(SETTLE_MS);
    // A pub per topic, which the owners' links to n3 cannot deliver before their calls time out; those n3 owns are refused.
    const first = new Map<string, number>();
    for (const t of TOPICS) {
      // One owned by n3 is forwarded there and gets no answer: given up after a second.
      const offset = await publish(t, `${t}-first`, 300, 1000);
      if (offset !== undefined) first.set(t, offset);
    }
    assert.ok(first.size > 0, 'no topic is owned by n1 or n2');
    await sleep(Math.max(0, cutAt + LAST_PUBS_AT_MS - Date.now()));
    // Each topic's last pub, on links that are down now.
    const last = new Map<string, number>();
    for (const t of first.keys()) {
      const offset = await publish(t, `${t}-last`, 300);
      if (offset !== undefined) last.set(t, offset);
    }
    assert.ok(last.size > 0, 'no last pub was answered');
    if (o.restartOwners) {
      // Their resends (owed to n3) go with them; n3 stays cut off meanwhile. One at a time: the two keep a quorum.
      for (const n of cluster.nodes.filter((x) => x.spec.id !== n3.spec.id).map((x) => x.spec.id)) {
        await cluster.node(n).stop();
        await cluster.startNode(n);
      }
    }
    await sleep(Math.max(0, cutAt + (o.restartOwners ? RESTARTED_CUT_MS : CUT_MS) - Date.now()));
    const across = [...last].filter(([t, offset]) => sub.lastOf(t) >= offset);
    assert.equal(across.length, 0, `n3 got last pubs across the cut: ${JSON.stringify(across)} (published ${JSON.stringify([...last])}, before ${JSON.stringify([...before])})`);
    partitioner.heal();

    const connection = sub.connections;
    await until(`the subscriber on n3 to get each topic's newest pub (${JSON.stringify(Object.fromEntries(last))})`, CAUGHT_UP_MS, () =>
      [...last].every(([t, offset]) => sub.lastOf(t) >= offset),
    );
    assert.equal(sub.connections, connection, 'on the connection it had through the cut (a new one would read the history)');
    assert.equal(connection, 1, 'the subscriber stayed on its first connection');
  } finally {
    sub.stop();
    partitioner.heal();
    await cluster.stopAll();
    partitioner.teardown();
    await rm(dir, { recursive: true, force: true });
  }
}
