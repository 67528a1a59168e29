// The bench's TLS target end to end: a real node started with the bench's
// throwaway certificate serves wss:// and https://; clients that trust the CA
// bind and receive qos 1 and qos 0 pushes (sent over https://); ws clients and
// the bench's HTTP client verify the certificate when not given the CA, so the
// TLS figures are measured over verified TLS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sleep } from '../lib/clock.js';
import { Fleet } from '../lib/fleet.js';
import { HttpClient } from '../lib/http.js';
import { startLongwire } from '../lib/longwire-target.js';
import { BENCH_APP, BENCH_TOKEN_SECRET } from '../lib/target.js';
import { makeTlsMaterial } from '../lib/tls-material.js';

test('the bench TLS target serves wss:// and https:// that only CA-trusting clients reach', async () => {
  const material = await makeTlsMaterial();
  const target = await startLongwire({ fsync: false, httpConcurrency: 4, inspect: false, tls: { certFile: material.certFile, keyFile: material.keyFile, ca: material.ca } });
  const trusting = Fleet.start(1);
  const untrusting = Fleet.start(1);
  try {
    assert.match(target.wsUrl, /^wss:\/\/127\.0\.0\.1:\d+\/ws$/);
    assert.equal(target.ca, material.ca);
    const opts = { url: target.wsUrl, app: BENCH_APP, secret: BENCH_TOKEN_SECRET, concurrency: 2, timeoutMs: 10_000 };

    const ok = await trusting.connectTo(3, { ...opts, ca: target.ca });
    assert.deepEqual({ ok: ok.ok, failed: ok.failed }, { ok: 3, failed: 0 });
    for (const qos of [1, 0] as const) for (let u = 0; u < 3; u++) await target.push(`u${u}`, { k: 'u', s: Date.now() }, qos);
    let received = 0;
    for (let i = 0; i < 100 && received < 6; i++) {
      received = await trusting.received();
      if (received < 6) await sleep(50);
    }
    assert.equal(received, 6);

    const refused = await untrusting.connectTo(2, { ...opts, ca: undefined });
    assert.equal(refused.ok, 0);
    assert.equal(refused.failed, 2);
    assert.match(refused.firstFailure, /certificate/i);

    // The gateway serves the same certificate over https://: the HTTP client refuses it without the CA.
    const noCa = new HttpClient(`https://127.0.0.1:${new URL(target.wsUrl).port}`, 1);
    try {
      await assert.rejects(noCa.call('GET', '/'), /certificate/i);
    } finally {
      noCa.close();
    }
  } finally {
    await trusting.stop();
    await untrusting.stop();
    await target.stop();
    await material.drop();
  }
});
