// A watcher of the workload: one GET /v1/watch stream at a time on the
// workload prefix, through a random node, recording every NDJSON line. When a
// stream ends (node killed, stalled by a pause, closed by a blip, ended by the
// keeper) it resumes from the last revision it saw + 1 (event or progress),
// through a random node; after a 410 compacted it re-reads and starts fresh.
import type { WatchEnd, WatchItem, WatchStream } from '../checker/kv-history.js';
import type { Rng } from '../cluster/rng.js';
import { httpJson, kvPath, type KvTarget } from './kv-client.js';

/** A stream with no line for this long is presumed stalled (progress comes at least every 5 s). */
export const WATCH_STALL_MS = 12_000;
/** Pause before resuming a stream. */
const RESUME_DELAY_MS = 50;
/** Chunks read from one stream at most; the stream is then closed and resumed like a blip. */
const CHUNKS_MAX = 10_000_000;
/** Streams one watcher opens at most in a run. */
const STREAMS_MAX = 10_000;

export interface KvWatcherOptions {
  readonly name: string;
  readonly prefix: string;
  readonly targets: () => readonly KvTarget[];
  readonly adminToken: string;
  readonly rng: Rng;
  readonly now: () => number;
  readonly out: WatchStream[];
}

/** A watch line as parsed JSON: every field is unknown until checked (the casts below only name this shape). */
type Line = { revision?: unknown; type?: unknown; key?: unknown; value?: unknown; progress?: unknown; error?: { code?: unknown; compactRevision?: unknown; lastRevision?: unknown } };

export class KvWatcher {
  /** The revision up to which everything was delivered (last event or progress). */
  lastRevision = 0;
  private abort: AbortController | undefined;
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly o: KvWatcherOptions) {}

  get name(): string {
    return this.o.name;
  }

  start(): void {
    this.done = this.loop();
  }

  /** Closes the current stream from the client side; the watcher resumes. */
  blip(): void {
    this.abort?.abort(new Error('blip'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort(new Error('stop'));
    await this.done;
  }

  private async loop(): Promise<void> {
    let from = 1;
    let fresh = true;
    for (let n = 0; n < STREAMS_MAX && !this.stopped; n++) {
      const end = await this.stream(n, from, fresh);
      fresh = false;
      if (end.reason === 'compacted') {
        // Explicitly told the history is gone: re-read, then watch from the read's revision + 1.
        const rev = await this.currentRevision();
        if (rev !== undefined) {
          from = rev + 1;
          this.lastRevision = Math.max(this.lastRevision, rev);
          fresh = true;
        }
      } else {
        from = this.lastRevision + 1;
      }
      // A stream that failed before its first line (node down) retries less eagerly.
      const empty = end.reason === 'dropped' && (this.o.out[this.o.out.length - 1]?.items.length ?? 0) === 0;
      if (!this.stopped) await new Promise((r) => setTimeout(r, empty ? RESUME_DELAY_MS * 4 : RESUME_DELAY_MS));
    }
  }

  private async currentRevision(): Promise<number | undefined> {
    const t = this.o.rng.pick(this.o.targets());
    const r = await httpJson(`${t.apiUrl}${kvPath(this.o.prefix)}?prefix=true`, { method: 'GET', adminToken: this.o.adminToken, timeoutMs: 2000 });
    if (r.kind !== 'answer' || r.status !== 200 || typeof r.body !== 'object' || r.body === null) return undefined;
    const rev = (r.body as { revision?: unknown }).revision;
    return typeof rev === 'number' ? rev : undefined;
  }

  private async stream(n: number, fromRevision: number, startedFresh: boolean): Promise<WatchEnd> {
    const target = this.o.rng.pick(this.o.targets());
    const items: WatchItem[] = [];
    const startedAt = this.o.now();
    const abort = new AbortController();
    this.abort = abort;
    let stall: NodeJS.Timeout | undefined;
    const armStall = (): void => {
      clearTimeout(stall);
      stall = setTimeout(() => abort.abort(new Error('stalled')), WATCH_STALL_MS);
    };
    const record = (end: WatchEnd): WatchEnd => {
      clearTimeout(stall);
      this.o.out.push({ watcher: this.o.name, stream: n, node: target.id, prefix: this.o.prefix, fromRevision, startedFresh, startedAt, items, end });
      return end;
    };
    if (this.stopped) return record({ reason: 'client', at: this.o.now() });
    armStall();
    try {
      const q = new URLSearchParams({ key: this.o.prefix, prefix: 'true', fromRevision: String(fromRevision) });
      const res = await fetch(`${target.apiUrl}/v1/watch?${q.toString()}`, { headers: { authorization: `Bearer ${this.o.adminToken}` }, signal: abort.signal });
      if (res.status === 410) {
        const body = (await res.json()) as Line;
        const c = body.error?.compactRevision;
        return record({ reason: 'compacted', at: this.o.now(), compactRevision: typeof c === 'number' ? c : 0 });
      }
      if (res.status !== 200 || res.body === null) {
        await res.text().catch(() => '');
        return record({ reason: 'dropped', at: this.o.now(), detail: `status ${res.status}` });
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (let chunk = 0; chunk < CHUNKS_MAX; chunk++) {
        const { done, value } = await reader.read();
        if (done) return record({ reason: 'dropped', at: this.o.now(), detail: 'stream ended without an error line' });
        armStall();
        buf += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const text = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (text.trim() === '') continue;
          const line = JSON.parse(text) as Line;
          const at = this.o.now();
          if (typeof line.progress === 'number') {
            items.push({ type: 'progress', revision: line.progress, at });
            this.lastRevision = Math.max(this.lastRevision, line.progress);
          } else if (line.error !== undefined) {
            const code = typeof line.error.code === 'string' ? line.error.code : 'unknown';
            await reader.cancel().catch(() => undefined);
            if (code === 'compacted') return record({ reason: 'compacted', at, compactRevision: typeof line.error.compactRevision === 'number' ? line.error.compactRevision : 0 });
            const last = typeof line.error.lastRevision === 'number' ? line.error.lastRevision : this.lastRevision;
            this.lastRevision = Math.max(this.lastRevision, last);
            return record({ reason: 'cancelled', at, code, lastRevision: last });
          } else if (typeof line.revision === 'number' && (line.type === 'put' || line.type === 'delete') && typeof line.key === 'string') {
            items.push({ type: 'event', kind: line.type, revision: line.revision, key: line.key, ...(typeof line.value === 'string' ? { value: line.value } : {}), at });
            this.lastRevision = Math.max(this.lastRevision, line.revision);
          } else {
            throw new Error(`malformed watch line: ${text}`);
          }
        }
      }
      await reader.cancel().catch(() => undefined);
      return record({ reason: 'client', at: this.o.now() });
    } catch (err) {
      const why = abort.signal.reason instanceof Error ? abort.signal.reason.message : err instanceof Error ? err.message : String(err);
      if (why === 'blip' || why === 'stop') return record({ reason: 'client', at: this.o.now() });
      return record({ reason: 'dropped', at: this.o.now(), detail: why });
    }
  }
}
