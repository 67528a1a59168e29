// Group commit: every write the saver makes is queued here and written in
// order, many callers per LevelDB batch. While one batch is being written the
// next one fills up, so under load one batch (and one fsync) serves many
// appends; with a single writer at a time, batches reach the store in the order
// their writes were queued.

export type Op = { readonly type: 'put'; readonly key: Buffer; readonly value: string } | { readonly type: 'del'; readonly key: Buffer };

export type WriteBatch = (ops: Op[], sync: boolean) => Promise<void>;

interface Group {
  readonly ops: Op[];
  sync: boolean;
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export interface GroupCommitStats {
  readonly batches: number;
  readonly ops: number;
}

export class GroupCommit {
  private readonly queue: Group[] = [];
  private running: Promise<void> | undefined;
  private failure: unknown;
  private batches = 0;
  private opsWritten = 0;

  constructor(
    private readonly write: WriteBatch,
    private readonly opsMax: number,
  ) {}

  /**
   * Queues ops to be written atomically together; resolves once the batch that
   * holds them is written. `sync` asks for an fsync of that batch.
   */
  add(ops: readonly Op[], sync: boolean): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    let group = this.queue[this.queue.length - 1];
    // The group being written is shifted off the queue, so the last one is still open.
    if (group === undefined || (group.ops.length > 0 && group.ops.length + ops.length > this.opsMax)) {
      group = newGroup();
      this.queue.push(group);
    }
    // A loop, not push(...ops): an overflow burst can be more ops than a call takes arguments.
    for (const op of ops) group.ops.push(op);
    group.sync ||= sync;
    if (this.running === undefined) {
      // Start on the next macrotask so that every call made in this tick, and the
      // promise chains they started, share the first batch.
      this.running = new Promise((resolve) => setImmediate(resolve)).then(() => this.drain());
    }
    return group.done;
  }

  /** Resolves when everything queued so far is written (or failed). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  stats(): GroupCommitStats {
    return { batches: this.batches, ops: this.opsWritten };
  }

  private async drain(): Promise<void> {
    for (let group = this.queue.shift(); group !== undefined; group = this.queue.shift()) {
      try {
        await this.write(group.ops, group.sync);
        this.batches++;
        this.opsWritten += group.ops.length;
        group.resolve();
      } catch (err) {
        // Callers have already applied these ops to in-memory state (seqs, drop
        // ranges); once memory and disk disagree no later write is safe, so the
        // saver stops accepting writes and the node must restart from disk.
        this.failure = err;
        group.reject(err);
        for (const rest of this.queue.splice(0)) rest.reject(err);
      }
    }
    this.running = undefined;
  }
}

function newGroup(): Group {
  let resolve: () => void = () => undefined;
  let reject: (err: unknown) => void = () => undefined;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejected group whose callers stopped listening must not crash the process.
  done.catch(() => undefined);
  return { ops: [], sync: false, done, resolve, reject };
}
