// How a peer link proves who is at each end before any Raft message flows.
//
// Two independent layers, either or both:
// - tls: mutual TLS with a cluster CA. The CA check says "a member of this
//   cluster"; `peerIdOf` maps the certificate to the member it names, which
//   must be the one the link claims (its hello) and the one we dialed.
// - secret: a shared cluster secret proved by HMAC challenge–response over
//   fresh nonces from both ends, so the secret never crosses the wire and a
//   recorded handshake cannot be replayed. It authenticates; it does not
//   encrypt (use tls for that).
// With neither, links are unauthenticated (development only).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { NodeId } from '../types.js';

export interface PeerTls {
  /** PEM. */
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** The member a verified certificate names, or undefined if it names none. */
  readonly peerIdOf: (cert: PeerCertificate) => NodeId | undefined;
}

export interface LinkSecurity {
  readonly tls?: PeerTls;
  readonly secret?: Uint8Array;
}

export const NO_SECURITY: LinkSecurity = {};

/** Bytes of each side's challenge nonce. */
export const NONCE_BYTES = 16;
/** Largest handshake frame accepted before the peer is authenticated. */
export const HANDSHAKE_FRAME_BYTES_MAX = 1024;
/** A handshake not finished within this closes the connection. */
export const HANDSHAKE_TIMEOUT_MS = 5000;

export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('base64');
}

/**
 * The proof one side gives. Bound to the role, both ids and both nonces, so a
 * proof cannot be reflected back, moved to another pair of nodes or reused.
 */
export function proofOf(secret: Uint8Array, role: 'dialer' | 'listener', from: NodeId, to: NodeId, dialerNonce: string, listenerNonce: string): string {
  return createHmac('sha256', secret).update(`longwire-raft-link/v1\0${role}\0${from}\0${to}\0${dialerNonce}\0${listenerNonce}`).digest('base64');
}

export function proofMatches(expected: string, got: unknown): boolean {
  if (typeof got !== 'string') return false;
  const a = Buffer.from(expected, 'base64');
  const b = Buffer.from(got, 'base64');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The handshake frames, JSON-encoded. */
export type Handshake =
  /** Dialer → listener, first: who it is, whom it meant to reach, its nonce when a secret is in use. */
  | { readonly hello: NodeId; readonly to?: NodeId; readonly nonce?: string }
  /** Listener → dialer: its nonce and its proof. */
  | { readonly nonce: string; readonly proof: string }
  /** Dialer → listener: its proof. */
  | { readonly proof: string }
  /**
   * Listener → dialer: proof accepted; Raft messages may flow. The dialer waits
   * for it so that everything before it is a small handshake frame, which lets
   * the listener hold an unauthenticated peer to HANDSHAKE_FRAME_BYTES_MAX.
   */
  | { readonly ok: true };

export function encodeHandshake(h: Handshake): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(h));
}

export function decodeHandshake(f: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(f));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function isNodeId(v: unknown): v is NodeId {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}
