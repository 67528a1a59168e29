import type { Entry, Index, NodeId, Snapshot, Term } from './types.js';

/** Every message carries its sender, receiver and the sender's term (0 for local messages). */
interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
}

/**
 * Raft messages, a discriminated union on `type`. Local messages (MsgHup,
 * MsgBeat, MsgCheckQuorum, MsgSnapStatus, MsgUnreachable) are produced by the
 * node itself or its shell and are rejected when they arrive from the network.
 */
export type Message =
  /** Local: the election timer fired (or the application asked to campaign). */
  | (Envelope & { readonly type: 'MsgHup' })
  /** Local: the leader's heartbeat timer fired. */
  | (Envelope & { readonly type: 'MsgBeat' })
  /** Local: the leader checks that a quorum was active during the last election timeout. */
  | (Envelope & { readonly type: 'MsgCheckQuorum' })
  /** A proposal; entries have index and term 0 until the leader appends them. */
  | (Envelope & { readonly type: 'MsgProp'; readonly entries: readonly Entry[] })
  /** Append entries after (logTerm, index); also carries the leader's commit index. */
  | (Envelope & {
      readonly type: 'MsgApp';
      readonly logTerm: Term;
      readonly index: Index;
      readonly entries: readonly Entry[];
      readonly commit: Index;
    })
  /**
   * Answer to MsgApp. On success `index` is the last index now matching the
   * leader. On reject, `index` is the rejected MsgApp's index and
   * (rejectHint, logTerm) is the follower's guess of where the logs may match.
   */
  | (Envelope & {
      readonly type: 'MsgAppResp';
      readonly index: Index;
      readonly reject: boolean;
      readonly rejectHint: Index;
      readonly logTerm: Term;
    })
  /** Request a vote; `transfer` marks an election started by a leadership transfer. */
  | (Envelope & {
      readonly type: 'MsgVote';
      readonly logTerm: Term;
      readonly index: Index;
      readonly transfer: boolean;
    })
  | (Envelope & { readonly type: 'MsgVoteResp'; readonly reject: boolean })
  /** A pre-vote carries the term the sender would campaign in (its term + 1). */
  | (Envelope & {
      readonly type: 'MsgPreVote';
      readonly logTerm: Term;
      readonly index: Index;
      readonly transfer: boolean;
    })
  | (Envelope & { readonly type: 'MsgPreVoteResp'; readonly reject: boolean })
  /** A whole snapshot in one message (see README: chunking belongs to the transport). */
  | (Envelope & { readonly type: 'MsgSnap'; readonly snapshot: Snapshot })
  /** Local, from the shell: sending a snapshot to `from` finished (or failed). */
  | (Envelope & { readonly type: 'MsgSnapStatus'; readonly reject: boolean })
  /** Local, from the shell: `from` could not be reached. */
  | (Envelope & { readonly type: 'MsgUnreachable' })
  | (Envelope & { readonly type: 'MsgHeartbeat'; readonly commit: Index; readonly context: Uint8Array })
  | (Envelope & { readonly type: 'MsgHeartbeatResp'; readonly context: Uint8Array })
  /** Ask the leader to hand leadership to `from` (the transferee). */
  | (Envelope & { readonly type: 'MsgTransferLeader' })
  /** From the leader to the transferee: campaign now, skipping pre-vote and leases. */
  | (Envelope & { readonly type: 'MsgTimeoutNow' })
  | (Envelope & { readonly type: 'MsgReadIndex'; readonly context: Uint8Array })
  | (Envelope & { readonly type: 'MsgReadIndexResp'; readonly index: Index; readonly context: Uint8Array });

export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

const LOCAL: ReadonlySet<MessageType> = new Set<MessageType>([
  'MsgHup',
  'MsgBeat',
  'MsgCheckQuorum',
  'MsgSnapStatus',
  'MsgUnreachable',
]);

export function isLocalMessage(t: MessageType): boolean {
  return LOCAL.has(t);
}

const RESPONSE: ReadonlySet<MessageType> = new Set<MessageType>([
  'MsgAppResp',
  'MsgVoteResp',
  'MsgPreVoteResp',
  'MsgHeartbeatResp',
  'MsgUnreachable',
  'MsgSnapStatus',
]);

export function isResponseMessage(t: MessageType): boolean {
  return RESPONSE.has(t);
}
