import { decodeConfChange } from '../../src/confchange.js';
import type { Message } from '../../src/message.js';
import type { Ready } from '../../src/raw-node.js';
import type { Entry, HardState, Snapshot } from '../../src/types.js';

const dec = new TextDecoder();

export function fmtData(d: Uint8Array): string {
  return JSON.stringify(dec.decode(d));
}

export function fmtEntry(e: Entry): string {
  if (e.type === 'conf-change') {
    const cc = decodeConfChange(e.data);
    return `${e.term}/${e.index} ConfChange ${cc === undefined ? '?' : `${cc.type} ${cc.nodeId}`}`;
  }
  return e.data.length === 0 ? `${e.term}/${e.index} Normal ""` : `${e.term}/${e.index} Normal ${fmtData(e.data)}`;
}

export function fmtEntries(es: readonly Entry[]): string {
  return `[${es.map(fmtEntry).join(', ')}]`;
}

export function fmtHardState(hs: HardState): string {
  return `HardState Term:${hs.term} Vote:${hs.vote} Commit:${hs.commit}`;
}

export function fmtSnapshot(s: Snapshot): string {
  return `Snapshot Index:${s.meta.index} Term:${s.meta.term} Voters:(${s.meta.confState.voters.join(',')}) Learners:(${s.meta.confState.learners.join(',')})`;
}

/** One line per message, in the style of etcd's DescribeMessage. */
export function fmtMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} Term:${m.term}`;
  switch (m.type) {
    case 'MsgApp':
      return `${head} Log:${m.logTerm}/${m.index} Commit:${m.commit}${m.entries.length > 0 ? ` Entries:${fmtEntries(m.entries)}` : ''}`;
    case 'MsgAppResp':
      return m.reject ? `${head} Rejected (Hint: ${m.rejectHint}/${m.logTerm}) Index:${m.index}` : `${head} Index:${m.index}`;
    case 'MsgVote':
    case 'MsgPreVote':
      return `${head} Log:${m.logTerm}/${m.index}${m.transfer ? ' Transfer' : ''}`;
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return `${head}${m.reject ? ' Rejected' : ''}`;
    case 'MsgProp':
      return `${head} Entries:${fmtEntries(m.entries)}`;
    case 'MsgSnap':
      return `${head} ${fmtSnapshot(m.snapshot)}`;
    case 'MsgHeartbeat':
      return `${head} Commit:${m.commit}${m.context.length > 0 ? ` Context:${fmtData(m.context)}` : ''}`;
    case 'MsgHeartbeatResp':
      return `${head}${m.context.length > 0 ? ` Context:${fmtData(m.context)}` : ''}`;
    case 'MsgReadIndex':
      return `${head} Context:${fmtData(m.context)}`;
    case 'MsgReadIndexResp':
      return `${head} Index:${m.index} Context:${fmtData(m.context)}`;
    case 'MsgSnapStatus':
      return `${head}${m.reject ? ' Rejected' : ''}`;
    case 'MsgHup':
    case 'MsgBeat':
    case 'MsgCheckQuorum':
    case 'MsgUnreachable':
    case 'MsgTransferLeader':
    case 'MsgTimeoutNow':
      return head;
  }
}

export function fmtReady(rd: Ready): string[] {
  const out: string[] = [];
  if (rd.softState !== undefined) out.push(`Lead:${rd.softState.lead} State:${rd.softState.state}`);
  if (rd.hardState !== undefined) out.push(fmtHardState(rd.hardState));
  if (rd.entries.length > 0) {
    out.push('Entries:');
    for (const e of rd.entries) out.push(`  ${fmtEntry(e)}`);
  }
  if (rd.snapshot !== undefined) out.push(fmtSnapshot(rd.snapshot));
  if (rd.committedEntries.length > 0) {
    out.push('CommittedEntries:');
    for (const e of rd.committedEntries) out.push(`  ${fmtEntry(e)}`);
  }
  if (rd.earlyMessages.length > 0) {
    out.push('EarlyMessages:');
    for (const m of rd.earlyMessages) out.push(`  ${fmtMessage(m)}`);
  }
  if (rd.messages.length > 0) {
    out.push('Messages:');
    for (const m of rd.messages) out.push(`  ${fmtMessage(m)}`);
  }
  if (rd.readStates.length > 0) {
    out.push('ReadStates:');
    for (const r of rd.readStates) out.push(`  Index:${r.index} Context:${fmtData(r.context)}`);
  }
  return out;
}
