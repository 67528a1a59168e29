// Flash reconnect: after an unclean disconnect a session lingers for lingerMs.
// The same device reconnecting within it continues the session — same session
// id, no register churn, no offline/online callbacks — and its cursors make
// sure it gets nothing it already acked. Apps not bound again in time go
// offline when the window ends.

export interface LingeringBinding {
  readonly app: string;
  readonly user: string;
}

export class Lingering {
  /** app → user still waiting to be bound again. */
  readonly pending = new Map<string, string>();
  timer: NodeJS.Timeout | undefined;
  constructor(
    readonly device: string,
    readonly session: string,
  ) {}

  /** True when (app, user) was part of this session: the caller skips register and callbacks. */
  take(app: string, user: string): boolean {
    if (this.pending.get(app) !== user) return false;
    this.pending.delete(app);
    return true;
  }
}

export class LingeringSessions {
  private readonly byDevice = new Map<string, Lingering>();

  constructor(
    private readonly onExpire: (session: string, device: string, left: readonly LingeringBinding[]) => void,
    private readonly onCount: (n: number) => void,
  ) {}

  hold(device: string, session: string, bindings: readonly LingeringBinding[], ms: number): void {
    const l = new Lingering(device, session);
    for (const b of bindings) l.pending.set(b.app, b.user);
    // An older lingering session of the same device ends now: only the newest can be continued.
    this.expire(this.byDevice.get(device));
    this.byDevice.set(device, l);
    l.timer = setTimeout(() => this.expire(l), ms);
    this.onCount(this.byDevice.size);
  }

  /** Hands the device's lingering session to a new connection; pending apps still expire with the window. */
  adopt(device: string): Lingering | undefined {
    const l = this.byDevice.get(device);
    if (l === undefined) return undefined;
    this.byDevice.delete(device);
    this.onCount(this.byDevice.size);
    return l;
  }

  private expire(l: Lingering | undefined): void {
    if (l === undefined) return;
    if (this.byDevice.get(l.device) === l) this.byDevice.delete(l.device);
    this.onCount(this.byDevice.size);
    if (l.timer !== undefined) clearTimeout(l.timer);
    l.timer = undefined;
    const left = [...l.pending].map(([app, user]) => ({ app, user }));
    l.pending.clear();
    if (left.length > 0) this.onExpire(l.session, l.device, left);
  }

  /**
   * Shutdown: drops every window without expiring it. The register entries go
   * with this node's lease (revoked when the node restarts, or expired if it
   * does not), and the keeper is closing: writing them now only fails.
   */
  close(): void {
    for (const l of this.byDevice.values()) if (l.timer !== undefined) clearTimeout(l.timer);
    this.byDevice.clear();
    this.onCount(0);
  }
}
