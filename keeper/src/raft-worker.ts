// The keeper's Raft member in a worker thread: the LevelDB log, the RawNode,
// the RaftShell (persist -> send -> apply -> advance) and the TCP transport,
// with their own event loop and heap, so a busy gateway or a long GC pause on
// the main thread does not delay ticks and heartbeats (ARCHITECTURE.md,
// "Consensus off the connection heap"). The state machine stays on the main
// thread: committed entries, snapshots to restore and read states are posted
// to it in order; a snapshot of it is asked for by message.

import { parentPort, workerData } from 'node:worker_threads';
import { randomInt } from 'node:crypto';
import { AuthError, DropReason, LevelStorage, RaftShell, RawNode, SeededRng, TcpTransport } from '../../raft/src/index.js';
import type { Entry, LinkSecurity, Message, NodeId, ShellMetrics } from '../../raft/src/index.js';
import { packEntries } from './packed-entries.js';
import { raftIdOf } from './raft-id.js';
import type { FromWorker, MemberView, ToWorker, WorkerEvent, WorkerInit } from './raft-worker-messages.js';

const port = parentPort;
if (port === null) throw new Error('raft-worker runs in a worker thread');
// Checked by the keeper that starts this worker; structured clone keeps its shape.
const init = workerData as WorkerInit;

function post(m: FromWorker, transfer: readonly ArrayBuffer[] = []): void {
  port?.postMessage(m, transfer);
}

// Events wait for the end of the current task and go as one message; entries
// applied in a row go as one packed buffer among them, in order.
let outbox: WorkerEvent[] = [];
let applying: Entry[] = [];
let flushing = false;
function closeEntries(): void {
  if (applying.length === 0) return;
  outbox.push({ t: 'entries', packed: packEntries(applying) });
  applying = [];
}
function scheduleFlush(): void {
  if (flushing) return;
  flushing = true;
  queueMicrotask(() => {
    flushing = false;
    closeEntries();
    const events = outbox;
    outbox = [];
    const transfer: ArrayBuffer[] = [];
    for (const e of events) if (e.t === 'entries') transfer.push(e.packed);
    post({ t: 'events', events }, transfer);
  });
}
function emit(e: WorkerEvent): void {
  closeEntries();
  outbox.push(e);
  scheduleFlush();
}
function emitApplied(e: Entry): void {
  applying.push(e);
  scheduleFlush();
}

/**
 * Under load (the last Ready persisted 16 entries or more) the next Ready
 * waits init.groupCommitMs (default 1 ms) to gather more: at 256 puts in
 * flight over three members 1 ms halved the Readies (and fsyncs) per put and
 * took 5-9% off the CPU per put; a Ready after one of fewer entries (a put
 * at 1 in flight) does not wait.
 */
const GROUP_COMMIT_MIN_ENTRIES = 16;

const NOT_STARTED = { ok: false, reason: DropReason.NoLeader } as const;
const lastHeard = new Map<NodeId, number>();
let node: RawNode | undefined;
let shell: RaftShell | undefined;
let transport: TcpTransport | undefined;
let snapshotSeq = 0;
const snapshotWaiters = new Map<number, (data: Uint8Array) => void>();
const peers = new Map<NodeId, string>();

function view(): MemberView {
  const n = node;
  if (n === undefined) throw new Error('raft-worker: no member yet');
  const now = performance.now();
  return { status: n.status(), pendingConfIndex: n.raft.pendingConfIndex, heardAgoMs: [...lastHeard].map(([id, at]) => [id, now - at] as const) };
}

function fatal(err: unknown): void {
  post({ t: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}

const storage = await LevelStorage.open(init.dataDir);
const mem = storage.memory;
const empty = mem.lastIndex() === 0 && mem.snapshot().meta.index === 0 && mem.initialState().confState.voters.length === 0;
post({ t: 'opened', empty });

async function start(): Promise<void> {
  const n = (node = new RawNode({
    id: init.raftId,
    storage: storage.memory,
    rng: new SeededRng(randomInt(2 ** 31)),
    applied: storage.memory.snapshot().meta.index,
    electionTicks: init.electionTicks,
    heartbeatTicks: 1,
    checkQuorum: true,
    preVote: true,
    // The leader's fsync overlaps the followers' (thesis §10.2.1).
    leaderSendsBeforePersist: true,
  }));
  const metrics: ShellMetrics = {
    persistSeconds: (s, entries) => emit({ t: 'metric', name: 'persist', value: s, count: entries }),
    appliedEntries: (c) => emit({ t: 'metric', name: 'applied', value: c }),
    tickLagSeconds: (s) => {
      emit({ t: 'metric', name: 'tick-lag', value: s });
      emit({ t: 'view', view: view() });
    },
    snapshotSeconds: (s) => emit({ t: 'metric', name: 'snapshot', value: s }),
    softState: (ss) => {
      emit({ t: 'soft-state', softState: ss });
      emit({ t: 'view', view: view() });
    },
  };
  // The full view goes with ticks and role changes; the commit index, which
  // the keeper compares with what it applied, with every Ready that moved it.
  let commitPosted = n.raft.log.committed;
  const send = (msgs: readonly Message[]): void => {
    transport?.send(msgs);
    for (const m of msgs) if (m.type === 'MsgSnap') queueMicrotask(() => n.reportSnapshot(m.to, true));
    const commit = n.raft.log.committed;
    if (commit !== commitPosted) {
      commitPosted = commit;
      emit({ t: 'commit', commit });
    }
  };
  shell = new RaftShell({
    node: n,
    storage,
    transport: { send },
    stateMachine: {
      restore: (snapshot) => emit({ t: 'restore', snapshot }),
      apply: emitApplied,
      snapshot: () =>
        new Promise<Uint8Array>((resolve) => {
          const id = (snapshotSeq += 1);
          snapshotWaiters.set(id, resolve);
          emit({ t: 'snapshot-request', id });
        }),
    },
    tickMs: init.tickMs,
    snapshotEntries: init.snapshotEntries,
    compactionKeepEntries: init.compactionKeepEntries,
    ...(init.groupCommitMs > 0 ? { linger: { minEntries: GROUP_COMMIT_MIN_ENTRIES, ms: init.groupCommitMs } } : {}),
    metrics,
    onReadState: (rs) => emit({ t: 'read-state', index: rs.index, context: rs.context }),
    onConfChange: (_cc, cs) => {
      // A snapshot that includes the new configuration: a far-behind joiner is refused one without it.
      shell?.requestSnapshot();
      emit({ t: 'conf-state', confState: cs });
    },
    onFatal: fatal,
  });
  transport = (
    await TcpTransport.start({
      selfId: init.raftId,
      listen: init.listen,
      rng: new SeededRng(randomInt(2 ** 31)),
      onMessage: (m) => {
        lastHeard.set(m.from, performance.now());
        shell?.step(m);
      },
      onUnreachable: (id) => n.reportUnreachable(id),
      // A killed leader's links close at once: its followers elect a successor without waiting out the lease.
      onDisconnected: (id) => shell?.reportDisconnected(id),
      onProtocolError: (err, remote) => emit({ t: 'peer-refused', refusal: { auth: err instanceof AuthError, reason: err.message, remote } }),
      security: linkSecurity(),
    })
  ).transport;
  shell.start();
  post({ t: 'started', view: view() });
}

/** The member a certificate names: its CN is the keeper member id. */
function linkSecurity(): LinkSecurity {
  const { tls, secret } = init.security;
  return {
    ...(secret === undefined ? {} : { secret }),
    ...(tls === undefined
      ? {}
      : {
          tls: {
            ...tls,
            peerIdOf: (cert) => {
              const cn = cert.subject?.CN;
              return typeof cn === 'string' && cn !== '' ? raftIdOf(cn) : undefined;
            },
          },
        }),
  };
}

function setPeers(list: readonly (readonly [NodeId, string])[]): void {
  const t = transport;
  if (t === undefined) return;
  const want = new Map(list);
  for (const [id, addr] of want) {
    if (peers.get(id) === addr) continue;
    const i = addr.lastIndexOf(':');
    const p = Number(addr.slice(i + 1));
    if (i <= 0 || !Number.isInteger(p) || p <= 0 || p > 65535) continue;
    t.setPeer(id, { host: addr.slice(0, i), port: p });
    peers.set(id, addr);
  }
  for (const id of [...peers.keys()]) {
    if (want.has(id)) continue;
    t.removePeer(id);
    peers.delete(id);
  }
}

async function stop(): Promise<void> {
  await shell?.stop();
  await transport?.close();
  await storage.close();
  post({ t: 'stopped' });
}

port.on('message', (m: ToWorker) => {
  try {
    switch (m.t) {
      case 'bootstrap':
        storage.bootstrap(m.confState).then(start).catch(fatal);
        return;
      case 'propose':
        emit({ t: 'result', id: m.id, result: shell?.proposeBatch(m.data) ?? NOT_STARTED });
        return;
      case 'read-index':
        emit({ t: 'result', id: m.id, result: shell?.readIndex(m.context) ?? NOT_STARTED });
        return;
      case 'conf-change':
        emit({ t: 'result', id: m.id, result: shell?.proposeConfChange(m.cc) ?? NOT_STARTED });
        return;
      case 'transfer-leader':
        emit({ t: 'result', id: m.id, result: shell?.transferLeader(m.to) ?? NOT_STARTED });
        return;
      case 'campaign':
        shell?.campaign();
        return;
      case 'peers':
        setPeers(m.peers);
        return;
      case 'peer-tls':
        try {
          if (transport === undefined) throw new Error('the member has not started');
          transport.setTls(m.tls);
          emit({ t: 'peer-tls' });
        } catch (err) {
          emit({ t: 'peer-tls', error: err instanceof Error ? err.message : String(err) });
        }
        return;
      case 'snapshot-data': {
        const w = snapshotWaiters.get(m.id);
        snapshotWaiters.delete(m.id);
        w?.(m.data);
        return;
      }
      case 'stop':
        stop().catch(fatal);
        return;
    }
  } catch (err) {
    fatal(err);
  }
});

if (!empty) await start();
