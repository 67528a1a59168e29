// Local fan-out index: which connections on this node are bound to which
// (app, user), which hold an app, and which are subscribed to which topic.
import type { Binding } from './gateway/binding.js';
import type { Client } from './gateway/client.js';

function topicKey(app: string, topic: string): string {
  return `${app}\u0000${topic}`;
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

/**
 * One app's bindings on this node, by user only: a second index of all of
 * them (a Set) would cost ~35 B per connection, and the one reader of all of
 * an app's bindings (a broadcast) copies them into an array anyway.
 */
interface AppIndex {
  /** Bindings in byUser. */
  count: number;
  /** A user's one binding itself (the common case: no array, no app+user key string), or several in binding order. */
  readonly byUser: Map<string, Binding | Binding[]>;
}

export class Hub {
  readonly clients = new Set<Client>();
  private readonly apps = new Map<string, AppIndex>();
  private readonly byTopic = new Map<string, Set<Client>>();

  addBinding(b: Binding): void {
    let a = this.apps.get(b.app);
    if (a === undefined) this.apps.set(b.app, (a = { count: 0, byUser: new Map() }));
    const cur = a.byUser.get(b.user);
    if (cur === b || (Array.isArray(cur) && cur.includes(b))) return;
    if (cur === undefined) a.byUser.set(b.user, b);
    else if (Array.isArray(cur)) cur.push(b);
    else a.byUser.set(b.user, [cur, b]);
    a.count++;
  }

  removeBinding(b: Binding): void {
    const a = this.apps.get(b.app);
    if (a === undefined) return;
    const cur = a.byUser.get(b.user);
    if (cur === b) {
      a.byUser.delete(b.user);
      a.count--;
    } else if (Array.isArray(cur)) {
      const i = cur.indexOf(b);
      if (i < 0) return;
      cur.splice(i, 1);
      a.count--;
      const [only] = cur;
      if (cur.length === 1 && only !== undefined) a.byUser.set(b.user, only);
      else if (cur.length === 0) a.byUser.delete(b.user);
    }
    if (a.byUser.size === 0) this.apps.delete(b.app);
  }

  bindingsOf(app: string, user: string): readonly Binding[] {
    const cur = this.apps.get(app)?.byUser.get(user);
    if (cur === undefined) return NONE;
    return Array.isArray(cur) ? cur : [cur];
  }

  /** A new array of every binding of `app`, user by user. */
  bindingsOfApp(app: string): Binding[] {
    const out: Binding[] = [];
    for (const cur of this.apps.get(app)?.byUser.values() ?? []) {
      if (Array.isArray(cur)) out.push(...cur);
      else out.push(cur);
    }
    return out;
  }

  subscribe(app: string, topic: string, c: Client): void {
    addTo(this.byTopic, topicKey(app, topic), c);
  }

  unsubscribe(app: string, topic: string, c: Client): void {
    removeFrom(this.byTopic, topicKey(app, topic), c);
  }

  subscribers(app: string, topic: string): ReadonlySet<Client> {
    return this.byTopic.get(topicKey(app, topic)) ?? EMPTY;
  }

  connectionsByApp(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [app, a] of this.apps) m.set(app, a.count);
    return m;
  }
}
