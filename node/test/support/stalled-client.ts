// A client that says hello and then stops reading: it never answers the
// node's close handshake. A drain waits up to DRAIN_WAIT_MS (5 s) for its
// clients' closes before it reports done (gateway.drain), so with one of these
// on a member its drain is reliably still going for 5 s after its inboxes are
// handed over, however slow the machine.
import { TestSocket } from './ws-client.js';

export class StalledClient {
  private constructor(private readonly s: TestSocket) {}

  static async open(wsUrl: string, device = 'stalled'): Promise<StalledClient> {
    const s = await TestSocket.open(wsUrl);
    s.ws.on('error', () => {
      // the node closing or dying under it: nothing to do
    });
    await s.hello(device);
    s.ws.pause();
    return new StalledClient(s);
  }

  /** Drops the connection (no close handshake). Idempotent. */
  stop(): void {
    this.s.ws.terminate();
  }
}
