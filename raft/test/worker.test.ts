// Three Raft members, each in its own worker thread, over loopback TCP.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RaftWorkerHost } from '../src/shell/raft-worker-host.js';
import type { NodeId } from '../src/types.js';
import { until } from './helpers/until.js';

const root = mkdtempSync(join(tmpdir(), 'raft-worker-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('members hosted in worker threads elect a leader and apply proposals', async () => {
  const ids: NodeId[] = [1, 2, 3];
  const applied = new Map<NodeId, string[]>(ids.map((id) => [id, []]));
  const roles = new Map<NodeId, string>();
  const hosts = new Map<NodeId, RaftWorkerHost>();
  // Stopped in `finally` (once each: a stopped worker answers no second stop), so a failure cannot leave threads ticking.
  try {
    for (const id of ids) {
      const h = new RaftWorkerHost(
        {
          id,
          dataDir: join(root, `n${id}`),
          listen: { host: '127.0.0.1', port: 0 },
          peers: [],
          bootstrap: { voters: ids, learners: [] },
          tickMs: 20,
          // 1-2 s: a loaded machine's lagging heartbeats must not depose the leader between finding and using it.
          electionTicks: 50,
          heartbeatTicks: 2,
          snapshotEntries: 100,
          compactionKeepEntries: 10,
          seed: id,
          stateMachineModule: new URL('./helpers/list-state-machine.js', import.meta.url).href,
        },
        {
          onEvent: (e) => applied.get(id)!.push((e as { value: string }).value),
          onSoftState: (_lead, state) => roles.set(id, state),
          onFatal: (msg) => assert.fail(`member ${id}: ${msg}`),
        },
      );
      hosts.set(id, h);
    }
    const ports = new Map<NodeId, number>();
    for (const id of ids) ports.set(id, await hosts.get(id)!.port);
    for (const id of ids) for (const p of ids) if (p !== id) hosts.get(id)!.setPeer(p, { host: '127.0.0.1', port: ports.get(p)! });
    await until(() => ids.some((id) => roles.get(id) === 'leader'), 'a leader');
    const lead = ids.find((id) => roles.get(id) === 'leader')!;
    assert.deepEqual(await hosts.get(lead)!.propose(new TextEncoder().encode('w1')), { ok: true });
    await until(() => ids.every((id) => applied.get(id)!.includes('w1')), 'w1 applied everywhere');
  } finally {
    for (const h of hosts.values()) await h.stop();
  }
});
