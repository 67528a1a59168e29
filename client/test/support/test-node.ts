// What the end-to-end tests need from a longwire node, so the same tests run
// against the in-test fake (fake-node.ts, the default) or a real node process
// (real-node.ts, chosen with LONGWIRE_E2E_NODE=<path to dist/node/src/cli.js>).

export interface TestNode {
  readonly kind: 'fake' | 'real';
  /** Gateway base URL: the dispatcher is `${dispatchUrl}/v1/dispatch`. */
  readonly dispatchUrl: string;
  /** `ws://host:port/ws` of the gateway. */
  readonly wsUrl: string;
  /** The app the node was set up with; its webhook answers `up` with `{ echo: data }`, and fails for `{ fail: true }`. */
  readonly app: string;
  token(user: string, expSeconds?: number): string;
  /** qos 1 push to one user; resolves with its seq. */
  push(user: string, data: unknown): Promise<number>;
  publish(topic: string, data: unknown): Promise<number>;
  kick(user: string): Promise<void>;
  close(): Promise<void>;
}

export async function startTestNode(): Promise<TestNode> {
  const cli = process.env.LONGWIRE_E2E_NODE;
  if (cli !== undefined && cli !== '') {
    const { startRealNode } = await import('./real-node.js');
    return startRealNode(cli);
  }
  const { FakeNode } = await import('./fake-node.js');
  return FakeNode.start();
}
