// The `ws` package behind the core's Transport (Node 20 has no global WebSocket).
import WebSocket from 'ws';
import type { Transport } from './core/transport.js';

/** Largest frame accepted from the server; a larger one closes with 1009. */
export const DEFAULT_FRAME_BYTES_MAX = 16 * 1024 * 1024;

export function nodeTransport(frameBytesMax: number = DEFAULT_FRAME_BYTES_MAX): Transport {
  return (url, protocol, handlers) => {
    const ws = new WebSocket(url, protocol, { maxPayload: frameBytesMax, perMessageDeflate: false });
    ws.on('open', () => handlers.onOpen());
    ws.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
      handlers.onMessage(isBinary ? bytes : bytes.toString('utf8'));
    });
    ws.on('close', (code, reason) => handlers.onClose(code, reason.toString('utf8')));
    // An error is always followed by 'close', which drives the reconnect; without a
    // listener ws would throw it.
    ws.on('error', () => {});
    return {
      get protocol() {
        return ws.protocol;
      },
      send: (data) => ws.send(data),
      close: (code, reason) => ws.close(code, reason),
    };
  };
}
