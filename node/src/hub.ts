// Local fan-out index: which connections on this node are bound to which
// (app, user), which hold an app, and which are subscribed to which topic.
import type { Binding } from './gateway/binding.js';
import type { Client } from './gateway/client.js';

function userKey(app: string, user: string): string {
  return `${app}\u0000${user}`;
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (s === undefined) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (s === undefined) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

const EMPTY: ReadonlySet<never> = new Set();
const NONE: readonly never[] = [];

export class Hub {
  readonly clients = new Set<Client>();
  /** A user has one or a few bindings per node: an array costs a fraction of a Set per connection. */
  private readonly byUser = new Map<string, Binding[]>();
  private readonly byApp = new Map<string, Set<Binding>>();
  private readonly byTopic = new Map<string, Set<Client>>();

  addBinding(b: Binding): void {
    const k = userKey(b.app, b.user);
    const list = this.byUser.get(k);
    if (list === undefined) this.byUser.set(k, [b]);
    else if (!list.includes(b)) list.push(b);
    addTo(this.byApp, b.app, b);
  }

  removeBinding(b: Binding): void {
    const k = userKey(b.app, b.user);
    const list = this.byUser.get(k);
    const i = list === undefined ? -1 : list.indexOf(b);
    if (list !== undefined && i >= 0) {
      list.splice(i, 1);
      if (list.length === 0) this.byUser.delete(k);
    }
    removeFrom(this.byApp, b.app, b);
  }

  bindingsOf(app: string, user: string): readonly Binding[] {
    return this.byUser.get(userKey(app, user)) ?? NONE;
  }

  bindingsOfApp(app: string): ReadonlySet<Binding> {
    return this.byApp.get(app) ?? EMPTY;
  }

  subscribe(app: string, topic: string, c: Client): void {
    addTo(this.byTopic, userKey(app, topic), c);
  }

  unsubscribe(app: string, topic: string, c: Client): void {
    removeFrom(this.byTopic, userKey(app, topic), c);
  }

  subscribers(app: string, topic: string): ReadonlySet<Client> {
    return this.byTopic.get(userKey(app, topic)) ?? EMPTY;
  }

  connectionsByApp(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [app, s] of this.byApp) m.set(app, s.size);
    return m;
  }
}
