// Random command sequences applied to the state machine and to a tiny
// Map-based reference model written independently from the spec (etcd v3
// semantics, leases by deadline, register on leases); results, events and
// the whole state must agree after every step. The same histories check
// that restore(snapshot(s)) is deep-equal to s and keeps applying the same
// way, that every command survives its log encoding, and that a read at a
// past revision (the current state with the watch history's changes undone)
// answers the state of that revision.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCommand, encodeCommand } from '../src/codec.js';
import type { Command, CommandResult } from '../src/command.js';
import type { KeyValue, RegisterOp, TxnCompare, TxnOp, TxnResponse, WatchEvent } from '../src/keeper.js';
import { range } from '../src/kv.js';
import { countAt, rangeAt } from '../src/range-at.js';
import { kvHash } from '../src/kv-hash.js';
import { registeredSessions } from '../src/register.js';
import { restore, snapshot } from '../src/snapshot.js';
import { apply } from '../src/state-machine.js';
import { emptyState } from '../src/state.js';
import { WatchHub } from '../src/watch-hub.js';
import type { KeeperState } from '../src/state.js';
import { Rng, seeds } from './rng.js';

interface ModelKv {
  value: string;
  create: number;
  mod: number;
  version: number;
  lease: string | undefined;
}

interface Expected {
  /** The result's type, or the error code. */
  readonly outcome: string;
  readonly revision: number;
  readonly events: readonly string[];
  /** A transaction's responses, rendered. */
  readonly responses?: readonly string[];
}

class Model {
  revision = 0;
  readonly kv = new Map<string, ModelKv>();
  readonly leases = new Map<string, { ttl: number; deadline: number }>();
  /** "app/user/session" → lease */
  readonly sessions = new Map<string, string>();
  readonly members = new Map<string, 'voter' | 'learner'>();

  step(cmd: Command): Expected {
    const events: string[] = [];
    const same = (outcome: string): Expected => ({ outcome, revision: this.revision, events });
    switch (cmd.type) {
      case 'put': {
        const prev = this.kv.get(cmd.key);
        if (cmd.ifModRevision !== undefined && (prev?.mod ?? 0) !== cmd.ifModRevision) return same('compare-failed');
        if (cmd.lease !== undefined && !this.leases.has(cmd.lease)) return same('lease-not-found');
        this.revision += 1;
        this.kv.set(cmd.key, { value: cmd.value, create: prev?.create ?? this.revision, mod: this.revision, version: (prev?.version ?? 0) + 1, lease: cmd.lease });
        events.push(`put ${cmd.key}=${cmd.value}@${this.revision}`);
        return same('put');
      }
      case 'delete': {
        const keys = [...this.kv.keys()].filter((k) => (cmd.prefix ? k.startsWith(cmd.key) : k === cmd.key)).sort();
        if (keys.length > 0) this.revision += 1;
        for (const k of keys) {
          this.kv.delete(k);
          events.push(`delete ${k}@${this.revision}`);
        }
        return same('delete');
      }
      case 'txn': {
        const holds = cmd.compare.every((c) => {
          const kv = this.kv.get(c.key);
          if (c.target === 'value' && kv === undefined) return false;
          const actual = c.target === 'value' ? kv?.value : kv === undefined ? 0 : { modRevision: kv.mod, createRevision: kv.create, version: kv.version }[c.target];
          if (actual === undefined) return false;
          return { '=': actual === c.value, '!=': actual !== c.value, '<': actual < c.value, '>': actual > c.value }[c.op];
        });
        const ops = holds ? cmd.success : cmd.failure;
        const puts = ops.flatMap((op) => (op.type === 'put' ? [op] : []));
        const putKeys = puts.map((p) => p.key);
        const deletes = ops.flatMap((op) => (op.type === 'delete' ? [op] : []));
        const under = (d: { key: string; prefix: boolean }, k: string): boolean => (d.prefix ? k.startsWith(d.key) : k === d.key);
        if (ops.some((op) => op.key === '') || new Set(putKeys).size !== putKeys.length || deletes.some((d) => putKeys.some((k) => under(d, k)))) return same('invalid');
        if (puts.some((p) => p.lease !== undefined && !this.leases.has(p.lease))) return same('lease-not-found');
        const gone = [...this.kv.keys()].filter((k) => deletes.some((d) => under(d, k)));
        if (puts.length > 0 || gone.length > 0) this.revision += 1;
        // The branch runs in order: a get sees the writes before it.
        const lines: [string, string][] = [];
        const responses: string[] = [];
        for (const op of ops) {
          if (op.type === 'delete') {
            const keys = [...this.kv.keys()].filter((k) => under(op, k));
            for (const k of keys) {
              this.kv.delete(k);
              lines.push([k, `delete ${k}@${this.revision}`]);
            }
            responses.push(`delete ${keys.length}`);
          } else if (op.type === 'put') {
            const prev = this.kv.get(op.key);
            this.kv.set(op.key, { value: op.value, create: prev?.create ?? this.revision, mod: this.revision, version: (prev?.version ?? 0) + 1, lease: op.lease });
            lines.push([op.key, `put ${op.key}=${op.value}@${this.revision}`]);
            responses.push('put');
          } else {
            const found = [...this.kv.entries()].filter(([k]) => under(op, k)).sort(([a], [b]) => (a < b ? -1 : 1));
            const taken = found.slice(0, op.limit ?? Infinity);
            const shown = taken.map(([k, v]) => `${k}=${v.value}@${v.mod}`);
            responses.push(`get ${shown.join(',')}${taken.length < found.length ? ' more' : ''}`);
          }
        }
        events.push(...lines.sort(([a], [b]) => (a < b ? -1 : 1)).map(([, line]) => line));
        return { ...same('txn'), responses };
      }
      case 'leaseGrant':
        if (this.leases.has(cmd.id) || cmd.ttl <= 0) return same('invalid');
        this.leases.set(cmd.id, { ttl: cmd.ttl, deadline: cmd.now + cmd.ttl * 1000 });
        return same('leaseGrant');
      case 'leaseKeepAlive': {
        const l = this.leases.get(cmd.id);
        if (l === undefined) return same('lease-not-found');
        l.deadline = Math.max(l.deadline, cmd.now + l.ttl * 1000);
        return same('leaseKeepAlive');
      }
      case 'leaseRevoke':
        if (!this.leases.has(cmd.id)) return same('lease-not-found');
        this.dropLease(cmd.id, events);
        return same('leaseRevoke');
      case 'leaseExpire': {
        const l = this.leases.get(cmd.id);
        if (l !== undefined && cmd.now >= l.deadline) this.dropLease(cmd.id, events);
        return same('leaseExpire');
      }
      case 'memberAdd':
        if (this.members.has(cmd.member.id)) return same('invalid');
        this.members.set(cmd.member.id, cmd.member.role);
        this.revision += 1;
        return same('memberAdd');
      case 'memberPromote': {
        const role = this.members.get(cmd.id);
        if (role === undefined) return same('member-not-found');
        if (role === 'learner') {
          this.members.set(cmd.id, 'voter');
          this.revision += 1;
        }
        return same('memberPromote');
      }
      case 'memberRemove':
        if (!this.members.delete(cmd.id)) return same('member-not-found');
        this.revision += 1;
        return same('memberRemove');
      case 'registerBatch': {
        if (!this.leases.has(cmd.lease)) return same('lease-not-found');
        let changed = false;
        for (const op of cmd.ops) {
          if (op.op === 'add') {
            this.sessions.set(`${op.session.app}/${op.session.user}/${op.session.session}`, cmd.lease);
            changed = true;
          } else {
            changed = this.sessions.delete(`${op.app}/${op.user}/${op.session}`) || changed;
          }
        }
        if (changed) this.revision += 1;
        return same('registerBatch');
      }
    }
  }

  private dropLease(id: string, events: string[]): void {
    const keys = [...this.kv.entries()].filter(([, v]) => v.lease === id).map(([k]) => k).sort();
    const sessions = [...this.sessions.entries()].filter(([, l]) => l === id).map(([s]) => s);
    if (keys.length + sessions.length > 0) this.revision += 1;
    for (const k of keys) {
      this.kv.delete(k);
      events.push(`delete ${k}@${this.revision}`);
    }
    for (const s of sessions) this.sessions.delete(s);
    this.leases.delete(id);
  }
}

const KEYS = ['a', 'a/1', 'a/2', 'b', 'b/x', 'c'];
const LEASES = ['L1', 'L2', 'L3'];
const MEMBERS = ['n1', 'n2', 'n3'];

function randomCommand(rng: Rng, model: Model, now: number): Command {
  const roll = rng.int(100);
  if (roll < 35) {
    const key = rng.pick(KEYS);
    const current = model.kv.get(key)?.mod ?? 0;
    const cas = rng.int(4);
    return {
      type: 'put',
      key,
      value: `v${rng.int(1000)}`,
      ...(rng.chance(0.25) ? { lease: rng.pick(LEASES) } : {}),
      ...(cas === 0 ? { ifModRevision: current } : cas === 1 ? { ifModRevision: rng.int(model.revision + 2) } : {}),
    };
  }
  if (roll < 45) return { type: 'delete', key: rng.pick(KEYS), prefix: rng.chance(0.4) };
  if (roll < 52) return randomTxn(rng, model);
  if (roll < 55) return { type: 'leaseGrant', id: rng.pick(LEASES), ttl: rng.int(4), now };
  if (roll < 62) return { type: 'leaseKeepAlive', id: rng.pick(LEASES), now };
  if (roll < 67) return { type: 'leaseRevoke', id: rng.pick(LEASES) };
  if (roll < 77) return { type: 'leaseExpire', id: rng.pick(LEASES), now };
  if (roll < 80) {
    const id = rng.pick(MEMBERS);
    return { type: 'memberAdd', member: { id, role: rng.chance(0.5) ? 'voter' : 'learner', peer: `${id}:2`, api: `${id}:1`, gateway: `${id}:0`, zone: rng.pick(['a', 'b']) } };
  }
  if (roll < 82) return { type: 'memberPromote', id: rng.pick(MEMBERS) };
  if (roll < 84) return { type: 'memberRemove', id: rng.pick(MEMBERS) };
  const ops: RegisterOp[] = [];
  for (let i = rng.int(4); i >= 0; i--) {
    const app = rng.pick(['app1', 'app2']);
    const user = rng.pick(['u1', 'u2', 'u3']);
    const session = rng.pick(['s1', 's2', 's3', 's4']);
    ops.push(rng.chance(0.7) ? { op: 'add', session: { app, user, device: `d${rng.int(3)}`, session, node: rng.pick(MEMBERS), since: now } } : { op: 'remove', app, user, session });
  }
  return { type: 'registerBatch', lease: rng.pick(LEASES), ops };
}

function randomTxn(rng: Rng, model: Model): Command {
  const compare = Array.from({ length: rng.int(3) }, (): TxnCompare => {
    const key = rng.pick(KEYS);
    const kv = model.kv.get(key);
    const op = rng.pick(['=', '!=', '<', '>'] as const);
    if (rng.chance(0.3)) return { key, target: 'value', op, value: rng.chance(0.5) && kv !== undefined ? kv.value : `v${rng.int(1000)}` };
    const target = rng.pick(['modRevision', 'createRevision', 'version'] as const);
    const actual = kv === undefined ? 0 : { modRevision: kv.mod, createRevision: kv.create, version: kv.version }[target];
    return { key, target, op, value: Math.max(0, actual + rng.int(3) - 1) };
  });
  const ops = (): TxnOp[] =>
    Array.from({ length: rng.int(4) }, (): TxnOp =>
      rng.chance(0.7)
        ? { type: 'put', key: rng.pick(KEYS), value: `t${rng.int(1000)}`, ...(rng.chance(0.2) ? { lease: rng.pick(LEASES) } : {}) }
        : rng.chance(0.5)
          ? { type: 'delete', key: rng.pick(KEYS), prefix: rng.chance(0.4) }
          : { type: 'get', key: rng.pick(KEYS), prefix: rng.chance(0.5), ...(rng.chance(0.3) ? { limit: 1 + rng.int(2) } : {}), ...(rng.chance(0.3) ? { keysOnly: true } : {}) },
    );
  return { type: 'txn', compare, success: ops(), failure: ops() };
}

function outcome(r: CommandResult): string {
  return r.type === 'error' ? r.code : r.type;
}

function renderResponse(r: TxnResponse): string {
  switch (r.type) {
    case 'put':
      return 'put';
    case 'delete':
      return `delete ${r.deleted}`;
    case 'get':
      return `get ${r.kvs.map((kv) => `${kv.key}=${kv.value}@${kv.modRevision}`).join(',')}${r.more ? ' more' : ''}`;
  }
}

function renderEvents(events: readonly WatchEvent[]): string[] {
  return events.map((e) => (e.type === 'put' ? `put ${e.key}=${e.value}@${e.revision}` : `delete ${e.key}@${e.revision}`));
}

function checkState(state: KeeperState, model: Model, where: string): void {
  assert.equal(state.revision, model.revision, `${where}: revision`);
  const kvs = range(state, '', { prefix: true }).kvs.map((kv) => [kv.key, kv.value, kv.createRevision, kv.modRevision, kv.version, kv.lease]);
  const expected = [...model.kv.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.value, v.create, v.mod, v.version, v.lease]);
  assert.deepEqual(kvs, expected, `${where}: kvs`);
  assert.deepEqual(
    [...state.leases.values()].map((l) => [l.id, l.deadline]).sort(),
    [...model.leases.entries()].map(([id, l]) => [id, l.deadline]).sort(),
    `${where}: leases`,
  );
  const sessions: string[] = [];
  for (const e of registeredSessions(state)) sessions.push(`${e.app}/${e.user}/${e.session}=${e.lease}`);
  assert.deepEqual(sessions.sort(), [...model.sessions.entries()].map(([s, l]) => `${s}=${l}`).sort(), `${where}: sessions`);
  for (const l of state.leases.values()) {
    assert.deepEqual([...l.keys].sort(), [...model.kv.entries()].filter(([, v]) => v.lease === l.id).map(([k]) => k).sort(), `${where}: lease ${l.id} key index`);
  }
  assert.deepEqual(
    [...state.members.values()].map((m) => `${m.id}:${m.role}`).sort(),
    [...model.members.entries()].map(([id, r]) => `${id}:${r}`).sort(),
    `${where}: members`,
  );
}

test('apply agrees with the reference model on random command sequences', () => {
  // How transactions ended, so the generator is seen to reach every case.
  const txns = new Map<string, number>();
  for (const seed of seeds(30)) {
    const rng = new Rng(seed);
    const state = emptyState();
    const model = new Model();
    let now = 0;
    for (let step = 1; step <= 400; step++) {
      now += rng.int(1500);
      const cmd = randomCommand(rng, model, now);
      const where = `SEED=${seed} step ${step} ${JSON.stringify(cmd)}`;
      const { result, events } = apply(state, cmd, step);
      const expected = model.step(cmd);
      const responses = result.type === 'txn' ? { responses: result.responses.map((r) => renderResponse(r)) } : {};
      assert.deepEqual({ outcome: outcome(result), revision: result.revision, events: renderEvents(events), ...responses }, expected, where);
      checkState(state, model, where);
      if (cmd.type === 'txn') {
        const how = result.type === 'txn' ? `${result.succeeded ? 'success' : 'failure'} ${events.length > 0 ? 'writes' : 'no-op'}` : outcome(result);
        txns.set(how, (txns.get(how) ?? 0) + 1);
        if (result.type === 'txn') {
          const firstWrite = result.responses.findIndex((r) => r.type !== 'get');
          const gets = result.responses.flatMap((r, i) => (r.type === 'get' ? [{ r, i }] : []));
          if (gets.some(({ r }) => r.more)) txns.set('a get with more', 1);
          if (firstWrite >= 0 && events.length > 0 && gets.some(({ i }) => i > firstWrite)) txns.set('a get after a write', 1);
        }
      }
    }
  }
  if (process.env['SEED'] === undefined) {
    for (const how of ['success writes', 'failure writes', 'success no-op', 'invalid', 'lease-not-found', 'a get with more', 'a get after a write']) assert.ok((txns.get(how) ?? 0) > 0, `no transaction ended ${how}: ${JSON.stringify([...txns])}`);
  }
});

test('restore(snapshot(s)) is deep-equal to s after random histories, and applies the same from there', () => {
  for (const seed of seeds(30)) {
    const rng = new Rng(seed);
    let state = emptyState();
    const model = new Model();
    let now = 0;
    for (let step = 1; step <= 400; step++) {
      now += rng.int(1500);
      const cmd = randomCommand(rng, model, now);
      model.step(cmd);
      const decoded = decodeCommand(encodeCommand(cmd));
      assert.deepEqual(decoded, cmd, `SEED=${seed} step ${step}: command codec round trip`);
      const twin = restore(snapshot(state));
      assert.deepStrictEqual(twin, state, `SEED=${seed} step ${step}: restore(snapshot(s)) deep-equals s`);
      assert.equal(kvHash(range(twin, '', { prefix: true }).kvs).hash, kvHash(range(state, '', { prefix: true }).kvs).hash, `SEED=${seed} step ${step}: digest`);
      const a = apply(state, decoded, step);
      const b = apply(twin, decoded, step);
      assert.deepStrictEqual(b, a, `SEED=${seed} step ${step}: a restored state applies like the original`);
      assert.deepStrictEqual(twin, state, `SEED=${seed} step ${step}: and stays equal`);
      if (step % 50 === 0) state = twin;
    }
    assert.ok(state.appliedIndex === 400);
  }
});

test('a read at a past revision answers the keys as they were then, back to the start of the watch history', () => {
  let compacted = 0;
  for (const seed of seeds(20)) {
    const rng = new Rng(seed);
    const state = emptyState();
    const model = new Model();
    // A short history, so reads reach its start and it moves on.
    const hub = new WatchHub(0, { watchHistoryEventsMax: 60, schedule: () => undefined });
    /** Every revision's keys: a command advances the revision by at most one. */
    const past = new Map<number, readonly KeyValue[]>([[0, []]]);
    let now = 0;
    for (let step = 1; step <= 300; step++) {
      now += rng.int(1500);
      const cmd = randomCommand(rng, model, now);
      model.step(cmd);
      const { events } = apply(state, cmd, step);
      hub.publish(state.revision, events);
      past.set(state.revision, range(state, '', { prefix: true }).kvs);
      for (let probe = 0; probe < 3; probe++) {
        const at = hub.compactRevision + rng.int(state.revision - hub.compactRevision + 1);
        const then = past.get(at) ?? assert.fail(`no keys recorded at revision ${at}`);
        const prefix = rng.pick(['', 'a', 'a/', 'b', 'c', 'z']);
        const after = rng.chance(0.3) ? rng.pick(KEYS) : undefined;
        const limit = rng.chance(0.5) ? 1 + rng.int(3) : undefined;
        const where = `SEED=${seed} step ${step}: at ${at} (history from ${hub.compactRevision}) prefix ${prefix} after ${after} limit ${limit}`;
        const want = then.filter((kv) => kv.key.startsWith(prefix) && (after === undefined || kv.key > after));
        const later = hub.eventsAfter(at);
        const req = { prefix: true, ...(after === undefined ? {} : { after }), ...(limit === undefined ? {} : { limit }) };
        assert.deepStrictEqual(rangeAt(state, later, prefix, req), { kvs: want.slice(0, limit ?? Infinity), more: want.length > (limit ?? Infinity) }, where);
        assert.equal(countAt(state, later, prefix, req), want.length, where);
        // The digest members compare (GET /v1/keeper/hash) is the one of the keys then.
        assert.equal(kvHash(rangeAt(state, later, '', { prefix: true }).kvs).hash, kvHash(then).hash, where);
        const key = rng.pick(KEYS);
        assert.deepStrictEqual(rangeAt(state, later, key).kvs, then.filter((kv) => kv.key === key), `${where} key ${key}`);
        assert.equal(countAt(state, later, key), then.filter((kv) => kv.key === key).length, `${where} key ${key}`);
      }
    }
    compacted = Math.max(compacted, hub.compactRevision);
  }
  if (process.env['SEED'] === undefined) assert.ok(compacted > 0, 'the history never moved on');
});
