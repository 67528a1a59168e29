// `bench:push -- --tls-compare`: the same scenarios against a node serving
// plain ws:// + http:// and a node serving wss:// + https:// (a throwaway CA
// and a certificate for 127.0.0.1), both up at once in each scenario and
// taking turns, so the TLS cost comes out as a ratio measured in one run.
// Connect rounds count the handshake on their own; unicast and broadcast run
// over connections already open (and keep-alive HTTPS for the pushes), so
// they show the per-message cost of encryption.
import { startLongwire } from '../lib/longwire-target.js';
import type { Target } from '../lib/target.js';
import { makeTlsMaterial } from '../lib/tls-material.js';
import { runConnect, type ConnectConfig, type ConnectRun } from './connect.js';
import { runFanout, type FanoutConfig, type FanoutResult } from './fanout.js';
import { summarizeUnicast, type UnicastSummary } from './report.js';
import { runUnicast, type UnicastConfig, type UnicastRun } from './unicast.js';

export interface TlsCompareConfig {
  readonly connect: ConnectConfig;
  /** Run once at qos 1 and once at qos 0; the qos field is set per run. */
  readonly unicast: UnicastConfig;
  readonly fanout: FanoutConfig;
}

export interface UnicastPair {
  readonly qos: 0 | 1;
  readonly runs: readonly Omit<UnicastRun, 'latencies'>[];
  readonly plain: UnicastSummary;
  readonly tls: UnicastSummary;
}

export interface TlsCompareResult {
  readonly connect: { readonly plain: ConnectRun; readonly tls: ConnectRun };
  readonly unicast: readonly UnicastPair[];
  readonly fanout: { readonly plain: FanoutResult; readonly tls: FanoutResult };
}

function pair<T>(xs: readonly T[], what: string): { plain: T; tls: T } {
  const [plain, tls] = xs;
  if (plain === undefined || tls === undefined) throw new Error(`${what}: expected a plain and a tls result`);
  return { plain, tls };
}

export async function runTlsCompare(cfg: TlsCompareConfig, log: (s: string) => void): Promise<TlsCompareResult> {
  const material = await makeTlsMaterial();
  try {
    const tls = { certFile: material.certFile, keyFile: material.keyFile, ca: material.ca };
    const httpConcurrency = cfg.unicast.inflight;
    const plainNode = (): Promise<Target> => startLongwire({ fsync: false, httpConcurrency, inspect: false });
    const tlsNode = (): Promise<Target> => startLongwire({ fsync: false, httpConcurrency, inspect: false, tls });
    // The fan-out reads memory after a forced GC, through the inspector.
    const plainInspected = (): Promise<Target> => startLongwire({ fsync: false, httpConcurrency, inspect: true });
    const tlsInspected = (): Promise<Target> => startLongwire({ fsync: false, httpConcurrency, inspect: true, tls });

    log(`connect: ${cfg.connect.rounds} rounds of ${cfg.connect.connections} connections per node, ${cfg.connect.workers} client processes, ${cfg.connect.concurrency} handshakes in flight each`);
    const connect = pair(await runConnect([plainNode, tlsNode], cfg.connect, log), 'connect');

    const unicast: UnicastPair[] = [];
    for (const qos of [1, 0] as const) {
      log(`unicast qos ${qos}: ${cfg.unicast.clients} clients per node, ${cfg.unicast.inflight} pushes in flight, ${cfg.unicast.slices} slices of ${cfg.unicast.sliceSeconds} s per node`);
      const runs = await runUnicast([plainNode, tlsNode], { ...cfg.unicast, qos }, log);
      const { plain, tls: secure } = pair(runs, `unicast qos ${qos}`);
      unicast.push({ qos, runs: runs.map(({ latencies: _latencies, ...rest }) => rest), plain: summarizeUnicast(plain.label, [plain]), tls: summarizeUnicast(secure.label, [secure]) });
    }

    log(`broadcast: ${cfg.fanout.sizes.join(', ')} connections per node, ${cfg.fanout.workers} client processes per node, ${cfg.fanout.broadcastRounds} rounds`);
    const fanout = pair(await runFanout([plainInspected, tlsInspected], cfg.fanout, log), 'broadcast');
    return { connect, unicast, fanout };
  } finally {
    await material.drop();
  }
}
