// The peer RPC routes became link methods (peer-methods.ts). push-router.ts,
// being changed on another branch, still imports PeerPush from here: this
// re-export goes once that import names peer-methods.js.
export type { PeerPush } from './peer-methods.js';
