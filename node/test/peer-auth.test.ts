// Peer call signatures (peer-auth.ts) and their replay window: what verifies,
// and each way a call is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerAuth, PEER_HEADERS, SKEW_MS } from '../src/peer/peer-auth.js';
import { ReplayWindow, WINDOW } from '../src/peer/replay-window.js';

const KEY = Buffer.alloc(32, 1);
let clock = 1_000_000;
const members = new Set(['n1', 'n2']);
const node = (id: string, key: Buffer | 'none' = KEY): PeerAuth =>
  new PeerAuth({ selfId: id, key: () => (key === 'none' ? undefined : key), isMember: (m) => members.has(m), now: () => clock });

test('a signed call verifies once; altered method, path, body, sender or key, a stale timestamp and a replay are refused', () => {
  const n1 = node('n1');
  const n2 = node('n2');
  const body = Buffer.from('payload');
  const h = n1.sign('POST', '/internal/v1/rpc/push', body);
  assert.ok(h !== undefined);
  assert.deepEqual(n2.verify(h, 'POST', '/internal/v1/rpc/push', body), { ok: true, peer: 'n1' });
  const reason = (c: ReturnType<PeerAuth['verify']>): string => (c.ok ? 'ok' : c.reason);
  assert.equal(reason(n2.verify(h, 'POST', '/internal/v1/rpc/push', body)), 'replayed peer call');
  const fresh = (): Record<string, string> => n1.sign('POST', '/p', body) ?? {};
  assert.equal(reason(n2.verify(fresh(), 'PUT', '/p', body)), 'bad peer signature');
  assert.equal(reason(n2.verify(fresh(), 'POST', '/q', body)), 'bad peer signature');
  assert.equal(reason(n2.verify(fresh(), 'POST', '/p', Buffer.from('payloaD'))), 'bad peer signature');
  assert.equal(reason(n2.verify({ ...fresh(), [PEER_HEADERS.from]: 'n2' }, 'POST', '/p', body)), 'bad peer signature');
  assert.equal(reason(node('n2', Buffer.alloc(32, 2)).verify(fresh(), 'POST', '/p', body)), 'bad peer signature');
  assert.equal(reason(n2.verify({ ...fresh(), [PEER_HEADERS.from]: 'n9' }, 'POST', '/p', body)), 'n9 is not a member');
  const old = fresh();
  clock += SKEW_MS + 1;
  assert.equal(reason(n2.verify(old, 'POST', '/p', body)), 'peer signature timestamp outside the window');
  const { [PEER_HEADERS.sig]: _dropped, ...unsigned } = fresh();
  assert.equal(reason(n2.verify(unsigned, 'POST', '/p', body)), 'incomplete peer signature');
  assert.equal(reason(node('n2', 'none').verify(fresh(), 'POST', '/p', body)), 'this node has no peer key yet');
  assert.equal(node('n1', 'none').sign('POST', '/p', body), undefined, 'no key, no signature');
});

test('the replay window takes calls out of order within it, refuses repeats and anything older', () => {
  const w = new ReplayWindow();
  assert.ok(w.accept('n1', 'b1', 5));
  assert.ok(w.accept('n1', 'b1', 3), 'older but inside the window and unseen');
  assert.ok(!w.accept('n1', 'b1', 3));
  assert.ok(!w.accept('n1', 'b1', 5));
  assert.ok(w.accept('n1', 'b1', 5 + WINDOW));
  assert.ok(!w.accept('n1', 'b1', 5), 'now older than the window');
  assert.ok(w.accept('n1', 'b1', 6 + WINDOW - WINDOW + 1), 'inside the window and unseen');
  assert.ok(w.accept('n1', 'b2', 5), 'another boot of the sender counts on its own');
  assert.ok(w.accept('n2', 'b1', 5), 'another sender counts on its own');
  // A jump further than the window forgets everything before it.
  assert.ok(w.accept('n1', 'b1', 100 * WINDOW));
  assert.ok(!w.accept('n1', 'b1', 5 + WINDOW));
});
