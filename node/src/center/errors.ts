// The one registry of API error codes. Each code has a fixed HTTP status; the
// body is always {"error":{"code","message"}} (docs/PROTOCOL.md).
export const ApiErrors = {
  invalid: { status: 400, code: 'invalid' },
  tooManyUsers: { status: 400, code: 'too-many-users' },
  invalidAppName: { status: 400, code: 'invalid-app-name' },
  unauthorized: { status: 401, code: 'unauthorized' },
  forbidden: { status: 403, code: 'forbidden' },
  notFound: { status: 404, code: 'not-found' },
  appNotFound: { status: 404, code: 'app-not-found' },
  conflict: { status: 409, code: 'conflict' },
  compacted: { status: 410, code: 'compacted' },
  tooLarge: { status: 413, code: 'too-large' },
  rateLimited: { status: 429, code: 'rate-limited' },
  tooManyWatches: { status: 429, code: 'too-many-watches' },
  tooManyConnections: { status: 429, code: 'too-many-connections' },
  internal: { status: 500, code: 'internal' },
  notReady: { status: 503, code: 'not-ready' },
  peerUnavailable: { status: 503, code: 'peer-unavailable' },
} as const;
export type ApiErrorKind = keyof typeof ApiErrors;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;
  constructor(kind: ApiErrorKind, message: string, opts?: { extra?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ApiError';
    this.status = ApiErrors[kind].status;
    this.code = ApiErrors[kind].code;
    this.extra = opts?.extra;
    this.headers = opts?.headers;
  }
}
