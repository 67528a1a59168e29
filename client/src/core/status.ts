// What the client reports about itself, one union member per event.
import type { LongwireError } from './errors.js';
import type { GapReason } from './frames.js';

export type Status =
  | { readonly type: 'connecting'; readonly url: string }
  | { readonly type: 'connected'; readonly url: string; readonly node: string; readonly session: string }
  | {
      readonly type: 'disconnected';
      readonly code: number;
      readonly reason: string;
      readonly willReconnect: boolean;
      /** Set when willReconnect: the delay chosen by backoff (0 after a redirect). */
      readonly retryInMs?: number;
      readonly error: LongwireError;
    }
  | { readonly type: 'bound'; readonly app: string; readonly user: string; readonly seq: number }
  | { readonly type: 'gap'; readonly app: string; readonly from: number; readonly to: number; readonly reason: GapReason }
  | { readonly type: 'error'; readonly error: LongwireError; readonly app?: string }
  | { readonly type: 'closed'; readonly error?: LongwireError };
