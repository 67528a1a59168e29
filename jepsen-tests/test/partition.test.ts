// The partition nemesis on real sockets: a cut drops a node's packets to the
// other side whichever source address the kernel picks (owner match on the
// node's uid) and packets that carry the node's own address, leaves nodes
// outside the split alone, heals, and leaves no rule or chain behind.
// Runs in a network namespace of its own when the machine allows, as the
// rounds do: then the rules were never on the host (the test checks the
// namespace is not the host's, and afterwards that the host has no chain of
// the run's). Needs root and iptables (.ci/run installs it); fails clearly
// without them.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { KeeperCluster } from '../cluster/keeper-cluster.js';
import { currentNetns, insideNetns, outerNetns } from '../cluster/netns.js';
import { Partitioner, partitionsAvailable } from '../nemesis/partition.js';
import { isolatedTest } from './support/isolated-test.js';

const CONNECT_TIMEOUT_MS = 700;

function listen(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((c) => c.end());
    s.once('error', reject);
    s.listen(0, host, () => resolve(s));
  });
}

/** Connects from a child process running as `uid`: true when connected within the timeout. */
function connectAs(uid: number, host: string, port: number): Promise<boolean> {
  const script = `const s=require('net').connect(${port},${JSON.stringify(host)});s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(4));setTimeout(()=>process.exit(3),${CONNECT_TIMEOUT_MS});`;
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['-e', script], { uid, gid: uid, stdio: 'ignore' });
    c.once('exit', (code) => resolve(code === 0));
  });
}

/** Connects from this process with `localAddress`: true when connected within the timeout. */
function connectFrom(localAddress: string, host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, CONNECT_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
    s.connect({ port, host, localAddress });
  });
}

/** Long enough for several retransmissions on loopback (the first after about 200 ms). */
const ORPHAN_WAIT_MS = 1500;

/**
 * A connection from a child process running as `uid` to a server on `host`
 * that keeps what it receives; writeAndExit makes the child write and exit
 * once its write reached the kernel, leaving the data to the closed socket.
 */
async function openAs(uid: number, host: string): Promise<{ writeAndExit: () => void; received: () => string }> {
  let got = '';
  const server = createServer((c) => c.on('data', (d: Buffer) => (got += d.toString())));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  const script = `const s=require('net').connect(${port},${JSON.stringify(host)});s.on('connect',()=>process.stdout.write('up\\n'));s.on('error',()=>process.exit(4));process.stdin.once('data',()=>s.end('orphan',()=>process.exit(0)));setTimeout(()=>process.exit(3),20000);`;
  const c = spawn(process.execPath, ['-e', script], { uid, gid: uid, stdio: ['pipe', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    c.stdout.once('data', () => resolve());
    c.once('exit', (code) => reject(new Error(`the child did not connect (exit ${code})`)));
  });
  return {
    writeAndExit: () => c.stdin.write('go\n'),
    received: () => {
      server.close();
      return got;
    },
  };
}

/** The chains a Partitioner of process `pid` makes (see Partitioner's constructor). */
const chainsOf = (pid: number): string[] => [`LONGWIRE_JEPSEN_IN_${pid}`, `LONGWIRE_JEPSEN_OUT_${pid}`, `LONGWIRE_JEPSEN_MARK_${pid}`];

const afterOnHost = (child: { pid: number | undefined }): void => {
  assert.ok(child.pid !== undefined);
  const rules = execFileSync('iptables', ['-S'], { encoding: 'utf8' });
  for (const c of chainsOf(child.pid)) assert.ok(!rules.includes(c), `the namespaced run's chain ${c} is on the host:\n${rules}`);
};

isolatedTest('partition: cut both ways by owner and by address, others untouched, healed, chain removed', { file: import.meta.url, after: afterOnHost }, async () => {
  if (insideNetns()) assert.notEqual(currentNetns(), outerNetns(), 'the run is in the network namespace of the process that started it');
  const avail = partitionsAvailable();
  assert.ok(avail.ok, `partitions need root and iptables: ${avail.ok ? '' : avail.why}`);
  const hosts = [0, 1, 2].map((i) => KeeperCluster.hostFor(i));
  const uids = [0, 1, 2].map((i) => 48_000 + (process.pid % 1000) * 10 + i);
  const [ha, hb, hc] = hosts as [string, string, string];
  const [ua, ub] = uids as [number, number, number];
  const servers = await Promise.all(hosts.map(listen));
  const port = (i: number): number => (servers[i]?.address() as AddressInfo).port;
  const p = new Partitioner(hosts.map((host, i) => ({ id: `n${i + 1}`, host, uid: uids[i] ?? 0 })));
  try {
    p.setup();
    assert.equal(await connectAs(ua, hb, port(1)), true, 'before the cut, a reaches b');
    // A connection a opened before the cut; once cut, a writes on it and exits: the kernel keeps
    // sending the data of the closed socket, which no longer has an owner.
    const orphan = await openAs(ua, hb);
    p.split(['n1'], ['n2']);
    orphan.writeAndExit();
    await new Promise((r) => setTimeout(r, ORPHAN_WAIT_MS));
    assert.equal(orphan.received(), '', "a closed socket's queued data does not cross the cut (connection mark)");
    assert.equal(p.describe(), 'n1>n2 n2>n1');
    assert.deepEqual(chainsOf(process.pid), [p.chainIn, p.chainOut, p.chainMark]);
    assert.equal(await connectAs(ua, hb, port(1)), false, 'a → b is cut (owner match)');
    assert.equal(await connectAs(ub, ha, port(0)), false, 'b → a is cut (owner match)');
    assert.equal(await connectFrom(ha, hb, port(1)), false, 'a → b is cut (source address match)');
    assert.equal(await connectAs(ua, hc, port(2)), true, 'a still reaches c, outside the split');
    assert.equal(await connectFrom(hc, hb, port(1)), true, 'c still reaches b');
    p.heal();
    assert.equal(await connectAs(ua, hb, port(1)), true, 'healed: a reaches b again');
  } finally {
    p.teardown();
    for (const s of servers) s.close();
  }
  const rules = execFileSync('iptables', ['-S'], { encoding: 'utf8' });
  for (const c of [p.chainIn, p.chainOut, p.chainMark]) assert.ok(!rules.includes(c), `chain ${c} left behind:\n${rules}`);
});
