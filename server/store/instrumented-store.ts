/**
 * Times a store's operations for `etcd_request_duration_seconds` without touching the backends: a
 * Proxy that wraps the keyed operations and passes every other member through, so a method added to
 * the Store interface later works unchanged (it is simply not timed until listed here).
 */
import type { Store } from './store.js';

/** Store method → upstream's operation label. */
const OPERATIONS: Readonly<Record<string, string>> = {
  create: 'create', update: 'update', delete: 'delete', get: 'get', list: 'listWithCount', count: 'count',
};

/** `/registry/core/pods/default/web` → `/registry/core/pods/` (upstream labels by resource prefix). */
export function storageType(key: string): string {
  // The first three segments after the first '/', found without splitting the whole key.
  const first = key.indexOf('/');
  const second = first < 0 ? -1 : key.indexOf('/', first + 1);
  const third = second < 0 ? -1 : key.indexOf('/', second + 1);
  if (third < 0) return key;
  const fourth = key.indexOf('/', third + 1);
  return `/${key.slice(first + 1, fourth < 0 ? undefined : fourth)}/`;
}

export type StorageObserver = (operation: string, type: string, seconds: number) => void;

export function instrumentStore<S extends Store>(store: S, observe: StorageObserver): S {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const cached = wrapped.get(prop);
      if (cached !== undefined) return cached;
      const member: unknown = Reflect.get(target, prop, target);
      if (typeof member !== 'function') return member;
      const fn = member as (...args: unknown[]) => unknown;
      const operation = typeof prop === 'string' ? OPERATIONS[prop] : undefined;
      const out = operation === undefined ? fn.bind(target) : async (key: string, ...rest: unknown[]): Promise<unknown> => {
        const started = performance.now();
        try {
          return await fn.call(target, key, ...rest);
        } finally {
          observe(operation, storageType(key), (performance.now() - started) / 1000);
        }
      };
      wrapped.set(prop, out);
      return out;
    },
  });
}
