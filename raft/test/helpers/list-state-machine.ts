// A state machine module for worker tests: a list of applied strings; each
// apply is reported to the host as an event.
import type { StateMachine } from '../../src/shell/raft-shell.js';
import type { CreateStateMachine } from '../../src/shell/worker-protocol.js';

export const createStateMachine: CreateStateMachine = (emit) => {
  let items: string[] = [];
  const dec = new TextDecoder();
  const sm: StateMachine = {
    restore: (s) => {
      items = JSON.parse(dec.decode(s.data)) as string[];
    },
    apply: (e) => {
      if (e.type !== 'normal' || e.data.length === 0) return;
      const v = dec.decode(e.data);
      items.push(v);
      emit({ index: e.index, value: v });
    },
    snapshot: () => new TextEncoder().encode(JSON.stringify(items)),
  };
  return sm;
};
