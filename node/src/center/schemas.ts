// JSON schemas shared by the routes; compiled once at registration.
export const appParam = {
  type: 'object',
  required: ['app'],
  properties: { app: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } },
} as const;

/** Users, topics, ids: non-empty, at most 256 characters, no control characters. */
export const identifier = { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]+$' } as const;

export const errorBody = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
} as const;
