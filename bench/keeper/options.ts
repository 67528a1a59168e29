// Command-line options of `npm run bench:keeper`.
import { parseArgs } from 'node:util';
import { SYSTEMS, type System } from './system.js';

export interface Options {
  readonly quick: boolean;
  /** Issue #5's spec run: 3 members, puts at 1 / 64 / 256 in flight, gets at 64, watch latency, leader kills. */
  readonly spec: boolean;
  /** Spec run: the in-flight counts of the put phases. */
  readonly putConcurrencies: readonly number[];
  /** Spec run: leader kills per system, each on a freshly started cluster. */
  readonly kills: number;
  /** Where longwire's node processes write V8 CPU profiles (every thread), if set. */
  readonly cpuProf: string | undefined;
  /** Operations per load phase (puts, reads): the count bound. */
  readonly ops: number;
  /** The time bound of one load phase, seconds. */
  readonly seconds: number;
  /** Operations in flight, the same for every system. */
  readonly concurrency: number;
  readonly valueBytes: number;
  /** Distinct keys the puts and reads go to. */
  readonly keys: number;
  readonly watchers: number;
  readonly watchRounds: number;
  /** Cluster sizes to run, in order. */
  readonly nodes: readonly (1 | 3)[];
  readonly systems: readonly System[];
  /** Rounds per cluster size; each starts every system afresh, in a rotated order. */
  readonly rounds: number;
  readonly json: string;
  /** How the load reaches longwire: its keeper wire (the keeper client's default) or its HTTP API. */
  readonly longwireTransport: 'wire' | 'http';
  /** How the load reaches etcd: its JSON gateway (HTTP/1.1, the same client code as longwire's HTTP) or gRPC (@grpc/grpc-js). */
  readonly etcdProtocol: 'gateway' | 'grpc';
}

export const USAGE = `usage: npm run bench:keeper -- [--spec] [--quick] [--ops N] [--seconds S] [--concurrency C] [--value-size B] [--keys K]
                             [--watchers N] [--watch-rounds R] [--nodes 1|3] [--systems longwire,etcd,zookeeper] [--rounds R] [--json FILE]
                             [--kills K] [--cpu-prof DIR] [--longwire wire|http] [--etcd gateway|grpc]
  --spec             issue #5's run: 3 members, 100-byte values, puts at 1, 64 and 256 in flight, linearizable gets at 64,
                     watch latency (1 watcher), K leader kills (kill -9) per system timed to the next write, ratios against the targets;
                     defaults 1 round, 10 s (or 500,000 ops) per phase after a warm-up until the rate settles (quick: 3 s, 2 kills)
  --kills K          spec run: leader kills per system, each on a fresh cluster (default 5; quick 2)
  --cpu-prof DIR     longwire's node processes run with --cpu-prof into DIR (one profile per thread)
  --quick            ~1 min: 1 round, 2,000 ops or 5 s per phase, 16 watchers x 20 puts
  --ops N            operations per put / read phase (default 20,000; spec 500,000; quick 2,000); every phase is measured
                     after unmeasured load until three 1 s slices are within 10% of their mean (at most 20 s; quick: 2 s)
  --seconds S        time bound per put / read phase (default 20; quick 5)
  --concurrency C    operations in flight, every system (default 32)
  --value-size B     value bytes (default 256)
  --keys K           distinct keys (default 1,000)
  --watchers N       watchers in the fan-out phase (default 64; quick 16)
  --watch-rounds R   puts observed by all watchers, per round (default 100; quick 20)
  --nodes 1|3        one cluster size only (default: 1, then 3)
  --systems LIST     a subset, comma-separated (default all three)
  --rounds R         rounds per cluster size, the systems' order rotating (default 3; quick 1)
  --json FILE        JSON output (default .bench-out/keeper.json)
  --longwire T       longwire's client path: wire (default; the keeper client's: one WebSocket per member, MessagePack
                     calls batched per turn) or http (PUT/GET /v1/kv, one undici keep-alive pool per member)
  --etcd P           etcd's client path: gateway (default; v3 JSON gateway over HTTP/1.1, the same client code as longwire's
                     http) or grpc (@grpc/grpc-js, one channel per member; its client costs this machine's shared cores
                     ~3x the gateway's CPU per put, so etcd runs slower here through it)`;

/** Issue #5: puts at 1, 64 and 256 in flight. */
const SPEC_PUT_CONCURRENCIES = [1, 64, 256] as const;

function int(name: string, v: string | undefined, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} needs an integer in [${min}, ${max}], got ${v}\n${USAGE}`);
  return n;
}

/** A flag that takes one of `allowed`, the first by default. */
function choice<T extends string>(name: string, v: string | undefined, allowed: readonly [T, ...T[]]): T {
  if (v === undefined) return allowed[0];
  const found = allowed.find((a) => a === v);
  if (found === undefined) throw new Error(`--${name} takes ${allowed.join(' or ')}, got ${v}\n${USAGE}`);
  return found;
}

const FLAGS = {
  quick: { type: 'boolean', default: false },
  spec: { type: 'boolean', default: false },
  kills: { type: 'string' },
  'cpu-prof': { type: 'string' },
  ops: { type: 'string' },
  seconds: { type: 'string' },
  concurrency: { type: 'string' },
  'value-size': { type: 'string' },
  keys: { type: 'string' },
  watchers: { type: 'string' },
  'watch-rounds': { type: 'string' },
  nodes: { type: 'string' },
  systems: { type: 'string' },
  rounds: { type: 'string' },
  json: { type: 'string' },
  longwire: { type: 'string' },
  etcd: { type: 'string' },
} as const;

/** node:util parseArgs, with the usage appended to its complaints (unknown flag, missing value). */
function parseArgsOrUsage(argv: readonly string[]): ReturnType<typeof parseArgs<{ args: string[]; options: typeof FLAGS; strict: true }>> {
  try {
    return parseArgs({ args: [...argv], options: FLAGS, strict: true });
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  }
}

export function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgsOrUsage(argv);
  const quick = values.quick === true;
  const spec = values.spec === true;
  let nodes: (1 | 3)[] = spec ? [3] : [1, 3];
  if (values.nodes !== undefined) {
    if (values.nodes !== '1' && values.nodes !== '3') throw new Error(`--nodes must be 1 or 3, got ${values.nodes}\n${USAGE}`);
    nodes = [values.nodes === '1' ? 1 : 3];
  }
  let systems: System[] = [...SYSTEMS];
  if (values.systems !== undefined) {
    const asked = values.systems.split(',').map((s) => s.trim());
    const unknown = asked.filter((s) => !(SYSTEMS as readonly string[]).includes(s));
    if (unknown.length > 0 || asked.length === 0) throw new Error(`--systems takes ${SYSTEMS.join(', ')}; got ${values.systems}\n${USAGE}`);
    systems = SYSTEMS.filter((s) => asked.includes(s));
  }
  return {
    quick,
    spec,
    putConcurrencies: SPEC_PUT_CONCURRENCIES,
    kills: int('kills', values.kills, quick ? 2 : 5, 0, 50),
    cpuProf: values['cpu-prof'],
    // A spec phase runs its 10 s: at a settled rate 20,000 puts took 2 s.
    ops: int('ops', values.ops, quick ? 2000 : spec ? 500_000 : 20_000, 1, 10_000_000),
    seconds: int('seconds', values.seconds, quick ? (spec ? 3 : 5) : spec ? 10 : 20, 1, 600),
    // The spec run's get phase runs at 64 in flight.
    concurrency: int('concurrency', values.concurrency, spec ? 64 : 32, 1, 1024),
    valueBytes: int('value-size', values['value-size'], spec ? 100 : 256, 16, 64 * 1024),
    keys: int('keys', values.keys, 1000, 1, 100_000),
    watchers: int('watchers', values.watchers, spec ? 1 : quick ? 16 : 64, 1, 1000),
    watchRounds: int('watch-rounds', values['watch-rounds'], quick ? 20 : 100, 1, 10_000),
    nodes,
    systems,
    rounds: int('rounds', values.rounds, quick || spec ? 1 : 3, 1, 20),
    json: values.json ?? (spec ? '.bench-out/keeper-spec.json' : '.bench-out/keeper.json'),
    longwireTransport: choice('longwire', values.longwire, ['wire', 'http'] as const),
    etcdProtocol: choice('etcd', values.etcd, ['gateway', 'grpc'] as const),
  };
}

/** How each system was reached in this run. */
export function protocolNotes(o: Pick<Options, 'longwireTransport' | 'etcdProtocol'>): string[] {
  return [
    o.longwireTransport === 'wire'
      ? 'longwire: its keeper wire (the keeper client\'s path: one WebSocket per member, MessagePack calls, a turn\'s calls in one message), admin token'
      : 'longwire: its HTTP API (PUT/GET /v1/kv, JSON) over HTTP/1.1, one undici keep-alive pool per member, admin token',
    o.etcdProtocol === 'grpc'
      ? 'etcd: gRPC (@grpc/grpc-js, one channel per member; its client CPU per put is ~3x the gateway\'s here, on the same shared cores)'
      : 'etcd: its v3 JSON gRPC-gateway (base64 keys and values) over HTTP/1.1, one undici keep-alive pool per member (faster here than gRPC from Node: --etcd grpc)',
    'ZooKeeper: its binary TCP protocol (node-zookeeper-client, pure JS, one session per worker)',
  ];
}
