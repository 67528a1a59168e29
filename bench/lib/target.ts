// What a benchmark drives: a server process (longwire or the bare ws
// baseline) with a WebSocket URL, an HTTP push and broadcast path, and its
// memory readings.

/** The app every bench connection binds. */
export const BENCH_APP = 'bench';
export const BENCH_TOKEN_SECRET = 'bench-token-secret-0123456789abcdef';
export const BENCH_API_KEY = 'bench-api-key-0123456789abcdef';

export interface Target {
  /** Row label: `bare-ws`, `longwire`, `longwire --fsync`, `longwire tls`. */
  readonly label: string;
  readonly pid: number;
  /** ws://, or wss:// signed by `ca`. */
  readonly wsUrl: string;
  /** The CA PEM a client must trust for a wss:// `wsUrl`. */
  readonly ca: string | undefined;
  /** Forces a full GC when the server runs with the inspector (fan-out runs); otherwise a no-op. */
  collectGarbage(): Promise<void>;
  /** V8 heap in use, bytes, as the server reports it. */
  heapUsed(): Promise<number>;
  /** Sends one message to every connection; resolves on the HTTP answer. */
  broadcast(data: unknown): Promise<void>;
  /** One message to one user; resolves once the server answered (qos 1: durably stored; qos 0: written to the user's open connections). */
  push(user: string, data: unknown, qos: 0 | 1): Promise<void>;
  /** The last lines the server wrote to stderr, for failure reports. */
  stderrTail(): string;
  stop(): Promise<void>;
}
