// Datadriven tests of apply: keeper/testdata/*.txt. Regenerate with UPDATE=1.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command, CommandResult } from '../src/command.js';
import type { RegisterOp, WatchMessage, Watcher } from '../src/keeper.js';
import { countRange, range } from '../src/kv.js';
import { sameRegisterOps, sessionsOf } from '../src/register.js';
import { restore, snapshot } from '../src/snapshot.js';
import { apply } from '../src/state-machine.js';
import { emptyState, kvBytes } from '../src/state.js';
import type { KeeperState } from '../src/state.js';
import { WatchHub } from '../src/watch-hub.js';
import { intArg, pos, runFile, testdataFiles } from './datadriven.js';
import type { Case } from './datadriven.js';

export function renderResult(r: CommandResult): string {
  if (r.type === 'error') return `error ${r.code} rev=${r.revision}: ${r.message}`;
  const { type, ...rest } = r;
  return [type, ...Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`)].join(' ');
}

export function renderMessage(m: WatchMessage): string {
  switch (m.kind) {
    case 'events':
      return `events rev=${m.events[0]?.revision ?? '?'} ${m.events.map((e) => (e.type === 'put' ? `put ${e.key}=${e.value}` : `delete ${e.key}`)).join(', ')}`;
    case 'progress':
      return `progress ${m.revision}`;
    case 'compacted':
      return `compacted ${m.compactRevision}`;
    case 'cancelled':
      return `cancelled ${m.reason} last=${m.lastRevision}`;
  }
}

interface Stream {
  readonly watcher: Watcher;
  /** When set, the listener answers false (buffer full) to the next message. */
  readonly flags: { paused: boolean };
}

/** The quota's count recomputed from scratch: what the incrementally kept kvBytes must equal. */
function bytesOf(state: KeeperState): number {
  let n = 0;
  for (const kv of state.kvs.values()) n += Buffer.byteLength(kv.key) + Buffer.byteLength(kv.value);
  return n;
}

class Script {
  state: KeeperState = emptyState();
  index = 0;
  now = 0;
  hub = new WatchHub(0, { schedule: () => undefined });
  readonly streams = new Map<string, Stream>();
  /** Watch messages delivered during the current command, in order. */
  readonly delivered: string[] = [];

  run(c: Case): string {
    const out = this.handle(c);
    this.hub.flush();
    return [...out, ...this.delivered.splice(0)].join('\n');
  }

  private propose(cmd: Command): string[] {
    this.index += 1;
    const { result, events } = apply(this.state, cmd, this.index);
    this.hub.publish(this.state.revision, events);
    assert.equal(this.state.kvBytes, bytesOf(this.state), `line ${this.index}: kvBytes is the sum over the keys held`);
    return [renderResult(result), ...events.map((e) => `event ${e.type} ${e.key}${e.type === 'put' ? `=${e.value}` : ''} rev=${e.revision}`)];
  }

  private handle(c: Case): string[] {
    switch (c.name) {
      case 'put': {
        const lease = c.args.get('lease');
        const ifModRevision = intArg(c, 'if');
        return this.propose({
          type: 'put',
          key: pos(c, 0),
          value: pos(c, 1),
          ...(lease === undefined ? {} : { lease }),
          ...(ifModRevision === undefined ? {} : { ifModRevision }),
        });
      }
      case 'del':
        return this.propose({ type: 'delete', key: pos(c, 0), prefix: c.positional[1] === 'prefix' });
      case 'get': {
        const after = c.args.get('after');
        const limit = intArg(c, 'limit');
        const unitsMax = intArg(c, 'units');
        const page = range(this.state, pos(c, 0), {
          prefix: c.positional[1] === 'prefix',
          keysOnly: c.positional.includes('keys-only'),
          ...(after === undefined ? {} : { after }),
          ...(limit === undefined ? {} : { limit }),
          ...(unitsMax === undefined ? {} : { unitsMax }),
        });
        const lines = page.kvs.map((kv) => `${kv.key}=${kv.value} create=${kv.createRevision} mod=${kv.modRevision} ver=${kv.version}${kv.lease === undefined ? '' : ` lease=${kv.lease}`}`);
        return [`rev=${this.state.revision}`, ...(lines.length === 0 ? ['(none)'] : lines), ...(page.more ? ['more'] : [])];
      }
      case 'count': {
        const after = c.args.get('after');
        return [`count=${countRange(this.state, pos(c, 0), { prefix: c.positional[1] === 'prefix', ...(after === undefined ? {} : { after }) })}`];
      }
      case 'advance':
        this.now += Number(pos(c, 0));
        return [`now=${this.now}`];
      case 'lease-grant':
        return this.propose({ type: 'leaseGrant', id: c.args.get('id') ?? 'L', ttl: Number(pos(c, 0)), now: this.now });
      case 'lease-keepalive':
        return this.propose({ type: 'leaseKeepAlive', id: pos(c, 0), now: this.now });
      case 'lease-revoke':
        return this.propose({ type: 'leaseRevoke', id: pos(c, 0) });
      case 'lease-expire':
        return this.propose({ type: 'leaseExpire', id: pos(c, 0), now: this.now });
      case 'leases':
        if (this.state.leases.size === 0) return ['(none)'];
        return [...this.state.leases.values()].map(
          (l) => `${l.id} ttl=${l.ttl} deadline=${l.deadline} keys=[${[...l.keys].sort().join(',')}] sessions=${l.sessions.size}`,
        );
      case 'member-add': {
        const id = pos(c, 0);
        const role = c.positional[1] === 'voter' ? 'voter' : 'learner';
        return this.propose({ type: 'memberAdd', member: { id, role, peer: `${id}:7802`, api: `${id}:7801`, gateway: `${id}:7800`, zone: c.args.get('zone') ?? 'default' } });
      }
      case 'member-promote':
        return this.propose({ type: 'memberPromote', id: pos(c, 0) });
      case 'member-remove':
        return this.propose({ type: 'memberRemove', id: pos(c, 0) });
      case 'members':
        return [...this.state.members.values()].map((m) => `${m.id} ${m.role} zone=${m.zone}`);
      case 'register': {
        // register lease=L add=app/user/session@node … remove=app/user/session …
        const ops: RegisterOp[] = [];
        for (const w of c.command.split(/\s+/).slice(1)) {
          const [k, v = ''] = w.split('=');
          const [app = '', user = '', rest = ''] = v.split('/');
          const [session = '', node = 'n1'] = rest.split('@');
          if (k === 'add') ops.push({ op: 'add', session: { app, user, device: `d-${session}`, session, node, since: this.now } });
          if (k === 'remove') ops.push({ op: 'remove', app, user, session });
        }
        return this.propose({ type: 'registerBatch', lease: c.args.get('lease') ?? 'L', ops });
      }
      case 'sessions': {
        const list = sessionsOf(this.state, pos(c, 0), pos(c, 1));
        return list.length === 0 ? ['(none)'] : list.map((s) => `${s.session}@${s.node} device=${s.device} since=${s.since}`);
      }
      case 'state':
        return [
          `index=${this.state.appliedIndex} rev=${this.state.revision} kvs=${this.state.kvs.size} leases=${this.state.leases.size} members=${this.state.members.size} apps=${this.state.register.size}`,
        ];
      case 'snapshot': {
        const bytes = snapshot(this.state);
        assert.deepStrictEqual(restore(bytes), this.state);
        this.state = restore(bytes);
        return ['restored equal'];
      }
      case 'hub': {
        const history = intArg(c, 'history');
        const queue = intArg(c, 'queue');
        this.hub = new WatchHub(this.state.revision, {
          schedule: () => undefined,
          ...(history === undefined ? {} : { watchHistoryEventsMax: history }),
          ...(queue === undefined ? {} : { watcherQueueEventsMax: queue }),
        });
        this.streams.clear();
        return [`hub rev=${this.hub.revision}`];
      }
      case 'watch': {
        const name = c.args.get('name') ?? `w${this.streams.size + 1}`;
        const fromRevision = intArg(c, 'rev');
        const flags = { paused: false };
        const watcher = this.hub.watch({ key: pos(c, 0), prefix: c.positional[1] === 'prefix', ...(fromRevision === undefined ? {} : { fromRevision }) }, (m) => {
          this.delivered.push(`${name}: ${renderMessage(m)}`);
          return !flags.paused;
        });
        this.streams.set(name, { watcher, flags });
        return [`${name} open`];
      }
      case 'pause':
      case 'resume':
      case 'cancel': {
        const s = this.streams.get(pos(c, 0));
        assert.ok(s !== undefined, `line ${c.line}: no stream ${pos(c, 0)}`);
        if (c.name === 'pause') s.flags.paused = true;
        if (c.name === 'resume') {
          s.flags.paused = false;
          s.watcher.resume();
        }
        if (c.name === 'cancel') s.watcher.cancel();
        return [`${{ pause: 'paused', resume: 'resumed', cancel: 'cancelled' }[c.name]} ${pos(c, 0)}`];
      }
      case 'progress':
        this.hub.progress();
        return [];
      default:
        assert.fail(`line ${c.line}: unknown command ${c.name}`);
    }
  }
}

for (const file of testdataFiles('.txt')) {
  test(`apply datadriven ${file}`, () => {
    runFile(file, () => {
      const script = new Script();
      return (c) => script.run(c);
    });
  });
}

test('sameRegisterOps compares the values apply reads', () => {
  const add = (device: string, since = 5): RegisterOp => ({ op: 'add', session: { app: 'a', user: 'u', device, session: 's', node: 'n', since } });
  const remove: RegisterOp = { op: 'remove', app: 'a', user: 'u', session: 's' };
  assert.equal(sameRegisterOps([add('d'), remove], [add('d'), { ...remove }]), true);
  assert.equal(sameRegisterOps([add('d')], [add('d'), remove]), false);
  assert.equal(sameRegisterOps([add('d')], [add('e')]), false);
  assert.equal(sameRegisterOps([add('d', 0)], [add('d', -0)]), false);
  assert.equal(sameRegisterOps([remove], [add('d')]), false);
  assert.equal(sameRegisterOps([remove], [{ ...remove, session: 't' }]), false);
});

test('kvBytes counts UTF-8 bytes of keys and values through puts, overwrites, deletes, lease expiry and restore', () => {
  const state = emptyState();
  let index = 0;
  const run = (cmd: Command): void => {
    index += 1;
    apply(state, cmd, index);
  };
  run({ type: 'leaseGrant', id: 'L', ttl: 10, now: 0 });
  run({ type: 'put', key: '/a', value: 'xxxx' });
  assert.equal(state.kvBytes, 2 + 4);
  run({ type: 'put', key: '/a', value: 'é' }); // two bytes in UTF-8, one code unit
  assert.equal(state.kvBytes, 2 + 2);
  assert.equal(kvBytes('/a', 'é'), 4);
  run({ type: 'put', key: '/b/1', value: 'v'.repeat(100), lease: 'L' });
  run({ type: 'put', key: '/b/2', value: '€' }); // three bytes
  assert.equal(state.kvBytes, 4 + 104 + 7);
  run({ type: 'put', key: '/b/2', value: 'old', ifModRevision: 1 }); // a failed compare changes nothing
  assert.equal(state.kvBytes, 4 + 104 + 7);
  assert.equal(restore(snapshot(state)).kvBytes, state.kvBytes);
  run({ type: 'leaseExpire', id: 'L', now: 20_000 });
  assert.equal(state.kvBytes, 4 + 7);
  run({ type: 'delete', key: '/', prefix: true });
  assert.equal(state.kvBytes, 0);
});
