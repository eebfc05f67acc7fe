/** A Map that cannot change after construction: configuration snapshots are shared, never mutated. */
export class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [k, v] of entries) Map.prototype.set.call(this, k, v);
    Object.freeze(this);
  }
  override set(): this {
    throw new TypeError('configuration snapshot is read-only');
  }
  override delete(): boolean {
    throw new TypeError('configuration snapshot is read-only');
  }
  override clear(): void {
    throw new TypeError('configuration snapshot is read-only');
  }
}

/** Freezes a plain value tree (objects, arrays, FrozenMap values) in place and returns it. */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) {
    if (value instanceof Map) for (const v of value.values()) deepFreeze(v);
    return value;
  }
  if (value instanceof Map) {
    for (const v of value.values()) deepFreeze(v);
    return value;
  }
  for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}
