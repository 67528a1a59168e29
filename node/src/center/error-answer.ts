// The contract's answer for an error the node knows how to name: an ApiError
// as thrown, a keeper error by its code. Shared by the HTTP error handler
// (app.ts) and the peer link (link-server.ts), so a peer call is refused with
// the same code and status an HTTP call would be.
import { KeeperError } from '../../../keeper/src/errors.js';
import { ApiError } from './errors.js';

export interface ErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly extra?: Record<string, unknown>;
  readonly headers?: Record<string, string>;
}

/** undefined: not an error the API names (a bug; answered 500 internal and logged). */
export function errorAnswer(err: unknown): ErrorAnswer | undefined {
  if (err instanceof ApiError) {
    return { status: err.status, code: err.code, message: err.message, ...(err.extra === undefined ? {} : { extra: err.extra }), ...(err.headers === undefined ? {} : { headers: err.headers }) };
  }
  if (err instanceof KeeperError) {
    switch (err.code) {
      case 'compare-failed':
        return { status: 409, code: 'conflict', message: err.message };
      case 'lease-not-found':
        return { status: 404, code: 'lease-not-found', message: err.message };
      case 'compacted':
        return { status: 410, code: 'compacted', message: err.message, extra: { compactRevision: err.compactRevision } };
      case 'conflict':
        return { status: 409, code: 'conflict', message: err.message };
      case 'no-leader':
      case 'not-leader':
      case 'closed':
        return { status: 503, code: 'not-ready', message: err.message };
      // Proposed, not seen applied: a caller must not assume either way (nor retry blindly).
      case 'timeout':
        return { status: 504, code: 'timeout', message: err.message };
      case 'invalid':
        return { status: 400, code: 'invalid', message: err.message };
      case 'no-space':
        return { status: 507, code: 'no-space', message: err.message };
      case 'member-not-found':
        return { status: 404, code: 'not-found', message: err.message };
      case 'corrupt':
        return undefined;
    }
  }
  return undefined;
}
