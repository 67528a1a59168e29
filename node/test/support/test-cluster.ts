// A cluster of real `longwire` processes for the membership tests (drain,
// join, crash mid-drain): nodes by id, restarted on their kept data dir and
// ports, and the steps those tests share — waiting for voters and for join
// moves to finish, pushing, binding a device, reading qos 1 messages in order.
import assert from 'node:assert/strict';
import { NodeProcess, type ApiResponse } from './node-process.js';
import { TestSocket, token, type Frame, type TestApp } from './ws-client.js';
import { eventually, isRecord, obj, roundTrip, unless503 } from './contract.js';
import type { Answered } from './answered.js';

export interface ClusterView {
  leader: string | null;
  members: { id: string; role: string; healthy: boolean }[];
}

/** GET /v1/cluster on `n`, or undefined when it does not answer 200. */
export async function clusterView(n: NodeProcess): Promise<ClusterView | undefined> {
  const r = await n.api('GET', '/v1/cluster').catch(() => undefined);
  return r?.status === 200 ? (obj(r.body) as unknown as ClusterView) : undefined;
}

/**
 * Until the leader `via` names sees itself the leader and every voter healthy
 * (heard from within 300 ms: what a removal's quorum check counts).
 */
export async function leaderSeesVotersHealthy(via: NodeProcess, nodeOf: (id: string) => NodeProcess | undefined): Promise<ClusterView> {
  return eventually(
    async () => {
      const leader = (await clusterView(via))?.leader;
      const ln = leader === null || leader === undefined ? undefined : nodeOf(leader);
      const lv = ln === undefined ? undefined : await clusterView(ln);
      return lv !== undefined && lv.leader === leader && lv.members.every((m) => m.role !== 'voter' || m.healthy) ? lv : undefined;
    },
    `every voter healthy in the leader's view (asked ${via.apiUrl})`,
    undefined,
    100,
  );
}

/**
 * A removal refusal docs/PROTOCOL.md gives as passing, answered before
 * anything changes: 409 `conflict` because the leader has not heard from
 * enough voters within 300 ms ("would leave N healthy of M voters", which a
 * loaded machine triggers), or because a membership change is still in
 * progress (one at a time); and 503 `not-ready` (no leader to take the
 * call, or the drain not done within its timeout) or 504 `timeout` (a keeper
 * write of the drain lost in a leader change): "repeat the call".
 */
export function passingRemovalRefusal(r: ApiResponse): boolean {
  const e = isRecord(r.body) && isRecord(r.body.error) ? r.body.error : undefined;
  if (r.status === 503) return e?.code === 'not-ready';
  if (r.status === 504) return e?.code === 'timeout';
  if (r.status !== 409 || e?.code !== 'conflict' || typeof e.message !== 'string') return false;
  return /would leave \d+ healthy of \d+ voters/.test(e.message) || e.message === 'a membership change is in progress';
}

/** How long a removal expected to go through is repeated on passing refusals. */
export const REMOVAL_REPEAT_MS = 60_000;

/** The last answer to a removal, and the passing refusals before it. */
export type RemovalAnswer = ApiResponse & { readonly refused: readonly string[] };

/**
 * DELETE /v1/cluster/members/`id` through `asker`, for a removal the test
 * expects to go through: repeated while it answers a passing refusal
 * (passingRemovalRefusal), after a 409 once the leader sees every voter
 * healthy again, for up to REMOVAL_REPEAT_MS. Answers the last answer (the
 * caller asserts it); any other answer ends it at once.
 */
export async function removeMember(asker: NodeProcess, id: string, nodeOf: (id: string) => NodeProcess | undefined, query = ''): Promise<RemovalAnswer> {
  const until = Date.now() + REMOVAL_REPEAT_MS;
  const refused: string[] = [];
  for (;;) {
    const r = await asker.api('DELETE', `/v1/cluster/members/${id}${query}`);
    if (!passingRemovalRefusal(r) || Date.now() >= until) return { ...r, refused };
    refused.push(`${r.status} ${JSON.stringify(r.body)}`);
    if (r.status === 409) await leaderSeesVotersHealthy(asker, nodeOf);
    else await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** What TestCluster.close() stops before the nodes (a pusher that would go on pushing). */
export interface Stoppable {
  stop(): Promise<void> | void;
}

export class TestCluster {
  private readonly nodes = new Map<string, NodeProcess>();
  private readonly kept = new Map<string, { dataDir: string; apiPort: number; gatewayPort: number; peerPort: number }>();
  /** Starts not settled yet: close() waits for them, so no node outlives the test. */
  private readonly starting = new Set<Promise<unknown>>();
  private readonly helpers: Stoppable[] = [];
  /** The app the push and bind helpers use; set once created. */
  app: TestApp | undefined;

  node(id: string): NodeProcess {
    const n = this.nodes.get(id);
    assert.ok(n !== undefined, `node ${id} is not running`);
    return n;
  }

  /** Whether `id` runs now (started and not killed or stopped since). */
  isRunning(id: string): boolean {
    return this.nodes.has(id);
  }

  running(): NodeProcess[] {
    return [...this.nodes.values()];
  }

  /** Starts a node, on its kept data dir and ports when it ran before. */
  start(id: string, join?: string): Promise<NodeProcess> {
    const k = this.kept.get(id);
    const p = NodeProcess.start({ ...(k ?? {}), args: ['--id', id, ...(join === undefined ? [] : ['--join', join])] }).then((n) => {
      this.nodes.set(id, n);
      if (k === undefined) this.kept.set(id, { dataDir: n.dataDir, apiPort: n.apiPort, gatewayPort: n.gatewayPort, peerPort: n.peerPort });
      return n;
    });
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.starting.add(settled);
    void settled.then(() => this.starting.delete(settled));
    return p;
  }

  /** Stopped by close() before the nodes, also when the test failed. */
  stopOnClose<T extends Stoppable>(helper: T): T {
    this.helpers.push(helper);
    return helper;
  }

  /** DELETE of member `id` through `asker`, repeated on passing refusals (removeMember). */
  removeMember(asker: string, id: string, query = ''): Promise<RemovalAnswer> {
    return removeMember(this.node(asker), id, (x) => this.nodes.get(x), query);
  }

  async kill9(id: string): Promise<void> {
    await this.node(id).kill9();
    this.nodes.delete(id);
  }

  async stop(id: string): Promise<void> {
    await this.node(id).stop({ keepData: true });
    this.nodes.delete(id);
  }

  /**
   * Stops the helpers, waits for starts in progress (a node started but not
   * awaited when the test failed), stops every node and removes the data dirs.
   */
  async close(): Promise<void> {
    for (const h of this.helpers.splice(0)) await Promise.resolve(h.stop()).catch(() => undefined);
    while (this.starting.size > 0) await Promise.all([...this.starting]);
    for (const n of this.nodes.values()) await n.stop({ keepData: true });
    this.nodes.clear();
    const { rm } = await import('node:fs/promises');
    for (const k of this.kept.values()) await rm(k.dataDir, { recursive: true, force: true });
  }

  async view(n: NodeProcess): Promise<ClusterView | undefined> {
    return clusterView(n);
  }

  /** Until `n` sees a leader and `count` healthy voters (eventually's default wait, unless `attempts` tries are named). */
  async voters(n: NodeProcess, count: number, attempts?: number): Promise<ClusterView> {
    return eventually(
      async () => {
        const v = await this.view(n);
        return v !== undefined && v.leader !== null && v.members.filter((m) => m.role === 'voter' && m.healthy).length === count ? v : undefined;
      },
      `${count} healthy voters seen by ${n.apiUrl}`,
      attempts,
      100,
    );
  }

  /** The join records (`/sys/joining/`) `via` sees; a read answered 503 (no leader for now) is repeated. */
  async joinRecords(via: NodeProcess): Promise<unknown[]> {
    const r = await unless503(() => via.api('GET', '/v1/kv/sys/joining/?prefix=true'), `a read of the join records on ${via.apiUrl}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return obj(r.body).kvs as unknown[];
  }

  /**
   * n1, n2 and n3 started and joined one at a time, each a healthy voter as
   * every node sees it, their joins' user moves over; answers n1 and its view.
   */
  async startThree(): Promise<{ n1: NodeProcess; view: ClusterView }> {
    const n1 = await this.start('n1');
    await this.start('n2', n1.apiUrl);
    await this.voters(n1, 2);
    await this.start('n3', n1.apiUrl);
    for (const id of ['n2', 'n3']) await this.voters(this.node(id), 3);
    const view = await this.voters(n1, 3);
    await this.joinsFinished(n1);
    return { n1, view };
  }

  /** Until every join's user move is over: a removal meanwhile is refused (409) by design. */
  async joinsFinished(via: NodeProcess): Promise<void> {
    await eventually(async () => ((await this.joinRecords(via)).length === 0 ? true : undefined), 'join moves finished', undefined, 100);
  }

  private theApp(): TestApp {
    assert.ok(this.app !== undefined, 'no app yet');
    return this.app;
  }

  /** The first node the dispatcher names for the user: its owner. */
  async ownerOf(via: NodeProcess, user: string): Promise<string> {
    const res = await fetch(`${via.gatewayUrl}/v1/dispatch?app=${this.theApp().app}&user=${user}`);
    const first = ((await res.json()) as { nodes: { id: string }[] }).nodes[0];
    assert.ok(first !== undefined);
    return first.id;
  }

  async push(via: string, user: string, data: unknown): Promise<ApiResponse> {
    const app = this.theApp();
    return this.node(via).api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: [user], data } });
  }

  /** Pushes through `via` and records the answered seq; false when it is not answered (an error or a non-200: the caller goes on). */
  async pushAnswered(via: string, user: string, data: number, answered: Answered): Promise<boolean> {
    const r = await this.push(via, user, data).catch(() => undefined);
    if (r?.status !== 200) return false;
    const seq = (obj(r.body).results as { seq: number }[])[0]?.seq;
    assert.ok(typeof seq === 'number', JSON.stringify(r.body));
    answered.record(user, seq, data);
    return true;
  }

  async bindOn(id: string, device: string, user: string): Promise<TestSocket> {
    const app = this.theApp();
    const s = await TestSocket.open(this.node(id).wsUrl);
    await s.hello(device);
    const bound = await s.bind(app.app, await token(app.app, app.tokenSecret, user));
    assert.equal(bound.t, 'bound', JSON.stringify(bound));
    return s;
  }

  /** qos 1 frames up to and including seq `last`, acking each; a gap fails. */
  async receiveUntil(s: TestSocket, last: number): Promise<Frame[]> {
    const got: Frame[] = [];
    for (let seq = 0; seq < last; ) {
      const m = await s.next((f) => f.t === 'gap' || (f.t === 'msg' && f.qos === 1), 20_000);
      assert.equal(m.t, 'msg', `no gap expected: ${JSON.stringify(m)}`);
      got.push(m);
      seq = m.seq as number;
      s.send({ t: 'ack', app: this.theApp().app, seq });
    }
    return got;
  }

  /** Binds `device` of `user` on `id`, takes and acks seqs 1..`n` (nothing else first), and leaves, its cursor written. */
  async ackFirst(id: string, device: string, user: string, n: number): Promise<void> {
    const s = await this.bindOn(id, device, user);
    assert.deepEqual(
      (await this.receiveUntil(s, n)).map((f) => f.seq),
      Array.from({ length: n }, (_, i) => i + 1),
    );
    await roundTrip(s);
    s.close();
    await s.closed;
    await this.offline(this.node(id), user);
  }

  /**
   * Binds `device` of `user` on `id` and checks what it is sent up to the
   * user's last answered seq: it starts at `from`, goes on in order with no
   * gap or repeat, and every answered seq from `from` on comes with its data.
   */
  async expectDelivered(id: string, device: string, user: string, from: number, answered: Answered): Promise<void> {
    const s = await this.bindOn(id, device, user);
    const got = await this.receiveUntil(s, answered.last(user));
    assert.equal(got[0]?.seq, from, `${user}/${device} resumes at ${from}: ${JSON.stringify(got.slice(0, 2))}`);
    for (const [i, f] of got.entries()) assert.equal(f.seq, from + i, `${user}/${device}: in order, no gap, no repeat`);
    const bySeq = new Map(got.map((f) => [f.seq as number, f.data]));
    for (const [seq, data] of answered.of(user)) {
      if (seq >= from) assert.deepEqual(bySeq.get(seq), data, `${user}/${device}: answered seq ${seq} delivered with its data`);
    }
    s.close();
  }

  /** The user's sessions are gone from the register: a closed binding's cursor write is done (it comes first). */
  async offline(via: NodeProcess, user: string): Promise<void> {
    const app = this.theApp();
    await eventually(async () => {
      const r = await via.api('GET', `/v1/apps/${app.app}/users/${user}`, { token: app.apiKey });
      return r.status === 200 && (obj(r.body).sessions as unknown[]).length === 0 ? true : undefined;
    }, `${user} offline`);
  }
}
