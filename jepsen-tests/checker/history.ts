// A delivery history: what the workload observed, in the order it observed it.
// Porcupine-shaped for pushes ({call, return} with return = Infinity when the
// outcome is unknown) and per-connection event lists for devices.

export type PushOutcome =
  | { readonly kind: 'ok'; readonly seq: number }
  /** The API answered an error: nothing was stored. */
  | { readonly kind: 'fail'; readonly status: number }
  /** No answer (timeout, node killed): it may or may not have been stored. */
  | { readonly kind: 'unknown' };

export interface PushOp {
  readonly user: string;
  /** Unique per push (its users share it when it went to several), so a delivered message names the push it came from. */
  readonly value: string;
  readonly call: number;
  readonly return: number;
  readonly outcome: PushOutcome;
}

export type DeviceEvent =
  | { readonly type: 'connected'; readonly conn: number; readonly at: number }
  | { readonly type: 'msg'; readonly conn: number; readonly seq: number; readonly value: string; readonly at: number }
  | { readonly type: 'gap'; readonly conn: number; readonly from: number; readonly to: number; readonly reason: string; readonly at: number }
  /** Sent by the device; cumulative. */
  | { readonly type: 'ack'; readonly conn: number; readonly seq: number; readonly at: number }
  | { readonly type: 'disconnected'; readonly conn: number; readonly at: number };

export interface DeviceHistory {
  readonly device: string;
  readonly user: string;
  readonly events: readonly DeviceEvent[];
}

export interface DeliveryHistory {
  readonly pushes: readonly PushOp[];
  readonly devices: readonly DeviceHistory[];
}
