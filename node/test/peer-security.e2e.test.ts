// Authenticated peers, with real processes: a cluster formed with a shared
// cluster secret and one with mutual TLS (every port TLS), each pushing across
// nodes; a node with the wrong secret or a certificate from another CA cannot
// join; crafted handshakes and Raft frames at the peer port are refused,
// counted, and change nothing; the peer link takes no admin token nor an
// unsigned upgrade; admin tokens
// rotate on every node without restart; secrets never leave through the kv
// routes or the logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHmac } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, createNodeCert, type PemPair } from '../src/certs.js';
import { raftIdOf } from '../../keeper/src/raft-id.js';
import { term as T, index as I } from '../../raft/src/types.js';
import { LINK_PATH, LINK_PROTOCOL } from '../src/peer/peer-client.js';
import { request } from 'node:http';
import { NodeProcess, tempDir } from './support/node-process.js';
import { TestSocket, createApp, token } from './support/ws-client.js';
import { eventually, obj } from './support/contract.js';
import { metricValue, probePeerPort } from './support/peer-probe.js';
import { servedSerial } from './support/served-serial.js';

const SECRET = 'correct-horse-battery-staple';
const RAFT_AUTH_REFUSED = 'longwire_peer_refused_total{link="raft",reason="auth"}';
const RPC_AUTH_REFUSED = 'longwire_peer_refused_total{link="rpc",reason="auth"}';

/** An upgrade to the peer link at 127.0.0.1:`port`, with `headers` instead of a member's signature: status and body. */
function upgrade(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { ...headers, connection: 'Upgrade', upgrade: LINK_PROTOCOL }, agent: false });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, text: 'upgraded' });
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer to the upgrade')));
    req.end();
  });
}

async function voters(n: NodeProcess, count: number): Promise<{ leader: string; term: number }> {
  return eventually(
    async () => {
      const r = await n.api('GET', '/v1/cluster').catch(() => undefined);
      const b = r?.status === 200 ? obj(r.body) : undefined;
      const members = (b?.members ?? []) as { role: string }[];
      return b !== undefined && typeof b.leader === 'string' && members.filter((m) => m.role === 'voter').length === count ? { leader: b.leader, term: Number(b.term) } : undefined;
    },
    `${count} voters`,
    200,
    100,
  );
}

/**
 * How long a probe waits for the node's answers and its close: the node closes at
 * once, but a loaded machine can stall either process for a second.
 */
const PROBE_WAIT_MS = 3000;

/**
 * The term of the crafted MsgVotes. They are marked as a leadership transfer, which
 * Raft obeys even while it hears from a leader (checkQuorum's lease): had one been
 * stepped, n1's term would be at least this.
 */
const CRAFTED_TERM = 1_000_000;

/**
 * The crafted votes never reached Raft: n1's term is still below theirs. Not equality
 * with the term before, nor the same leader: on a loaded machine a stalled process
 * makes the leader step down (checkQuorum) and an honest election adds a term or two.
 */
async function noCraftedTerm(n: NodeProcess, count: number, termBefore: number): Promise<void> {
  const { term } = await voters(n, count);
  assert.ok(term >= termBefore && term < CRAFTED_TERM, `term ${term} (was ${termBefore}): the crafted vote at term ${CRAFTED_TERM} moved it`);
}

async function metrics(n: NodeProcess): Promise<string> {
  return (await n.fetch(`${n.apiUrl}/metrics`)).text();
}

/** A client of `user` on `via`, and a push through `through` that must reach it. */
async function pushAcross(app: { app: string; apiKey: string; tokenSecret: string }, via: NodeProcess, through: NodeProcess, user: string, ca?: string): Promise<void> {
  // The app was made through another node: this one applies it from its keeper watch.
  await eventually(async () => ((await via.api('GET', `/v1/apps/${app.app}`)).status === 200 ? true : undefined), `${app.app} known on ${via.apiUrl}`);
  const s = await TestSocket.open(via.wsUrl, 'json', ca === undefined ? {} : { ca });
  try {
    await s.hello(`dev-${user}`);
    const bound = await s.bind(app.app, await token(app.app, app.tokenSecret, user));
    assert.equal(bound.t, 'bound', JSON.stringify(bound));
    const r = await eventually(async () => {
      const x = await through.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: [user], data: `to ${user}` } });
      return x.status === 200 ? x : undefined;
    }, 'push accepted');
    assert.equal(r.status, 200);
    assert.equal((await s.nextOfType('msg')).data, `to ${user}`);
  } finally {
    s.close();
  }
}

test('cluster secret: peers join by proof, outsiders are refused and counted, peer RPC and admin tokens are the cluster\'s own', async () => {
  const n1 = await NodeProcess.start({ args: ['--id', 'n1', '--cluster-secret', SECRET] });
  const started = [n1];
  try {
    const n2 = await NodeProcess.start({ args: ['--id', 'n2', '--cluster-secret', SECRET, '--join', n1.apiUrl], noAdminToken: true });
    started.push(n2);
    const before = await voters(n1, 2);

    // Wrong secret: the join is refused and the process exits.
    await assert.rejects(NodeProcess.start({ args: ['--id', 'n3', '--cluster-secret', 'not-the-right-secret!', '--join', n1.apiUrl], noAdminToken: true }), /join refused|401/);

    // At the peer port: a hello claiming n2 gets a challenge; a wrong proof closes the link.
    const n1Id = raftIdOf('n1');
    const n2Id = raftIdOf('n2');
    const wrongProof = await probePeerPort(n1.peerPort, [{ json: { hello: n2Id, to: n1Id, nonce: 'AAAAAAAAAAAAAAAAAAAAAA==' } }], {
      onAnswer: (a) => (typeof a.nonce === 'string' ? { proof: createHmac('sha256', 'guess').update('x').digest('base64') } : undefined),
      waitMs: PROBE_WAIT_MS,
    });
    assert.equal(wrongProof.answers.length, 1, 'only the challenge, never ok');
    assert.ok(wrongProof.closedByNode);
    // No challenge at all, straight to a vote at a huge term: closed before Raft sees it.
    const vote = await probePeerPort(n1.peerPort, [
      { json: { hello: n2Id, to: n1Id } },
      { raft: { type: 'MsgVote', from: n2Id, to: n1Id, term: T(CRAFTED_TERM), index: I(CRAFTED_TERM), logTerm: T(CRAFTED_TERM), transfer: true } },
    ], { waitMs: PROBE_WAIT_MS });
    assert.ok(vote.closedByNode);
    // A non-member claiming any id is refused too.
    const stranger = await probePeerPort(n1.peerPort, [{ json: { hello: 424242, to: n1Id, nonce: 'AAAAAAAAAAAAAAAAAAAAAA==' } }], { waitMs: PROBE_WAIT_MS });
    assert.equal(stranger.answers.length, 0);
    assert.ok(stranger.closedByNode);
    await noCraftedTerm(n1, 2, before.term);
    // The Raft worker reports each refusal by message: the count may trail the close the probe saw.
    await eventually(async () => (metricValue(await metrics(n1), RAFT_AUTH_REFUSED) >= 3 ? true : undefined), 'each refusal counted', 50, 100);

    // The peer link does not take the admin token, nor an unsigned upgrade: both refused 401 and counted.
    const refusedBefore = metricValue(await metrics(n1), RPC_AUTH_REFUSED);
    const asks: Record<string, string>[] = [{ authorization: `Bearer ${n1.adminToken}` }, {}];
    for (const headers of asks) {
      const up = await upgrade(n1.apiPort, LINK_PATH, headers);
      assert.equal(up.status, 401, up.text);
      assert.match(up.text, /unauthorized/);
    }
    assert.ok(metricValue(await metrics(n1), RPC_AUTH_REFUSED) >= refusedBefore + 2, 'each refused upgrade is counted');
    // The HTTP peer routes are gone: the link is the only way in.
    assert.equal((await n1.fetch(`${n1.apiUrl}/internal/v1/rpc/kick`, { method: 'POST', headers: { authorization: `Bearer ${n1.adminToken}` } })).status, 404);

    // Signed peer RPC carries pushes between the nodes.
    const app = await createApp(n1, 'sec');
    for (const user of ['u1', 'u2', 'u3', 'u4']) await pushAcross(app, n2, n1, user);

    // Admin tokens rotate on every node: made on n1, used on n2, the old one revoked through n2.
    const made = await n1.api('POST', '/v1/admin/tokens', { body: { label: 'rotation' } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const fresh = String(obj(made.body).token);
    await eventually(async () => ((await n2.api('GET', '/v1/cluster', { token: fresh })).status === 200 ? true : undefined), 'n2 accepts the new token');
    const list = obj((await n2.api('GET', '/v1/admin/tokens', { token: fresh })).body).tokens as { id: string }[];
    assert.equal(list.length, 2);
    assert.ok(!JSON.stringify(list).includes(fresh), 'tokens are never listed');
    assert.equal((await n2.api('DELETE', '/v1/admin/tokens/initial', { token: fresh })).status, 200);
    await eventually(async () => ((await n1.api('GET', '/v1/cluster')).status === 401 ? true : undefined), 'n1 refuses the revoked token');
    const last = await n1.api('DELETE', `/v1/admin/tokens/${String(obj(made.body).id)}`, { token: fresh });
    assert.equal(last.status, 409, 'the last token stays');

    // Secrets do not leave through the kv routes.
    const key = await n1.api('GET', '/v1/kv/sys/secrets/peer-key', { token: fresh });
    assert.equal(key.status, 200);
    assert.equal((obj(key.body).kvs as { value: string }[])[0]?.value, '<redacted>');
    assert.equal((await n1.api('PUT', '/v1/kv/sys/secrets/peer-key', { token: fresh, body: { value: 'mine' } })).status, 403);
    assert.equal((await n1.api('DELETE', '/v1/kv/sys?prefix=true', { token: fresh })).status, 403);
    const appKv = obj((await n1.api('GET', '/v1/kv/sys/apps/sec', { token: fresh })).body).kvs as { value: string }[];
    const shown = JSON.parse(appKv[0]?.value ?? '{}') as Record<string, unknown>;
    assert.equal(shown.apiKey, '<redacted>');
    assert.equal(shown.tokenSecret, '<redacted>');

    for (const n of started) {
      for (const secret of [SECRET, n1.adminToken, fresh, app.tokenSecret]) assert.ok(!n.logs.includes(secret) && !n.stderr.includes(secret), 'no secret in the logs');
    }
  } finally {
    for (const n of started.reverse()) await n.stop();
  }
});

test('mutual TLS on every port: a three-node cluster forms and pushes; a certificate from another CA cannot join or speak Raft', async () => {
  const dir = await tempDir('longwire-mtls-');
  const ca = await createCa();
  const rogueCa = await createCa({ name: 'rogue CA' });
  const files = async (id: string, pair: PemPair): Promise<string[]> => {
    await writeFile(join(dir, `${id}.pem`), pair.cert);
    await writeFile(join(dir, `${id}-key.pem`), pair.key);
    const cert = join(dir, `${id}.pem`);
    const key = join(dir, `${id}-key.pem`);
    return ['--id', id, '--tls-cert', cert, '--tls-key', key, '--peer-ca', join(dir, 'ca.pem'), '--peer-cert', cert, '--peer-key', key];
  };
  await writeFile(join(dir, 'ca.pem'), ca.cert);
  const pairs = new Map<string, PemPair>();
  for (const id of ['n1', 'n2', 'n3']) pairs.set(id, await createNodeCert(ca, id, ['127.0.0.1']));
  const n1 = await NodeProcess.start({ args: await files('n1', pairs.get('n1') as PemPair), tlsCa: ca.cert });
  const started = [n1];
  try {
    for (const id of ['n2', 'n3']) started.push(await NodeProcess.start({ args: [...(await files(id, pairs.get(id) as PemPair)), '--join', n1.apiUrl], tlsCa: ca.cert, noAdminToken: true }));
    const before = await voters(n1, 3);
    const [, n2, n3] = started as [NodeProcess, NodeProcess, NodeProcess];

    const app = await createApp(n1, 'mtls');
    for (const user of ['a', 'b', 'c', 'd']) await pushAcross(app, n3, n2, user, ca.cert);

    // A certificate from another CA, even one naming a member, is refused: at join, and at the peer port.
    const rogue = await createNodeCert(rogueCa, 'n4', ['127.0.0.1']);
    await writeFile(join(dir, 'ca-rogue.pem'), rogueCa.cert);
    const rogueArgs = (await files('n4', rogue)).map((a) => (a.endsWith('/ca.pem') ? join(dir, 'ca-rogue.pem') : a));
    await assert.rejects(NodeProcess.start({ args: [...rogueArgs, '--join', n1.apiUrl], tlsCa: rogueCa.cert, noAdminToken: true }), /join|exited|ready/);
    const roguePeer = await createNodeCert(rogueCa, 'n2', ['127.0.0.1']);
    const n1Id = raftIdOf('n1');
    const vote = { type: 'MsgVote', from: raftIdOf('n2'), to: n1Id, term: T(CRAFTED_TERM), index: I(CRAFTED_TERM), logTerm: T(CRAFTED_TERM), transfer: true } as const;
    await probePeerPort(n1.peerPort, [{ json: { hello: raftIdOf('n2'), to: n1Id } }, { raft: vote }], { tls: { ca: ca.cert, ...roguePeer } }).catch(() => undefined);
    // In clear text at a TLS port: refused at the handshake.
    await probePeerPort(n1.peerPort, [{ json: { hello: raftIdOf('n2'), to: n1Id } }, { raft: vote }]);
    // A real member's certificate claiming to be another member: refused after the handshake.
    const n3Pair = pairs.get('n3') as PemPair;
    const impostor = await probePeerPort(n1.peerPort, [{ json: { hello: raftIdOf('n2'), to: n1Id } }, { raft: vote }], { tls: { ca: ca.cert, ...n3Pair }, waitMs: PROBE_WAIT_MS });
    assert.ok(impostor.closedByNode);
    await noCraftedTerm(n1, 3, before.term);
    // The Raft worker reports each refusal by message: the count may trail the close the probe saw.
    await eventually(async () => (metricValue(await metrics(n1), RAFT_AUTH_REFUSED) >= 3 ? true : undefined), 'each refusal counted', 50, 100);

    // Rotation: n1 gets a new certificate from the same CA; SIGHUP, and its peer port presents it to links made from now on.
    const asN3 = { cert: n3Pair.cert, key: n3Pair.key };
    assert.equal(await servedSerial(n1.peerPort, ca.cert, asN3), new X509Certificate((pairs.get('n1') as PemPair).cert).serialNumber);
    const rotated = await createNodeCert(ca, 'n1', ['127.0.0.1']);
    await files('n1', rotated);
    process.kill(n1.pid, 'SIGHUP');
    const rotatedSerial = new X509Certificate(rotated.cert).serialNumber;
    await eventually(async () => ((await servedSerial(n1.peerPort, ca.cert, asN3)) === rotatedSerial ? true : undefined), 'the peer port presents the new certificate');
    // A key that does not match the certificate is refused; the rotated pair stays in use.
    await writeFile(join(dir, 'n1-key.pem'), n3Pair.key);
    process.kill(n1.pid, 'SIGHUP');
    await eventually(async () => (n1.logs.includes('peer TLS reload failed') ? true : undefined), 'the failed peer reload is logged');
    assert.equal(await servedSerial(n1.peerPort, ca.cert, asN3), rotatedSerial);
    // Links made after the rotation carry Raft: n3 restarts (both its links with n1 are new, n1 presenting the
    // rotated certificate each way), and n1 and n3 alone (n2 stopped) are a quorum that elects and pushes.
    await files('n1', rotated);
    await n3.stop({ keepData: true });
    await n2.stop({ keepData: true });
    started.splice(started.indexOf(n2), 1);
    const n3again = await NodeProcess.start({ args: await files('n3', n3Pair), dataDir: n3.dataDir, gatewayPort: n3.gatewayPort, apiPort: n3.apiPort, peerPort: n3.peerPort, tlsCa: ca.cert, noAdminToken: true });
    started.splice(started.indexOf(n3), 1, n3again);
    await voters(n3again, 3);
    for (const user of ['e', 'f']) await pushAcross(app, n3again, n1, user, ca.cert);
  } finally {
    for (const n of started.reverse()) await n.stop();
  }
});
