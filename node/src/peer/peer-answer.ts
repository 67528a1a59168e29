// How every peer call is answered: MessagePack, with the caller's request id echoed.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PEER_CONTENT_TYPE, packPeer } from './codec.js';
import { RPC_ID_HEADER } from './peer-client.js';

export function answer(req: FastifyRequest, reply: FastifyReply, value: unknown): FastifyReply {
  const id = req.headers[RPC_ID_HEADER];
  return reply
    .header(RPC_ID_HEADER, typeof id === 'string' ? id : '')
    .header('content-type', PEER_CONTENT_TYPE)
    .send(packPeer(value));
}
