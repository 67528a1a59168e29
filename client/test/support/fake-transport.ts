// An in-memory Transport: each opened socket is recorded, and the test plays
// the server by hand (open, frames in, close).
import type { Subprotocol, WireData } from '../../src/core/codec.js';
import type { Socket, SocketHandlers, Transport } from '../../src/core/transport.js';

export class FakeSocket implements Socket {
  protocol = '';
  readonly sent: Record<string, unknown>[] = [];
  closedWith: { code: number; reason: string } | undefined;

  constructor(
    readonly url: string,
    private readonly requested: Subprotocol,
    private readonly handlers: SocketHandlers,
  ) {}

  send(data: WireData): void {
    if (typeof data !== 'string') throw new Error('the fake socket speaks JSON only');
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }

  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }

  open(): void {
    this.protocol = this.requested;
    this.handlers.onOpen();
  }

  receive(frame: object): void {
    this.handlers.onMessage(JSON.stringify(frame));
  }

  serverClose(code: number, reason = ''): void {
    this.handlers.onClose(code, reason);
  }

  framesOf(t: string): Record<string, unknown>[] {
    return this.sent.filter((f) => f.t === t);
  }
}

export class FakeTransport {
  readonly sockets: FakeSocket[] = [];
  readonly transport: Transport = (url, protocol, handlers) => {
    const s = new FakeSocket(url, protocol, handlers);
    this.sockets.push(s);
    return s;
  };

  last(): FakeSocket {
    const s = this.sockets.at(-1);
    if (s === undefined) throw new Error('no socket opened');
    return s;
  }
}

/** Lets pending promise callbacks and microtasks run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
