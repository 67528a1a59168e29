// Structured JSON logs (pino); `pretty` for humans at a terminal. Secrets are
// redacted wherever they would appear in a logged object: credentials in
// request headers, app secrets, tokens and the cluster secret.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'apiKey',
  'tokenSecret',
  'token',
  'clusterSecret',
  '*.apiKey',
  '*.tokenSecret',
  '*.token',
  '*.clusterSecret',
  '*.authorization',
];

export function createLogger(opts: { level: string; pretty: boolean; nodeId: string }): Logger {
  const base = { level: opts.level, base: { node: opts.nodeId }, redact: { paths: REDACTED_PATHS, censor: '<redacted>' } };
  if (opts.pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } });
  }
  return pino(base);
}
