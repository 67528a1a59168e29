// The key that signs node-to-node HTTP calls (peer-auth.ts). It lives in the
// keeper under /sys/secrets/, so only members — who reached the Raft log
// through authenticated peer links — ever hold it, and the admin token is
// never needed between nodes. The first node to start makes it.
import { randomBytes } from 'node:crypto';
import type { Keeper, Watcher } from '../../../keeper/src/keeper.js';
import { KeeperError } from '../../../keeper/src/errors.js';
import { SECRETS_PREFIX } from '../keeper-secrets.js';

export const PEER_KEY = `${SECRETS_PREFIX}peer-key`;

export class PeerKey {
  private bytes: Buffer | undefined;
  private watcher: Watcher | undefined;

  constructor(private readonly keeper: Keeper) {}

  async start(): Promise<void> {
    let r = await this.keeper.range(PEER_KEY);
    if (r.kvs.length === 0) {
      await this.keeper.put(PEER_KEY, randomBytes(32).toString('base64'), { ifModRevision: 0 }).catch((err: unknown) => {
        if (!(err instanceof KeeperError && err.code === 'compare-failed')) throw err;
      });
      r = await this.keeper.range(PEER_KEY);
    }
    this.set(r.kvs[0]?.value);
    this.watcher = this.keeper.watch({ key: PEER_KEY, fromRevision: r.revision + 1 }, (m) => {
      if (m.kind === 'events') for (const e of m.events) this.set(e.type === 'put' ? e.value : undefined);
    });
  }

  private set(value: string | undefined): void {
    this.bytes = value === undefined ? undefined : Buffer.from(value, 'base64');
  }

  /** The key, or undefined before this node has it (the call is then refused as not ready). */
  get value(): Buffer | undefined {
    return this.bytes;
  }

  close(): void {
    this.watcher?.cancel();
  }
}
