// The IPC vocabulary between the bench orchestrator and its client workers.

/** Open connections for users u<first> … u<first+count-1>: hello, then bind of one app. */
export interface ConnectCmd {
  readonly t: 'connect';
  readonly url: string;
  /** CA PEM to trust for a wss:// url. */
  readonly ca: string | undefined;
  readonly app: string;
  readonly secret: string;
  readonly first: number;
  readonly count: number;
  readonly concurrency: number;
  readonly timeoutMs: number;
}

/** Count broadcast messages carrying `marker` until every open connection has one, or time runs out. */
export interface ExpectCmd {
  readonly t: 'expect';
  readonly marker: number;
  readonly timeoutMs: number;
}

export type WorkerCmd =
  | ConnectCmd
  | ExpectCmd
  | { readonly t: 'reset' }
  | { readonly t: 'count' }
  | { readonly t: 'collect' }
  | { readonly t: 'close' };

/** Things that went wrong on a worker's connections, reported with every answer. */
export interface Health {
  readonly open: number;
  readonly errorFrames: number;
  readonly lastError: string;
  /** Unexpected closes by close code. */
  readonly closes: Readonly<Record<string, number>>;
}

export type WorkerReply =
  | { readonly t: 'connected'; readonly ok: number; readonly failed: number; readonly firstFailure: string; readonly ms: number; readonly health: Health }
  | { readonly t: 'armed'; readonly marker: number }
  | { readonly t: 'expect-done'; readonly marker: number; readonly got: number; readonly expected: number; readonly firstAt: number; readonly lastAt: number; readonly latencies: Float64Array }
  | { readonly t: 'count'; readonly received: number; readonly health: Health }
  | { readonly t: 'samples'; readonly latencies: Float64Array; readonly received: number; readonly lastAt: number; readonly health: Health }
  | { readonly t: 'closed' };
