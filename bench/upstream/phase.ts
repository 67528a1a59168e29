// What the parent asks of a generator process (argv[2], JSON) and what the
// generator answers (one JSON line on stdout, prefixed so stray output cannot
// be mistaken for it).
import type { HistogramJson } from './histogram.js';

export type Mode = 'direct' | 'longwire';

export interface PhaseSpec {
  readonly mode: Mode;
  /** First client index of this generator (device d<i>, user u<i>), so ids are unique across generators. */
  readonly firstClient: number;
  readonly clients: number;
  /** Outstanding calls per client; direct mode runs clients × window concurrent calls. */
  readonly window: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** After the window closes, outstanding calls get this long to finish before the generator gives up on them. */
  readonly drainMs: number;
  readonly webhookUrl: string;
  readonly wsUrl: string;
}

export interface PhaseResult {
  readonly mode: Mode;
  /** Calls answered ok within the measured window. */
  readonly ok: number;
  /** Calls answered with an error within the measured window, by error code. */
  readonly errors: Readonly<Record<string, number>>;
  readonly windowMs: number;
  readonly latency: HistogramJson;
  /** Calls sent in total (warmup included) and still unanswered after the drain. */
  readonly sent: number;
  readonly unanswered: number;
  /** Frames other than replies the server sent (e.g. rate-limit errors), by type or code. */
  readonly otherFrames: Readonly<Record<string, number>>;
  /** CPU time (user + system) of the generator process over its whole life, ms. */
  readonly cpuMs: number;
}

export const RESULT_PREFIX = 'UPSTREAM-RESULT ';
