// Command-line options of `npm run bench:upstream`.
export interface Options {
  readonly quick: boolean;
  readonly clients: number;
  readonly window: number;
  readonly generators: number;
  readonly rounds: number;
  readonly warmupS: number;
  readonly measureS: number;
  /** Keep the node's default per-connection frame limit (100 frames/s) instead of raising it. */
  readonly defaultFrameLimit: boolean;
  readonly out: string;
}

export const USAGE = `usage: npm run bench:upstream -- [--quick] [--clients N] [--window W] [--generators K]
                              [--rounds R] [--warmup S] [--measure S] [--default-frame-limit] [--out FILE]
  --quick                ~10 s: 1 round of 1 s warmup + 4 s measured per target
  --clients N            WebSocket clients (default 32); the direct baseline runs N x W concurrent calls
  --window W             outstanding ups per client (default 2)
  --generators K         load generator processes (default 1)
  --rounds R             rounds of (direct, longwire), order alternating (default 3, quick 1)
  --warmup S / --measure S  seconds per target per round (default 2 / 12, quick 1 / 4)
  --default-frame-limit  keep the node's 100 frames/s per connection (default: raised for the bench)
  --out FILE             JSON output (default .bench-out/upstream.json)`;

function intArg(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min || n > max) throw new Error(`${name} needs an integer in [${min}, ${max}]\n${USAGE}`);
  return n;
}

export function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes('--quick');
  let clients = 32;
  let window = 2;
  let generators = 1;
  let rounds = quick ? 1 : 3;
  let warmupS = quick ? 1 : 2;
  let measureS = quick ? 4 : 12;
  let defaultFrameLimit = false;
  let out = '.bench-out/upstream.json';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    switch (a) {
      case '--quick':
        break;
      case '--clients':
        clients = intArg(a, next, 1, 5000);
        i++;
        break;
      case '--window':
        window = intArg(a, next, 1, 1000);
        i++;
        break;
      case '--generators':
        generators = intArg(a, next, 1, 16);
        i++;
        break;
      case '--rounds':
        rounds = intArg(a, next, 1, 20);
        i++;
        break;
      case '--warmup':
        warmupS = intArg(a, next, 0, 60);
        i++;
        break;
      case '--measure':
        measureS = intArg(a, next, 1, 300);
        i++;
        break;
      case '--default-frame-limit':
        defaultFrameLimit = true;
        break;
      case '--out':
        if (next === undefined) throw new Error(`--out needs a file\n${USAGE}`);
        out = next;
        i++;
        break;
      default:
        throw new Error(`unknown option ${a ?? ''}\n${USAGE}`);
    }
  }
  return { quick, clients, window, generators, rounds, warmupS, measureS, defaultFrameLimit, out };
}
