// Forcing a full garbage collection in another Node process without changing
// its code: the process runs with --inspect=127.0.0.1:0, and a short Chrome
// DevTools Protocol session asks for HeapProfiler.collectGarbage — on the main
// thread and, through NodeWorker sessions, in every worker thread (longwire
// runs its Raft member in one). Memory read right after it is the live set,
// not whatever garbage the last collections left.
import WebSocket from 'ws';

const LISTENING = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+)/;

/** The node flag that enables it, loopback only, on a free port. */
export const INSPECT_FLAG = '--inspect=127.0.0.1:0';

/** How long to wait after NodeWorker.enable for the attach events of running workers. */
const ATTACH_WAIT_MS = 300;

/** Finds the inspector URL in a process's stderr text, if printed yet. */
export function inspectorUrl(stderr: string): string | undefined {
  return LISTENING.exec(stderr)?.[1];
}

interface CdpMessage {
  readonly id?: number;
  readonly method?: string;
  readonly params?: { readonly sessionId?: string; readonly message?: string };
  readonly error?: { readonly message?: string };
}

/** Collects garbage on the main thread and in every worker thread; resolves with the number of workers collected. */
export function collectGarbage(url: string, timeoutMs = 15_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const workers = new Set<string>();
    const pending = new Set<string>();
    let mainDone = false;
    let sent = false;
    const timer = setTimeout(() => finish(new Error(`inspector ${url}: no answer in ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      ws.terminate();
      if (err === undefined) resolve(workers.size);
      else reject(err);
    };
    const maybeDone = (): void => {
      if (sent && mainDone && pending.size === 0) finish();
    };
    const collectAll = (): void => {
      sent = true;
      ws.send(JSON.stringify({ id: 2, method: 'HeapProfiler.collectGarbage' }));
      for (const sessionId of workers) {
        pending.add(sessionId);
        const message = JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' });
        ws.send(JSON.stringify({ id: 3, method: 'NodeWorker.sendMessageToWorker', params: { sessionId, message } }));
      }
    };
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'NodeWorker.enable', params: { waitForDebuggerOnStart: false } })));
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as CdpMessage;
      if (m.error !== undefined) return finish(new Error(`inspector: ${m.error.message ?? 'error'}`));
      if (m.method === 'NodeWorker.attachedToWorker' && m.params?.sessionId !== undefined) {
        workers.add(m.params.sessionId);
      } else if (m.method === 'NodeWorker.receivedMessageFromWorker' && m.params?.sessionId !== undefined) {
        const inner = JSON.parse(m.params.message ?? '{}') as CdpMessage;
        if (inner.id === 1) {
          pending.delete(m.params.sessionId);
          maybeDone();
        }
      } else if (m.id === 1) {
        setTimeout(collectAll, ATTACH_WAIT_MS);
      } else if (m.id === 2) {
        mainDone = true;
        maybeDone();
      }
    });
    ws.on('error', (err) => finish(err));
  });
}
