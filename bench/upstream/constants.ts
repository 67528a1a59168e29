// Fixed names and secrets of the upstream bench: the app, its keys and the
// admin token of the node it starts. Only ever used on 127.0.0.1.
export const APP = 'bench';
export const API_KEY = 'bench-upstream-api-key-0123456789';
export const TOKEN_SECRET = 'bench-upstream-token-secret-0123456789';
export const ADMIN_TOKEN = 'bench-upstream-admin-token-0123456789';
export const SUBPROTOCOL = 'longwire.v1.json';
/** Same bound as the node's coordinator (WEBHOOK_TIMEOUT_MS), applied to direct calls too. */
export const WEBHOOK_TIMEOUT_MS = 5000;
