// CPU cost per call of each process in a phase: CPU ms over the phase divided
// by the calls answered in it (warmup included, as the CPU time is too). On a
// shared machine this moves less than throughput does.
export interface Cost {
  readonly calls: number;
  readonly generatorMs: number;
  readonly webhookMs: number;
  readonly nodeMs: number;
}

export interface CostFigures {
  readonly generator_us: number;
  readonly webhook_us: number;
  /** In the direct phase the node is idle: its background CPU, not part of the path. */
  readonly node_us: number;
  /** What the path costs: generator + webhook, plus the node for longwire. */
  readonly path_us: number;
}

export const NO_COST: Cost = { calls: 0, generatorMs: 0, webhookMs: 0, nodeMs: 0 };

export function addCost(a: Cost, b: Cost): Cost {
  return { calls: a.calls + b.calls, generatorMs: a.generatorMs + b.generatorMs, webhookMs: a.webhookMs + b.webhookMs, nodeMs: a.nodeMs + b.nodeMs };
}

export function costFigures(c: Cost, nodeOnPath: boolean): CostFigures {
  const per = (ms: number): number => (c.calls > 0 ? Math.round((ms * 1000) / c.calls) : NaN);
  return {
    generator_us: per(c.generatorMs),
    webhook_us: per(c.webhookMs),
    node_us: per(c.nodeMs),
    path_us: per(c.generatorMs + c.webhookMs + (nodeOnPath ? c.nodeMs : 0)),
  };
}
