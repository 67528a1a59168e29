// What a scoped token may do: read, or read and write, the keeper keys under
// the prefixes it was given, and nothing else. A service that hot-reloads its
// config gets one instead of an admin token, which could also remove members,
// read apps or push (etcd's key-range roles, with a prefix for a range).
// Longwire's own keys under /sys/ are never in a scope.

export interface KeeperScope {
  /** Prefixes whose keys the token may read (get, watch, compare). */
  readonly read: readonly string[];
  /** Prefixes whose keys the token may read and write (put, delete, leases on them). */
  readonly write: readonly string[];
}

export type Access = 'read' | 'write';

/** Prefixes one scope may name, both lists together: the check runs on every request. */
export const SCOPE_PREFIXES_MAX = 32;
const SYS_PREFIX = '/sys/';

/**
 * Whether `scope` allows `access` to `key`, or with `prefix` to every key
 * under it: the range must lie within one granted prefix.
 */
export function allows(scope: KeeperScope, access: Access, key: string): boolean {
  const within = (p: string): boolean => key.startsWith(p);
  return scope.write.some(within) || (access === 'read' && scope.read.some(within));
}

/** Why `scope` cannot be given to a token, or undefined. */
export function scopeProblem(scope: KeeperScope): string | undefined {
  const all = [...scope.read, ...scope.write];
  if (all.length === 0) return 'a scope names at least one prefix to read or write';
  if (all.length > SCOPE_PREFIXES_MAX) return `a scope names at most ${SCOPE_PREFIXES_MAX} prefixes`;
  for (const p of all) {
    if (!p.startsWith('/')) return `scope prefix ${JSON.stringify(p)} does not start with /`;
    if (p.startsWith(SYS_PREFIX) || SYS_PREFIX.startsWith(p)) return `scope prefix ${JSON.stringify(p)} reaches ${SYS_PREFIX}, which is longwire's own`;
  }
  return undefined;
}

/** A scope read back from the keeper, or undefined when it is not one (the token is then refused: fail closed). */
export function parseScope(v: unknown): KeeperScope | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { read, write } = v as { read?: unknown; write?: unknown };
  const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
  if (!strings(read) || !strings(write)) return undefined;
  const scope = { read, write };
  return scopeProblem(scope) === undefined ? scope : undefined;
}
