// Forcing a full garbage collection in another Node process without changing
// its code: the process runs with --inspect=127.0.0.1:0, and a short Chrome
// DevTools Protocol session asks for HeapProfiler.collectGarbage. Memory read
// right after it is the live set, not whatever garbage the last GC left.
import WebSocket from 'ws';

const LISTENING = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+)/;

/** The node flag that enables it, loopback only, on a free port. */
export const INSPECT_FLAG = '--inspect=127.0.0.1:0';

/** Finds the inspector URL in a process's stderr text, if printed yet. */
export function inspectorUrl(stderr: string): string | undefined {
  return LISTENING.exec(stderr)?.[1];
}

export function collectGarbage(url: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(() => finish(new Error(`inspector ${url}: no answer in ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      ws.terminate();
      if (err === undefined) resolve();
      else reject(err);
    };
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as { id?: number; error?: { message?: string } };
      if (m.id !== 1) return;
      finish(m.error === undefined ? undefined : new Error(`inspector: ${m.error.message ?? 'error'}`));
    });
    ws.on('error', (err) => finish(err));
  });
}
