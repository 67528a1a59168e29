// Shared helpers for connection-machine tests: a machine with pinned jitter,
// and filters over the actions it returns.
import { type Action, ConnectionMachine, type MachineConfig } from '../src/core/connection-machine.js';
import type { ClientFrame } from '../src/core/frames.js';
import type { Status } from '../src/core/status.js';

export const CONFIG: MachineConfig = {
  device: 'dev-1',
  urls: ['ws://a:1/ws', 'ws://b:2/ws'],
  backoff: { minMs: 100, maxMs: 1000 },
  limitBackoff: { minMs: 5000, maxMs: 60000 },
  connectTimeoutMs: 3000,
  redirectTtlMs: 60000,
  redirectsInRowMax: 3,
  dedupIdsMax: 4,
  random: () => 0.5,
};

/** A machine with app `chat` (token `t`) bound, since a machine connects only once it has an app. */
export function machine(overrides: Partial<MachineConfig> = {}): ConnectionMachine {
  const m = new ConnectionMachine({ ...CONFIG, ...overrides });
  m.bind(0, 'chat', 't');
  return m;
}

export function sends(actions: readonly Action[]): ClientFrame[] {
  return actions.flatMap((a) => (a.type === 'send' ? [a.frame] : []));
}

export function statuses(actions: readonly Action[]): Status[] {
  return actions.flatMap((a) => (a.type === 'emit' ? [a.status] : []));
}

export function connects(actions: readonly Action[]): string[] {
  return actions.flatMap((a) => (a.type === 'connect' ? [a.url] : []));
}

export function delivered(actions: readonly Action[]): Extract<Action, { type: 'deliver' }>['delivery'][] {
  return actions.flatMap((a) => (a.type === 'deliver' ? [a.delivery] : []));
}

/** Starts `m` at `nowMs`, opens the socket and answers with welcome (heartbeat in seconds). */
export function open(m: ConnectionMachine, nowMs: number, heartbeat = 10, tokens: ReadonlyMap<string, string> = new Map()): Action[] {
  return [...m.start(nowMs), ...m.onSocketOpen(nowMs, tokens), ...m.onFrame(nowMs, { t: 'welcome', session: 's1', node: 'n1', heartbeat })];
}

/** After a loss: ticks to the retry deadline, opens the next socket and welcomes it. */
export function reopen(m: ConnectionMachine, heartbeat = 10): { at: number; actions: Action[] } {
  const at = m.nextDeadline();
  if (at === undefined) throw new Error('no retry scheduled');
  const actions = [...m.onTick(at), ...m.onSocketOpen(at, new Map()), ...m.onFrame(at, { t: 'welcome', session: 's2', node: 'n2', heartbeat })];
  return { at, actions };
}
