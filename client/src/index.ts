// The Node entry: the core with the `ws` transport. Device ids are not
// persisted here; pass `device` to keep one across restarts.
import { LongwireClient } from './core/client.js';
import type { ClientOptions } from './core/options.js';
import { nodeTransport } from './transport-node.js';

export * from './core/mod.js';
export { DEFAULT_FRAME_BYTES_MAX, nodeTransport } from './transport-node.js';

export function createClient(options: ClientOptions): LongwireClient {
  return new LongwireClient(options, { transport: nodeTransport(), deviceStore: undefined });
}
