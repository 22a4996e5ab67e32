/**
 * `streamwave_adapter_errors_total{adapter,code}` (issue 9, "Deploy and observe": adapter errors),
 * counted at the composition root without touching any adapter: `countAdapterErrors` wraps a port
 * object (key-value store, analytics store, object store, rate-limit store, …) in a Proxy whose
 * methods count every error they throw or reject with, by the error's stable `code` (the ports'
 * error classes carry one: ObjectStoreError `NoSuchKey`, `RATE_LIMIT_STORE_IO`, `STORE_IO`, …).
 *
 * What counts: a method that throws, or returns a native Promise that rejects. Errors surfacing
 * later through what a method returned (a stream's 'error', an async iterator's `next()`) are not
 * counted, nor are methods of nested objects. Expected refusals count too (`NoSuchKey` for a
 * source that is gone): alert on the I/O codes, read the others as rates.
 *
 * Label values stay bounded: `code` is the error's `code` when it is a short token
 * (`[A-Za-z0-9_.:-]{1,64}`), else its `name` (`TypeError`, `AbortError`) when that is one, else
 * `UNKNOWN`; never a message.
 */
import { Counter, type Registry } from 'prom-client';

const METRIC = 'streamwave_adapter_errors_total';
const TOKEN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The counter on `registry`, created on first use (shared by every wrapped adapter). */
export function adapterErrorsCounter(registry: Registry): Counter<'adapter' | 'code'> {
  return (registry.getSingleMetric(METRIC) as Counter<'adapter' | 'code'> | undefined)
    ?? new Counter({ name: METRIC, help: 'Errors thrown or rejected by an adapter, by the error code', labelNames: ['adapter', 'code'] as const, registers: [registry] });
}

/** The `code` label of `err` (see the file comment). */
export function adapterErrorCode(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown } | null | undefined;
  if ((typeof e?.code === 'string' || typeof e?.code === 'number') && TOKEN.test(String(e.code))) return String(e.code);
  if (typeof e?.name === 'string' && TOKEN.test(e.name)) return e.name;
  return 'UNKNOWN';
}

/**
 * `port` behind a Proxy that counts its methods' errors as `streamwave_adapter_errors_total{adapter}`
 * on `registry`; everything else (properties, getters, results, the errors themselves) passes
 * through unchanged. Methods run with the original object as `this` (private fields keep working)
 * and each method is wrapped once, so `port.m === port.m` still holds.
 * @param adapter the label value: the port's role, e.g. `object-store`, `rate-limit-store`
 */
export function countAdapterErrors<T extends object>(registry: Registry, adapter: string, port: T): T {
  const errors = adapterErrorsCounter(registry);
  const count = (err: unknown) => errors.inc({ adapter, code: adapterErrorCode(err) });
  const wrapped = new Map<PropertyKey, { original: (...a: unknown[]) => unknown; wrapper: (...a: unknown[]) => unknown }>();
  return new Proxy(port, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function' || typeof prop === 'symbol' || prop === 'then' || prop === 'constructor') return value;
      const original = value as (...a: unknown[]) => unknown;
      const cached = wrapped.get(prop);
      if (cached?.original === original) return cached.wrapper;
      const wrapper = (...args: unknown[]): unknown => {
        let result: unknown;
        try {
          result = original.apply(target, args);
        } catch (err) {
          count(err);
          throw err;
        }
        // Only native promises: another thenable (a lazy query builder) must not be started here.
        return result instanceof Promise ? result.catch((err: unknown) => { count(err); throw err; }) : result;
      };
      wrapped.set(prop, { original, wrapper });
      return wrapper;
    },
  });
}
