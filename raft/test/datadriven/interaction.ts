import type { ConfChange } from '../../src/confchange.js';
import type { StepResult } from '../../src/errors.js';
import { ReadOnlyOption } from '../../src/read-only.js';
import type { NodeId } from '../../src/types.js';
import { index } from '../../src/types.js';
import { Cluster } from '../helpers/cluster.js';
import type { NodeOptions } from '../helpers/cluster.js';
import { fmtEntry, fmtHardState } from '../helpers/format.js';
import type { Arg, TestCase } from './parse.js';

const enc = new TextEncoder();

function num(s: string | undefined, what: string): number {
  const n = Number(s);
  if (s === undefined || !Number.isSafeInteger(n)) throw new Error(`${what}: expected an integer, got ${s}`);
  return n;
}

function positional(args: readonly Arg[]): string[] {
  return args.filter((a) => a.values.length === 0).map((a) => a.key);
}

function named(args: readonly Arg[], key: string): readonly string[] | undefined {
  return args.find((a) => a.key === key && a.values.length > 0)?.values;
}

function ids(args: readonly Arg[], c: Cluster): NodeId[] {
  const p = positional(args).map((s) => num(s, 'node id'));
  return p.length > 0 ? p : c.ids();
}

function result(r: StepResult): string {
  return r.ok ? 'ok' : `dropped: ${r.reason}`;
}

function nodeOptions(args: readonly Arg[]): NodeOptions {
  const o: { -readonly [K in keyof NodeOptions]: NodeOptions[K] } = {};
  for (const a of args) {
    const v = a.values[0];
    if (v === undefined) continue;
    switch (a.key) {
      case 'check-quorum':
        o.checkQuorum = v === 'true';
        break;
      case 'pre-vote':
        o.preVote = v === 'true';
        break;
      case 'read-only':
        o.readOnlyOption = v === 'lease-based' ? ReadOnlyOption.LeaseBased : ReadOnlyOption.Safe;
        break;
      case 'append-bytes-max':
        o.appendBytesMax = num(v, a.key);
        break;
      case 'uncommitted-bytes-max':
        o.uncommittedBytesMax = num(v, a.key);
        break;
      case 'inflight-msgs-max':
        o.inflightMsgsMax = num(v, a.key);
        break;
      default:
        throw new Error(`unknown option ${a.key}`);
    }
  }
  return o;
}

type Handler = (c: Cluster, args: readonly Arg[]) => void;

/** One handler per command; each writes its output to c.out. */
export const handlers: Readonly<Record<string, Handler>> = {
  'add-nodes': (c, args) => {
    const n = num(positional(args)[0], 'count');
    c.addNodes(n, nodeOptions(args));
  },
  campaign: (c, args) => {
    for (const id of ids(args, c)) c.out.push(result(c.campaign(id)));
  },
  propose: (c, args) => {
    const [id, data] = positional(args);
    c.out.push(result(c.propose(num(id, 'id'), data ?? '')));
  },
  'propose-conf-change': (c, args) => {
    const [id, type, target] = positional(args);
    if (type !== 'add-node' && type !== 'add-learner' && type !== 'remove-node') throw new Error(`bad conf change ${type}`);
    const cc: ConfChange = { type, nodeId: num(target, 'target') };
    c.out.push(result(c.node(num(id, 'id')).rn.proposeConfChange(cc)));
  },
  'transfer-leadership': (c, args) => {
    const from = num(named(args, 'from')?.[0], 'from');
    const to = num(named(args, 'to')?.[0], 'to');
    c.out.push(result(c.node(from).rn.transferLeader(to)));
  },
  'read-index': (c, args) => {
    const [id, ctx] = positional(args);
    c.out.push(result(c.node(num(id, 'id')).rn.readIndex(enc.encode(ctx ?? ''))));
  },
  'process-ready': (c, args) => {
    for (const id of ids(args, c)) {
      c.out.push(`> ${id} handling Ready`);
      if (!c.processReady(id)) c.out.push('  <empty Ready>');
    }
  },
  'deliver-msgs': (c, args) => {
    const drop = (named(args, 'drop') ?? []).map((s) => num(s, 'drop'));
    for (const id of ids(args, c)) c.deliver(id, drop);
  },
  stabilize: (c, args) => {
    c.stabilize(ids(args, c));
  },
  tick: (c, args) => {
    const [id, n] = positional(args);
    c.tick(num(id, 'id'), num(n ?? '1', 'n'));
  },
  'tick-election': (c, args) => {
    for (const id of ids(args, c)) c.tick(id, c.node(id).rn.raft.cfg.electionTicks);
  },
  'tick-heartbeat': (c, args) => {
    for (const id of ids(args, c)) c.tick(id, c.node(id).rn.raft.cfg.heartbeatTicks);
  },
  status: (c, args) => {
    for (const id of ids(args, c)) {
      const r = c.node(id).rn.raft;
      const cs = r.trk.confState();
      c.out.push(
        `${id}: ${r.state} lead=${r.lead} ${fmtHardState(r.hardState())} applied=${r.log.applied} last=${r.log.lastIndex()} voters=(${cs.voters.join(',')}) learners=(${cs.learners.join(',')})`,
      );
      if (r.state === 'leader') {
        for (const pid of r.trk.ids()) c.out.push(`  ${pid}: ${r.trk.progress.get(pid)?.toString() ?? ''}`);
      }
    }
  },
  'raft-log': (c, args) => {
    for (const id of ids(args, c)) {
      const log = c.node(id).rn.raft.log;
      const ents = log.slice(log.firstIndex(), index(log.lastIndex() + 1), Number.MAX_SAFE_INTEGER);
      c.out.push(`${id}: first=${log.firstIndex()} last=${log.lastIndex()} committed=${log.committed}`);
      for (const e of ents) c.out.push(`  ${fmtEntry(e)}`);
    }
  },
  applied: (c, args) => {
    for (const id of ids(args, c)) c.out.push(`${id}: [${c.node(id).applied.join(' ')}]`);
  },
  compact: (c, args) => {
    for (const id of ids(args, c)) {
      c.compact(id);
      c.out.push(`${id}: compacted to ${c.node(id).storage.firstIndex() - 1}`);
    }
  },
  restart: (c, args) => {
    for (const id of ids(args, c)) c.restart(id);
  },
  isolate: (c, args) => {
    for (const id of ids(args, c)) c.isolate(id);
  },
  heal: (c) => {
    c.heal();
  },
  'report-snapshot': (c, args) => {
    const [leader, to] = positional(args);
    c.node(num(leader, 'leader')).rn.reportSnapshot(num(to, 'to'), true);
  },
};

/** Runs one case and returns its output ("ok" if it printed nothing). */
export function run(c: Cluster, tc: TestCase): string {
  const h = handlers[tc.cmd];
  if (h === undefined) throw new Error(`line ${tc.line}: unknown command ${tc.cmd}`);
  c.out = [];
  h(c, tc.args);
  return c.out.length === 0 ? 'ok' : c.out.join('\n');
}
