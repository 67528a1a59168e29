// The bytes of a request body as they arrived, for the requests whose
// signature covers them (peer calls, join proofs). Kept only for those: a
// service push does not pay for it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PEER_HEADERS } from '../peer/peer-auth.js';
import { JOIN_HEADERS } from '../join-proof.js';

const raw = new WeakMap<FastifyRequest, Buffer | string>();

function signed(req: FastifyRequest): boolean {
  return req.headers[PEER_HEADERS.sig] !== undefined || req.headers[JOIN_HEADERS.ts] !== undefined;
}

export function keepRawBody(req: FastifyRequest, body: Buffer | string): void {
  if (signed(req)) raw.set(req, body);
}

/** The body's bytes; empty for a request without a body. */
export function rawBodyOf(req: FastifyRequest): Buffer | string {
  return raw.get(req) ?? '';
}

/** Replaces the JSON parser with Fastify's own, keeping the raw text of signed requests. */
export function captureJsonBodies(app: Pick<FastifyInstance, 'getDefaultJsonParser' | 'removeContentTypeParser' | 'addContentTypeParser'>): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    keepRawBody(req, body);
    parse(req, body as string, done);
  });
}
