// Network partitions between nodes on one machine, with iptables DROP rules
// in two chains of our own (one jumped to from INPUT, one from OUTPUT: the
// owner match is valid only on the output path), so the run only ever touches
// rules it added, and removes the chains at the end, also when the run fails
// or is interrupted.
//
// Each node listens on its own loopback address. Two rules cut a → b:
//   INPUT  -s <a> -d <b> -j DROP                 packets that carry a's address
//   OUTPUT -m owner --uid-owner <uid a> -d <b>   packets a's process sends to b
// The second is needed because on loopback the kernel picks 127.0.0.1 as the
// source of an outgoing connection unless the socket binds its local address
// (the Raft peer link does not), so a source-address rule alone matches
// nothing. Each node therefore runs under its own uid.
// The owner match misses a socket its process has closed: the kernel still
// sends (and retransmits) what it had queued, with no owner. So every
// connection a node opens is marked with its uid when it starts (CONNMARK, in
// a third chain of our own that runs first on the output path), and a cut
// also drops the packets of a's connections to b, both ways:
//   OUTPUT -m connmark --mark <uid a> -d <b>     a's connections, towards b
//   OUTPUT -m connmark --mark <uid a> -s <b>     b's answers on them
import { execFileSync } from 'node:child_process';

export interface PartitionNode {
  readonly id: string;
  readonly host: string;
  readonly uid: number;
}

const IPTABLES = 'iptables';
/** iptables refuses longer chain names. */
const CHAIN_CHARS_MAX = 28;
/** Jumps to our chain removed per built-in chain at teardown (setup adds one). */
const JUMPS_MAX = 8;

function ipt(args: readonly string[]): void {
  execFileSync(IPTABLES, ['-w', '5', ...args], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

function iptOk(args: readonly string[]): boolean {
  try {
    ipt(args);
    return true;
  } catch {
    return false;
  }
}

/** Whether this process can add iptables rules (root and iptables installed). Why not, otherwise. */
export function partitionsAvailable(): { ok: true } | { ok: false; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not root: iptables rules need root' };
  try {
    execFileSync(IPTABLES, ['--version'], { stdio: 'ignore', timeout: 5000 });
  } catch {
    return { ok: false, why: 'iptables is not installed (apt-get install iptables)' };
  }
  return iptOk(['-S', 'INPUT']) ? { ok: true } : { ok: false, why: 'iptables cannot list INPUT (no CAP_NET_ADMIN?)' };
}

/** The nemeses that cut the network, of either workload. */
const PARTITION_NEMESES: ReadonlySet<string> = new Set(['partition', 'long-partition']);

/**
 * The nemeses a run can use: the partition ones only when `available` (root
 * and iptables); `partitions` says whether it cuts the network at all.
 */
export function usableNemeses<K extends string>(asked: ReadonlySet<K>, available: boolean): { nemeses: Set<K>; partitions: boolean } {
  const partitions = available && [...asked].some((k) => PARTITION_NEMESES.has(k));
  return { nemeses: new Set([...asked].filter((k) => partitions || !PARTITION_NEMESES.has(k))), partitions };
}

export class Partitioner {
  /** Our chain on the input path (address rules). */
  readonly chainIn: string;
  /** Our chain on the output path (owner rules). */
  readonly chainOut: string;
  /** Our chain that marks each node's new connections with its uid, before chainOut. */
  readonly chainMark: string;
  private installed = false;
  /** The directed cuts in force, as "a>b". */
  private readonly cuts = new Set<string>();
  private readonly onExit = (): void => this.teardown();

  constructor(private readonly nodes: readonly PartitionNode[]) {
    this.chainIn = `LONGWIRE_JEPSEN_IN_${process.pid}`.slice(0, CHAIN_CHARS_MAX);
    this.chainOut = `LONGWIRE_JEPSEN_OUT_${process.pid}`.slice(0, CHAIN_CHARS_MAX);
    this.chainMark = `LONGWIRE_JEPSEN_MARK_${process.pid}`.slice(0, CHAIN_CHARS_MAX);
  }

  /** Creates the chains and the jumps to them. */
  setup(): void {
    this.teardown();
    this.installed = true;
    process.once('exit', this.onExit);
    ipt(['-N', this.chainIn]);
    ipt(['-N', this.chainOut]);
    ipt(['-N', this.chainMark]);
    for (const n of this.nodes) ipt(['-A', this.chainMark, '-m', 'owner', '--uid-owner', String(n.uid), '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'CONNMARK', '--set-mark', String(n.uid)]);
    ipt(['-I', 'INPUT', '-j', this.chainIn]);
    ipt(['-I', 'OUTPUT', '-j', this.chainOut]);
    // Inserted last, so first: a connection's mark is set before any cut looks at it.
    ipt(['-I', 'OUTPUT', '-j', this.chainMark]);
  }

  private node(id: string): PartitionNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`partition: unknown node ${id}`);
    return n;
  }

  private cutOne(from: string, to: string): void {
    if (this.cuts.has(`${from}>${to}`)) return;
    const a = this.node(from);
    const b = this.node(to);
    ipt(['-A', this.chainIn, '-s', a.host, '-d', b.host, '-j', 'DROP']);
    ipt(['-A', this.chainOut, '-m', 'owner', '--uid-owner', String(a.uid), '-d', b.host, '-j', 'DROP']);
    ipt(['-A', this.chainOut, '-m', 'connmark', '--mark', String(a.uid), '-d', b.host, '-j', 'DROP']);
    ipt(['-A', this.chainOut, '-m', 'connmark', '--mark', String(a.uid), '-s', b.host, '-j', 'DROP']);
    this.cuts.add(`${from}>${to}`);
  }

  /** Cuts every link between two groups, both ways. Nodes in neither group keep all their links. */
  split(left: readonly string[], right: readonly string[]): void {
    if (!this.installed) throw new Error('partition: setup() first');
    for (const a of left) {
      for (const b of right) {
        this.cutOne(a, b);
        this.cutOne(b, a);
      }
    }
  }

  /** Removes every cut; the chains stay for the next partition. */
  heal(): void {
    if (!this.installed) return;
    ipt(['-F', this.chainIn]);
    ipt(['-F', this.chainOut]);
    this.cuts.clear();
  }

  /** The cuts in force, for the log. */
  describe(): string {
    return [...this.cuts].sort().join(' ') || 'none';
  }

  /** Removes the jumps and the chains. Safe to call twice, and from an 'exit' handler (synchronous). */
  teardown(): void {
    process.removeListener('exit', this.onExit);
    // Each pass removes one jump; setup adds one per chain, so a few passes are plenty.
    for (let i = 0; i < JUMPS_MAX && iptOk(['-D', 'INPUT', '-j', this.chainIn]); i++);
    for (let i = 0; i < JUMPS_MAX && iptOk(['-D', 'OUTPUT', '-j', this.chainOut]); i++);
    for (let i = 0; i < JUMPS_MAX && iptOk(['-D', 'OUTPUT', '-j', this.chainMark]); i++);
    for (const c of [this.chainIn, this.chainOut, this.chainMark]) {
      iptOk(['-F', c]);
      iptOk(['-X', c]);
    }
    this.installed = false;
    this.cuts.clear();
  }
}
