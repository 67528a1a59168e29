// ZooKeeper's `sync` for node-zookeeper-client, which lacks it. A read is
// linearizable in ZooKeeper only after a sync on the same session (the member
// catches up with the leader first); without it a follower may answer stale.
//
// The request goes through the client's own connection manager, so it is
// ordered with the session's other requests (a getData queued right after it
// is answered after it): header {xid, type 9 = sync} + the path. The
// library's reply parser knows no sync answer and would drop the connection
// on one, so the header's `type` field, which only that parser reads, says
// "delete" (an answer with no body to decode), while toBuffer writes opcode
// 9 on the wire. The answer's own body (the path) is skipped by the framing.
import type zookeeper from 'node-zookeeper-client';

const OP_SYNC = 9;
/** node-zookeeper-client's opcode for delete, whose answer it reads as "no body". */
const OP_DELETE = 2;

interface QueuedRequest {
  header: { xid: number; type: number };
  payload: null;
  toBuffer(): Buffer;
}

interface ConnectionManager {
  queue(request: QueuedRequest, callback: (error: Error | null) => void): void;
}

export function zkSync(client: zookeeper.Client, path: string): Promise<void> {
  const manager = (client as unknown as { connectionManager?: ConnectionManager }).connectionManager;
  if (manager === undefined || typeof manager.queue !== 'function') throw new Error('node-zookeeper-client: no connectionManager.queue (library changed?)');
  const pathBytes = Buffer.from(path, 'utf8');
  // The manager assigns header.xid when it sends the request, before toBuffer.
  const request: QueuedRequest = {
    header: { xid: 0, type: OP_DELETE },
    payload: null,
    toBuffer() {
      const b = Buffer.alloc(4 + 4 + 4 + 4 + pathBytes.length);
      b.writeInt32BE(b.length - 4, 0);
      b.writeInt32BE(this.header.xid, 4);
      b.writeInt32BE(OP_SYNC, 8);
      b.writeInt32BE(pathBytes.length, 12);
      pathBytes.copy(b, 16);
      return b;
    },
  };
  return new Promise((resolve, reject) => manager.queue(request, (err) => (err ? reject(err) : resolve())));
}
