// The payload of a keeper entry in the Raft log: one command plus the id of
// the request that proposed it, so the proposing member can hand the result of
// `apply` back to its caller. Followers apply the command and ignore the id.
//
// Layout: a MessagePack map {r: request id, c: encodeCommand(command) bytes}.
// An empty payload (a new leader's entry) carries no command.

import { corrupt, decodeCommand, encodeCommand, obj, packr, str, unpack } from './codec.js';
import type { Command } from './command.js';

export interface KeeperEntry {
  readonly requestId: string;
  readonly command: Command;
}

export function encodeKeeperEntry(requestId: string, command: Command): Uint8Array {
  return packr.pack({ r: requestId, c: encodeCommand(command) });
}

/** Throws KeeperError 'corrupt' on anything that is not a keeper entry. */
export function decodeKeeperEntry(bytes: Uint8Array): KeeperEntry {
  const o = obj(unpack(bytes), 'keeper entry');
  const c = o['c'];
  if (!(c instanceof Uint8Array)) throw corrupt('keeper entry: command is not bytes');
  return { requestId: str(o['r'], 'keeper entry request id'), command: decodeCommand(c) };
}
