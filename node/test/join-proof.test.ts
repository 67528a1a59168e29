// Join proofs (join-proof.ts): a proof by the cluster secret or by a peer
// certificate verifies for the member it names, and nothing else does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkJoinProof, joinProof, JOIN_HEADERS, SKEW_MS } from '../src/join-proof.js';
import { createCa, createNodeCert } from '../src/certs.js';

const BODY = JSON.stringify({ id: 'n4', peer: '127.0.0.1:1', api: '127.0.0.1:2', gateway: '127.0.0.1:3' });
const NOW = 1_800_000_000_000;
const reason = (c: ReturnType<typeof checkJoinProof>): string => (c.ok ? 'ok' : c.reason);

test('a secret proof verifies with the same secret, for this body, within the window', () => {
  const h = joinProof({ secret: 'the-cluster-secret' }, BODY, NOW) ?? {};
  assert.equal(reason(checkJoinProof({ secret: 'the-cluster-secret' }, h, BODY, 'n4', NOW + 1000)), 'ok');
  assert.equal(reason(checkJoinProof({ secret: 'another-secret!!' }, h, BODY, 'n4', NOW)), 'bad cluster-secret proof');
  assert.equal(reason(checkJoinProof({ secret: 'the-cluster-secret' }, h, BODY.replace('n4', 'n5'), 'n5', NOW)), 'bad cluster-secret proof');
  assert.match(reason(checkJoinProof({ secret: 'the-cluster-secret' }, h, BODY, 'n4', NOW + SKEW_MS + 1)), /outside the window/);
  assert.match(reason(checkJoinProof({}, h, BODY, 'n4', NOW)), /no cluster secret/);
  assert.equal(joinProof({}, BODY, NOW), undefined, 'nothing to prove with');
});

test('a certificate proof verifies for a certificate of the CA that names the member, signed by its key', async () => {
  const ca = await createCa();
  const other = await createCa({ name: 'other' });
  const n4 = await createNodeCert(ca, 'n4', ['127.0.0.1']);
  const creds = { tls: { ca: ca.cert, ...n4 } };
  const h = joinProof(creds, BODY, NOW) ?? {};
  const now = Date.now();
  const live = joinProof(creds, BODY, now) ?? {};
  assert.equal(reason(checkJoinProof(creds, live, BODY, 'n4', now)), 'ok');
  assert.match(reason(checkJoinProof(creds, live, BODY, 'n5', now)), /does not name n5/);
  assert.match(reason(checkJoinProof({ tls: { ca: other.cert, ...n4 } }, live, BODY, 'n4', now)), /not from the cluster CA/);
  assert.match(reason(checkJoinProof(creds, live, BODY + ' ', 'n4', now)), /bad join certificate signature/);
  // Another key signing with n4's certificate.
  const n5 = await createNodeCert(ca, 'n5', ['127.0.0.1']);
  const forged = { ...live, [JOIN_HEADERS.sig]: (joinProof({ tls: { ca: ca.cert, ...n5 } }, BODY, now) ?? {})[JOIN_HEADERS.sig] ?? '' };
  assert.match(reason(checkJoinProof(creds, forged, BODY, 'n4', now)), /bad join certificate signature/);
  // A proof made long ago is refused by its timestamp, before anything else.
  assert.match(reason(checkJoinProof(creds, h, BODY, 'n4', now)), /outside the window/);
});
