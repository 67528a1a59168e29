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

export class Hub {
  readonly clients = new Set<Client>();
  private readonly byUser = new Map<string, Set<Binding>>();
  private readonly byApp = new Map<string, Set<Binding>>();
  private readonly byTopic = new Map<string, Set<Client>>();

  addBinding(b: Binding): void {
    addTo(this.byUser, userKey(b.app, b.user), b);
    addTo(this.byApp, b.app, b);
  }

  removeBinding(b: Binding): void {
    removeFrom(this.byUser, userKey(b.app, b.user), b);
    removeFrom(this.byApp, b.app, b);
  }

  bindingsOf(app: string, user: string): ReadonlySet<Binding> {
    return this.byUser.get(userKey(app, user)) ?? EMPTY;
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
