import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '../src/core/clock.js';
import { dispatchRequestUrl, fetchDispatch } from '../src/core/dispatch.js';
import { DispatchError } from '../src/core/errors.js';

const req = { dispatchUrl: 'http://gw:7800/', app: 'chat', user: 'u 1', tried: ['a:1', 'b:2'] };

test('the request names app, user and the tried addresses', () => {
  assert.equal(dispatchRequestUrl(req), 'http://gw:7800/v1/dispatch?app=chat&user=u+1&tried=a%3A1%2Cb%3A2');
  assert.equal(dispatchRequestUrl({ ...req, tried: [] }), 'http://gw:7800/v1/dispatch?app=chat&user=u+1');
});

test('an answer gives nodes and ttl; errors become DispatchError', async () => {
  const answer = { nodes: [{ id: 'n1', url: 'ws://a:1/ws', zone: 'z' }], ttl: 30 };
  const ok: typeof fetch = async () => new Response(JSON.stringify(answer));
  assert.deepEqual(await fetchDispatch(ok, req, 1000, systemClock), answer);
  const status: typeof fetch = async () => new Response('{}', { status: 503 });
  await assert.rejects(fetchDispatch(status, req, 1000, systemClock), DispatchError);
  const empty: typeof fetch = async () => new Response(JSON.stringify({ nodes: [], ttl: 1 }));
  await assert.rejects(fetchDispatch(empty, req, 1000, systemClock), DispatchError);
  const down: typeof fetch = async () => {
    throw new TypeError('fetch failed');
  };
  await assert.rejects(fetchDispatch(down, req, 1000, systemClock), (e: unknown) => e instanceof DispatchError && e.cause instanceof TypeError);
});

test('a dispatcher that does not answer is aborted after the timeout', async () => {
  const hang: typeof fetch = (_url, init) =>
    new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
  await assert.rejects(fetchDispatch(hang, req, 20, systemClock), DispatchError);
});
