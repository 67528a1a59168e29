// Structured JSON logs (pino); `pretty` for humans at a terminal.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function createLogger(opts: { level: string; pretty: boolean; nodeId: string }): Logger {
  if (opts.pretty) {
    return pino({ level: opts.level, base: { node: opts.nodeId }, transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } });
  }
  return pino({ level: opts.level, base: { node: opts.nodeId } });
}
