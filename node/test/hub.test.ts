import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Binding } from '../src/gateway/binding.js';
import type { Client } from '../src/gateway/client.js';
import { Hub } from '../src/hub.js';

// The hub only reads app and user of a binding; the client is never touched here.
const client = {} as Client;
const bind = (app: string, user: string): Binding => new Binding(client, app, user, 0, 0, 0);

test('hub: bindings by app and user, counted once each, gone with the last one', () => {
  const hub = new Hub();
  const a1 = bind('a', 'u1');
  const a1b = bind('a', 'u1');
  const a2 = bind('a', 'u2');
  const b1 = bind('b', 'u1');
  for (const b of [a1, a2, a1b, b1, a1, a1b]) hub.addBinding(b);
  assert.deepEqual(hub.bindingsOfApp('a'), [a1, a1b, a2], 'user by user, a user in binding order, no repeats');
  assert.deepEqual(hub.bindingsOf('a', 'u1'), [a1, a1b]);
  assert.deepEqual([...hub.connectionsByApp()], [['a', 3], ['b', 1]]);

  hub.removeBinding(a1);
  hub.removeBinding(a1);
  hub.removeBinding(bind('a', 'u2'));
  assert.deepEqual(hub.bindingsOf('a', 'u1'), [a1b]);
  assert.deepEqual(hub.bindingsOfApp('a'), [a1b, a2]);
  assert.deepEqual([...hub.connectionsByApp()], [['a', 2], ['b', 1]]);

  hub.removeBinding(a1b);
  hub.removeBinding(a2);
  hub.removeBinding(b1);
  assert.deepEqual(hub.bindingsOfApp('a'), []);
  assert.deepEqual(hub.bindingsOf('a', 'u1'), []);
  assert.deepEqual([...hub.connectionsByApp()], []);
});
