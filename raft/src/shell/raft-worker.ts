/**
 * Worker-thread entry: hosts one Raft member (storage, transport, shell and
 * the application's state machine) on its own heap and event loop, so that
 * a busy gateway thread cannot starve heartbeats. Talks to RaftWorkerHost.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { assert } from '../assert.js';
import { RawNode } from '../raw-node.js';
import { SeededRng } from '../rng.js';
import { LevelStorage } from '../storage/level-storage.js';
import { TcpTransport } from '../transport/tcp-transport.js';
import { RaftShell } from './raft-shell.js';
import type { CreateStateMachine, HostToWorker, RaftWorkerConfig, WorkerToHost } from './worker-protocol.js';

function hostPort(): MessagePort {
  assert(parentPort !== null, 'raft-worker.js must run in a worker thread');
  return parentPort;
}
const port = hostPort();
const cfg = workerData as RaftWorkerConfig;
const post = (m: WorkerToHost): void => port.postMessage(m);

async function main(): Promise<void> {
  const mod = (await import(cfg.stateMachineModule)) as { createStateMachine?: CreateStateMachine };
  assert(typeof mod.createStateMachine === 'function', `${cfg.stateMachineModule} must export createStateMachine`);
  const stateMachine = mod.createStateMachine((event) => post({ type: 'event', event }));
  const storage = await LevelStorage.open(cfg.dataDir);
  if (cfg.bootstrap !== undefined && storage.memory.lastIndex() === 0 && storage.memory.snapshot().meta.confState.voters.length === 0) {
    await storage.bootstrap(cfg.bootstrap);
  }
  const node = new RawNode({
    id: cfg.id,
    storage: storage.memory,
    rng: new SeededRng(cfg.seed),
    electionTicks: cfg.electionTicks,
    heartbeatTicks: cfg.heartbeatTicks,
    applied: storage.memory.snapshot().meta.index,
  });
  let shell: RaftShell | undefined;
  const { transport, port: bound } = await TcpTransport.start({
    selfId: cfg.id,
    listen: cfg.listen,
    rng: new SeededRng(cfg.seed + 1),
    onMessage: (m) => shell?.step(m),
    onUnreachable: (peer) => node.reportUnreachable(peer),
    onDisconnected: (peer) => shell?.reportDisconnected(peer),
  });
  for (const [peer, addr] of cfg.peers) transport.setPeer(peer, addr);
  shell = new RaftShell({
    node,
    storage,
    transport,
    stateMachine,
    tickMs: cfg.tickMs,
    snapshotEntries: cfg.snapshotEntries,
    compactionKeepEntries: cfg.compactionKeepEntries,
    metrics: {
      persistSeconds: (s) => post({ type: 'metric', name: 'longwire_raft_persist_duration_seconds', value: s }),
      tickLagSeconds: (s) => post({ type: 'metric', name: 'longwire_raft_tick_lag_seconds', value: s }),
      softState: (ss) => post({ type: 'soft-state', lead: ss.lead, state: ss.state }),
    },
    onReadState: (rs) => post({ type: 'read-state', index: rs.index, context: rs.context }),
    onFatal: (err) => post({ type: 'fatal', message: err instanceof Error ? err.message : String(err) }),
  });
  const s = shell;
  port.on('message', (m: HostToWorker) => {
    switch (m.type) {
      case 'propose':
        post({ type: 'result', req: m.req, result: s.propose(m.data) });
        break;
      case 'propose-conf-change':
        post({ type: 'result', req: m.req, result: s.proposeConfChange(m.cc) });
        break;
      case 'read-index':
        post({ type: 'result', req: m.req, result: s.readIndex(m.context) });
        break;
      case 'transfer-leader':
        post({ type: 'result', req: m.req, result: s.transferLeader(m.to) });
        break;
      case 'campaign':
        post({ type: 'result', req: m.req, result: s.campaign() });
        break;
      case 'set-peer':
        transport.setPeer(m.peer, m.addr);
        break;
      case 'stop':
        void (async () => {
          await s.stop();
          await transport.close();
          await storage.close();
          post({ type: 'stopped', req: m.req });
          port.close();
        })();
        break;
    }
  });
  s.start();
  post({ type: 'started', port: bound });
}

main().catch((err: unknown) => post({ type: 'fatal', message: err instanceof Error ? err.message : String(err) }));
