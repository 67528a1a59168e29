// The browser's WebSocket behind the core's Transport.
import type { Transport } from './core/transport.js';

export const browserTransport: Transport = (url, protocol, handlers) => {
  const ws = new WebSocket(url, protocol);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => handlers.onOpen();
  ws.onmessage = (e: MessageEvent<unknown>) => {
    if (typeof e.data === 'string') handlers.onMessage(e.data);
    else if (e.data instanceof ArrayBuffer) handlers.onMessage(new Uint8Array(e.data));
  };
  ws.onclose = (e) => handlers.onClose(e.code, e.reason);
  return {
    get protocol() {
      return ws.protocol;
    },
    send: (data) => ws.send(data),
    close: (code, reason) => ws.close(code, reason),
  };
};
