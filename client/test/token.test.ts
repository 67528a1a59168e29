import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tokenSubject } from '../src/core/token.js';

const b64url = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

test('reads sub from a JWT payload (unicode too), undefined for anything else', () => {
  assert.equal(tokenSubject(`${b64url({ alg: 'HS256' })}.${b64url({ sub: 'üser-1', app: 'a' })}.sig`), 'üser-1');
  assert.equal(tokenSubject(`x.${b64url({ app: 'a' })}.sig`), undefined);
  assert.equal(tokenSubject('not-a-jwt'), undefined);
  assert.equal(tokenSubject('a.%%%.c'), undefined);
});
