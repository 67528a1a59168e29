// The TLS comparison as table rows: each figure for the plain node and the TLS
// node side by side, with the ratio TLS / plain (above 1 for a cost: time,
// CPU, memory; below 1 for a rate).
import { fmtBytes, fmtInt, fmtMs, fmtRatio, fmtUs, renderTable } from '../lib/table.js';
import type { TlsCompareConfig, TlsCompareResult } from './tls-compare.js';

export interface TlsRow {
  readonly scenario: string;
  readonly figure: string;
  readonly plain: string;
  readonly tls: string;
  readonly ratio: number;
}

export function tlsRows(r: TlsCompareResult, cfg: TlsCompareConfig): TlsRow[] {
  const rows: TlsRow[] = [];
  const row = (scenario: string, figure: string, plain: number, tls: number, fmt: (n: number) => string): void => {
    rows.push({ scenario, figure, plain: fmt(plain), tls: fmt(tls), ratio: tls / plain });
  };
  const perSec = (n: number): string => `${fmtInt(n)}/s`;

  const c = r.connect;
  const connectScenario = `connect + hello + bind, ${cfg.connect.rounds} × ${fmtInt(cfg.connect.connections)}`;
  row(connectScenario, 'connections/s (median round)', c.plain.connectsPerSec, c.tls.connectsPerSec, perSec);
  row(connectScenario, 'server CPU per connection', c.plain.cpuUsPerConnect, c.tls.cpuUsPerConnect, fmtUs);
  row(connectScenario, 'client processes CPU per connection', c.plain.clientCpuUsPerConnect, c.tls.clientCpuUsPerConnect, fmtUs);

  for (const u of r.unicast) {
    const scenario = `unicast qos ${u.qos}, ${fmtInt(cfg.unicast.clients)} clients`;
    const lost = u.plain.received < u.plain.pushed || u.tls.received < u.tls.pushed;
    row(scenario, `msgs/s${lost ? ' (some not received!)' : ''}`, u.plain.msgsPerSec, u.tls.msgsPerSec, fmtInt);
    row(scenario, 'latency p50', u.plain.p50Ms, u.tls.p50Ms, fmtMs);
    row(scenario, 'latency p99', u.plain.p99Ms, u.tls.p99Ms, fmtMs);
    row(scenario, 'server CPU per message', u.plain.cpuUsPerMsg, u.tls.cpuUsPerMsg, fmtUs);
  }

  let before = 0;
  for (const p of r.fanout.plain.steps) {
    const t = r.fanout.tls.steps.find((s) => s.connections === p.connections);
    if (t === undefined) continue;
    const scenario = `broadcast 256 B to ${fmtInt(p.connections)}`;
    const missing = p.broadcast.missing + t.broadcast.missing > 0 ? ` (missing: plain ${p.broadcast.missing}, tls ${t.broadcast.missing})` : '';
    row(scenario, `deliveries/s (median round)${missing}`, p.broadcast.deliveriesPerSec, t.broadcast.deliveriesPerSec, perSec);
    row(scenario, 'delivery latency p50 (median of rounds)', p.broadcast.deliveryP50Ms, t.broadcast.deliveryP50Ms, fmtMs);
    row(scenario, 'delivery latency p99 (median of rounds)', p.broadcast.deliveryP99Ms, t.broadcast.deliveryP99Ms, fmtMs);
    row(scenario, 'server CPU per delivery, net of idle', p.broadcast.netCpuUsPerDelivery, t.broadcast.netCpuUsPerDelivery, fmtUs);
    row(scenario, 'server CPU per delivery, raw', p.broadcast.cpuUsPerDelivery, t.broadcast.cpuUsPerDelivery, fmtUs);
    row(scenario, 'client processes CPU per delivery', p.broadcast.clientCpuUsPerDelivery, t.broadcast.clientCpuUsPerDelivery, fmtUs);
    const idle = `idle, ${fmtInt(p.connections)} connections`;
    row(idle, 'RSS per connection', p.idle.rssPerConnBytes, t.idle.rssPerConnBytes, fmtBytes);
    row(idle, 'heap per connection', p.idle.heapPerConnBytes, t.idle.heapPerConnBytes, fmtBytes);
    row(idle, 'server CPU (pings every 20 s)', p.idle.cpuMsPerSec, t.idle.cpuMsPerSec, (n) => `${n.toFixed(1)} ms/s`);
    const added = p.connections - before;
    before = p.connections;
    row(idle, `connections/s while growing to it (${fmtInt(added)} added)`, added / (p.connectMs / 1000), added / (t.connectMs / 1000), perSec);
  }
  return rows;
}

export function renderTlsRows(rows: readonly TlsRow[]): string {
  return renderTable(
    ['scenario', 'figure', 'plain', 'tls', 'tls / plain'],
    rows.map((r) => [r.scenario, r.figure, r.plain, r.tls, fmtRatio(r.ratio)]),
  );
}
