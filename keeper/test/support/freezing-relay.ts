// A TCP relay that can freeze, for tests of a link's liveness probes (the
// peer link's, the keeper wire's): frozen, it passes no bytes either way and
// keeps the connections open, as a stopped process or a dead path does.
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';

/** A TCP relay to `to` that can freeze: it stops passing bytes either way and keeps the connections open, as a stopped process does. */
export async function relay(to: string): Promise<{ api: string; freeze: (on: boolean) => void; close: () => Promise<void> }> {
  const [host = '', port = ''] = to.split(':');
  let frozen = false;
  const pairs = new Set<[Socket, Socket]>();
  const server = createNetServer((inbound) => {
    const outbound = connect(Number(port), host);
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    const pass = (from: Socket, into: Socket): void => {
      from.on('data', (b: Buffer) => {
        if (!frozen) into.write(b);
      });
      from.on('close', () => {
        into.destroy();
        pairs.delete(pair);
      });
      from.on('error', () => undefined);
    };
    pass(inbound, outbound);
    pass(outbound, inbound);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    api: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    freeze: (on) => (frozen = on),
    close: () =>
      new Promise<void>((r) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => r());
      }),
  };
}
