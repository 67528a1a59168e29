// The keeper workload's history: every kv operation as a Porcupine interval
// (with the key it touched and the node it went through), every watch stream
// as the list of lines it delivered, and the final linearizable read.
import type { RegisterInput, RegisterOutput } from '../model/register.js';
import type { Operation } from './operation.js';

export interface KvOperation extends Operation<RegisterInput, RegisterOutput> {
  readonly key: string;
  /** The node id whose API served (or did not answer) the call. */
  readonly node: string;
}

export type WatchItem =
  | { readonly type: 'event'; readonly kind: 'put' | 'delete'; readonly revision: number; readonly key: string; readonly value?: string; readonly at: number }
  | { readonly type: 'progress'; readonly revision: number; readonly at: number };

export type WatchEnd =
  /** The workload closed the stream (a blip or the end of the run). */
  | { readonly reason: 'client'; readonly at: number }
  /** The connection failed or the node died (no error line). */
  | { readonly reason: 'dropped'; readonly at: number; readonly detail: string }
  /** fromRevision was compacted: an explicit, allowed gap (410, or an error line). */
  | { readonly reason: 'compacted'; readonly at: number; readonly compactRevision: number }
  /** The keeper ended the stream with an error line (watch-slow, watch-closed). */
  | { readonly reason: 'cancelled'; readonly at: number; readonly code: string; readonly lastRevision: number };

export interface WatchStream {
  readonly watcher: string;
  /** Index of the stream within its watcher, from 0. */
  readonly stream: number;
  readonly node: string;
  /** The watched prefix. */
  readonly prefix: string;
  readonly fromRevision: number;
  /** True for a watcher's first stream and one started after a compaction (re-read, then watch): not a resume. */
  readonly startedFresh: boolean;
  readonly startedAt: number;
  readonly items: readonly WatchItem[];
  readonly end: WatchEnd;
}

export interface FinalRead {
  readonly revision: number;
  readonly kvs: readonly { readonly key: string; readonly value: string; readonly modRevision: number }[];
}

export interface KvHistory {
  readonly operations: readonly KvOperation[];
  readonly watches: readonly WatchStream[];
  /** A linearizable read of every workload key after the healed phase; absent when it never succeeded. */
  readonly finalRead: FinalRead | undefined;
}
