// Anti-replay for signed peer calls, as IPsec does it: each sender numbers its
// calls from a random boot id; the receiver remembers, per sender boot, the
// highest number seen and which of the WINDOW numbers below it were used. A
// number seen before or older than the window is a replay. Memory is a few
// bytes per sender boot, whatever the call rate.

/** Signed calls a sender may have in flight out of order (link upgrades and forwarded calls; nearly in order in practice). */
export const WINDOW = 4096;
/** Boots remembered per sender (restarts within the signature's time window). */
const BOOTS_PER_SENDER = 4;

interface BootState {
  highest: number;
  /** Bit (m mod WINDOW) set: number m, one of the WINDOW numbers up to highest, was used. */
  readonly seen: Uint8Array;
}

export class ReplayWindow {
  private readonly senders = new Map<string, Map<string, BootState>>();

  /** Records (sender, boot, n); false if it was used before or is too old to tell. */
  accept(sender: string, boot: string, n: number): boolean {
    let boots = this.senders.get(sender);
    if (boots === undefined) this.senders.set(sender, (boots = new Map()));
    let st = boots.get(boot);
    if (st === undefined) {
      if (boots.size >= BOOTS_PER_SENDER) boots.delete(boots.keys().next().value as string);
      st = { highest: 0, seen: new Uint8Array(WINDOW / 8) };
      boots.set(boot, st);
    }
    if (n > st.highest) {
      // The slots of the numbers now entering the window held numbers now leaving it.
      if (n - st.highest >= WINDOW) st.seen.fill(0);
      else for (let m = st.highest + 1; m <= n; m++) clearBit(st.seen, m % WINDOW);
      st.highest = n;
      setBit(st.seen, n % WINDOW);
      return true;
    }
    if (st.highest - n >= WINDOW || getBit(st.seen, n % WINDOW)) return false;
    setBit(st.seen, n % WINDOW);
    return true;
  }

  /** Forgets a sender that left the cluster. */
  forget(sender: string): void {
    this.senders.delete(sender);
  }
}

function getBit(b: Uint8Array, i: number): boolean {
  return ((b[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}

function setBit(b: Uint8Array, i: number): void {
  b[i >> 3] = (b[i >> 3] ?? 0) | (1 << (i & 7));
}

function clearBit(b: Uint8Array, i: number): void {
  b[i >> 3] = (b[i >> 3] ?? 0) & ~(1 << (i & 7));
}
