// A cluster of real `longwire start` processes for the keeper workload: each
// node on its own loopback address (127.a.b.i, so partitions can cut links
// between addresses), ports picked free, data dirs in the run's directory.
// The first node bootstraps; the others join it with --join (only on their
// first start: a restarted node rejoins from its data dir). With `ownUids`
// each node runs under its own uid so iptables can match its packets by
// owner (see nemesis/partition.ts).
import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { LongwireProcess, type LongwireNodeSpec } from './longwire-process.js';

export interface KeeperClusterOptions {
  readonly dir: string;
  readonly count: number;
  readonly adminToken: string;
  readonly ownUids: boolean;
  /** More `longwire start` flags for every node (e.g. --fsync). */
  readonly extraArgs?: readonly string[];
}

/**
 * Whether the node embeds the Raft keeper (so --join works and a multi-node
 * cluster is possible): the compiled node imports keeper/src/raft-keeper.js.
 */
export function raftKeeperLanded(): boolean {
  try {
    return readFileSync(fileURLToPath(new URL('../../node/src/node.js', import.meta.url)), 'utf8').includes('raft-keeper.js');
  } catch {
    return false;
  }
}

/** First uid handed to nodes when `ownUids`; offset per run so concurrent runs do not share uids. */
const UID_BASE = 47_000;

export class KeeperCluster {
  readonly nodes: LongwireProcess[] = [];
  private readonly firstStart = new Set<string>();
  /** The API a node joins through on its next first start, when not the first node's (set by rejoin). */
  private readonly joinVia = new Map<string, string>();

  constructor(private readonly o: KeeperClusterOptions) {}

  /** 127.<a>.<b>.<i+1>, distinct per process id so concurrent runs do not share addresses. */
  static hostFor(i: number): string {
    const pid = process.pid;
    return `127.${10 + (pid % 200)}.${(pid >>> 8) % 250}.${i + 1}`;
  }

  get ids(): string[] {
    return this.nodes.map((n) => n.spec.id);
  }

  node(id: string): LongwireProcess {
    const n = this.nodes.find((x) => x.spec.id === id);
    if (n === undefined) throw new Error(`unknown node ${id}`);
    return n;
  }

  /** Port probes per node before giving up on finding three distinct free ports. */
  private static readonly PORT_TRIES_MAX = 50;

  /**
   * Three distinct free ports on `host`. Probing 127.0.0.1 (freePort) is not
   * enough: the node binds its own address, and ports probed one after
   * another can come back equal (seen: EADDRINUSE at start).
   */
  private static async portsOn(host: string): Promise<[number, number, number]> {
    const got = new Set<number>();
    for (let i = 0; i < KeeperCluster.PORT_TRIES_MAX && got.size < 3; i++) {
      const servers: ReturnType<typeof createServer>[] = [];
      // Hold all three open at once so the kernel cannot hand the same port out twice.
      try {
        for (let k = 0; k < 3; k++) {
          const s = createServer();
          servers.push(s);
          await new Promise<void>((resolve, reject) => {
            s.once('error', reject);
            s.listen(0, host, () => resolve());
          });
          const a = s.address();
          if (typeof a === 'object' && a !== null) got.add(a.port);
        }
      } catch {
        got.clear();
      } finally {
        await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      }
      if (got.size < 3) got.clear();
    }
    const [a, b, c] = [...got];
    if (a === undefined || b === undefined || c === undefined) throw new Error(`no three free ports on ${host}`);
    return [a, b, c];
  }

  async create(): Promise<void> {
    const uidBase = UID_BASE + (process.pid % 1000) * 10;
    for (let i = 0; i < this.o.count; i++) {
      const id = `n${i + 1}`;
      const dataDir = join(this.o.dir, id);
      await mkdir(dataDir, { recursive: true });
      const uid = this.o.ownUids ? uidBase + i : undefined;
      if (uid !== undefined) {
        await chmod(this.o.dir, 0o755);
        await chown(dataDir, uid, uid);
      }
      const host = KeeperCluster.hostFor(i);
      const [gatewayPort, apiPort, peerPort] = await KeeperCluster.portsOn(host);
      const spec: LongwireNodeSpec = {
        id,
        dataDir,
        host,
        gatewayPort,
        apiPort,
        peerPort,
        adminToken: this.o.adminToken,
        // Info logs for the report (a later --log-level wins over LongwireProcess's warn). Peers run in dev
        // mode (no --cluster-secret): this build does not take it yet, and loopback needs no authentication.
        extraArgs: ['--log-level', 'info', ...(this.o.extraArgs ?? [])],
        ...(uid === undefined ? {} : { uid, gid: uid }),
      };
      this.nodes.push(new LongwireProcess(spec));
      this.firstStart.add(id);
    }
  }

  /** Starts every node: the first bootstraps, the others join it one at a time. */
  async start(): Promise<void> {
    for (const n of this.nodes) await this.startNode(n.spec.id);
  }

  async startNode(id: string): Promise<void> {
    const idx = this.nodes.findIndex((x) => x.spec.id === id);
    const old = this.nodes[idx];
    const first = this.nodes[0];
    if (old === undefined || first === undefined) throw new Error(`unknown node ${id}`);
    if (old.running) return;
    const via = this.joinVia.get(id) ?? (idx > 0 ? first.apiUrl : undefined);
    const join = via !== undefined && this.firstStart.has(id) ? ['--join', via] : [];
    // A fresh process object per start, so --join is given only once; the log carries over.
    const next = new LongwireProcess({ ...old.spec, extraArgs: [...baseArgs(old.spec), ...join] });
    next.log = old.log + (old.log === '' ? '' : `\n===== restart ${id} =====\n`);
    this.nodes[idx] = next;
    await next.start();
    this.firstStart.delete(id);
    this.joinVia.delete(id);
  }

  /**
   * Stops `id`, wipes its data dir and starts it again with --join through
   * `viaId`, as an operator replaces a member after removing it. Until that
   * start succeeds, any later start of `id` joins again (an empty data dir
   * started without --join would bootstrap a cluster of its own).
   */
  async rejoin(id: string, viaId: string): Promise<void> {
    const n = this.node(id);
    await n.stop().catch(() => n.kill9());
    await rm(n.spec.dataDir, { recursive: true, force: true });
    await mkdir(n.spec.dataDir, { recursive: true });
    if (n.spec.uid !== undefined) await chown(n.spec.dataDir, n.spec.uid, n.spec.uid);
    this.firstStart.add(id);
    this.joinVia.set(id, this.node(viaId).apiUrl);
    n.log += `\n===== ${id}: data dir wiped, joining through ${viaId} =====\n`;
    await this.startNode(id);
  }

  /**
   * Each running, unpaused node's view of the leader (GET /v1/cluster), and
   * the leader of the highest term any of them reports.
   */
  async leader(timeoutMs: number): Promise<{ leader: string | undefined; term: number; views: string }> {
    const views = await Promise.all(
      this.nodes.map(async (n) => {
        if (!n.running || n.paused) return { id: n.spec.id, leader: undefined, term: -1 };
        try {
          const res = await fetch(`${n.apiUrl}/v1/cluster`, { headers: { authorization: `Bearer ${this.o.adminToken}` }, signal: AbortSignal.timeout(timeoutMs) });
          if (res.status !== 200) return { id: n.spec.id, leader: undefined, term: -1 };
          const b = (await res.json()) as { leader?: unknown; term?: unknown };
          return { id: n.spec.id, leader: typeof b.leader === 'string' ? b.leader : undefined, term: typeof b.term === 'number' ? b.term : -1 };
        } catch {
          return { id: n.spec.id, leader: undefined, term: -1 };
        }
      }),
    );
    let best: { leader: string | undefined; term: number } = { leader: undefined, term: -1 };
    for (const v of views) if (v.leader !== undefined && v.term > best.term) best = v;
    return { leader: best.leader, term: best.term, views: views.map((v) => `${v.id}:${v.term < 0 ? '-' : `${v.leader ?? '?'}@${v.term}`}`).join(' ') };
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop().catch(() => n.kill9())));
  }
}

function baseArgs(spec: LongwireNodeSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < spec.extraArgs.length; i++) {
    const a = spec.extraArgs[i];
    if (a === '--join') {
      i++;
      continue;
    }
    if (a !== undefined) out.push(a);
  }
  return out;
}
