import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../src/core/errors.js';
import { DEFAULT_BACKOFF_MAX_MS, DEFAULT_BACKOFF_MIN_MS, resolveOptions } from '../src/core/options.js';

test('defaults apply, and impossible options fail once, at construction', () => {
  const r = resolveOptions({ urls: ['ws://a/ws'] });
  assert.equal(r.backoffMinMs, DEFAULT_BACKOFF_MIN_MS);
  assert.equal(r.backoffMaxMs, DEFAULT_BACKOFF_MAX_MS);
  assert.equal(r.protocol, 'json');
  for (const bad of [
    {},
    { urls: ['ws://a/ws'], dispatchUrl: 'http://a' },
    { urls: [] },
    { urls: ['ws://a/ws'], backoffMinMs: 0 },
    { urls: ['ws://a/ws'], backoffMinMs: 10, backoffMaxMs: 5 },
    { urls: ['ws://a/ws'], apps: [{ app: 'chat', handler: () => {} }] },
  ]) {
    assert.throws(() => resolveOptions(bad), ConfigError, JSON.stringify(bad));
  }
});
