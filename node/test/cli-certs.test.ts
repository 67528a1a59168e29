// `longwire certs`: a CA and node certificates that verify against it, name
// the node, carry the hosts; a second run reuses the CA; bad input refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { certs } from '../src/cli-certs.js';
import { tempDir } from './support/node-process.js';

test('certs writes a CA and per-node pairs, reuses the CA, refuses a bad node id', async () => {
  const dir = await tempDir('longwire-certs-');
  const out = await certs(['--out', dir, '--nodes', 'n1,n2', '--hosts', '127.0.0.1,node.example']);
  assert.match(out, /created CA/);
  const ca = new X509Certificate(readFileSync(join(dir, 'ca.pem')));
  assert.equal(statSync(join(dir, 'ca-key.pem')).mode & 0o777, 0o600);
  for (const id of ['n1', 'n2']) {
    const c = new X509Certificate(readFileSync(join(dir, `${id}.pem`)));
    assert.ok(c.verify(ca.publicKey) && c.checkIssued(ca));
    assert.equal(c.subject, `CN=${id}`);
    assert.match(c.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.match(c.subjectAltName ?? '', /DNS:node\.example/);
    assert.match(c.subjectAltName ?? '', new RegExp(`DNS:${id}`));
    assert.equal(statSync(join(dir, `${id}-key.pem`)).mode & 0o777, 0o600);
  }
  const again = await certs(['--out', dir, '--nodes', 'n3']);
  assert.match(again, /reused CA/);
  assert.ok(new X509Certificate(readFileSync(join(dir, 'n3.pem'))).verify(ca.publicKey), 'the new node is signed by the same CA');
  await assert.rejects(certs(['--out', dir, '--nodes', 'bad id']), /not a node id/);
  await assert.rejects(certs(['--out', dir, '--days', '0']), /--days/);
});
