/**
 * Readiness: may this process take traffic? (issue 8, finding 7 "honest health").
 *
 * Liveness (`GET /health/live`) only says the process answers; readiness (`GET /health/ready`,
 * and its alias `GET /health`) asks every registered check and answers 503 with the reasons of
 * those that fail. The shape follows Kubernetes' liveness/readiness probes: a failing readiness
 * takes the instance out of a load balancer, it never restarts it.
 *
 * A check is a named function that resolves to no reason (ready) or to one or more reasons
 * `{code, message}` with a stable `code` (see {@link ReadinessCode}). A check that throws gives
 * `CHECK_FAILED` with the check's name: readiness itself never throws.
 */

/**
 * Stable reason codes of a not-ready answer.
 * - `LOG_WRITES_REFUSED`: a log partition refuses appends (after a failed fsync, "fsyncgate").
 * - `PROJECTION_FAILING`: a projection keeps failing on the same batch (redelivered in a loop).
 * - `DISK_SPACE_LOW`: free space of the data directory is below `STREAMWAVE_MIN_FREE_DISK_BYTES`
 *   or `STREAMWAVE_MIN_FREE_DISK_PERCENT`.
 * - `TRANSCODE_TIMED_OUT`: a transcode exceeded its time limit (registered by the transcoder).
 * - `CHECK_FAILED`: a check threw; its message is logged, not returned.
 */
export type ReadinessCode = 'LOG_WRITES_REFUSED' | 'PROJECTION_FAILING' | 'DISK_SPACE_LOW' | 'TRANSCODE_TIMED_OUT' | 'CHECK_FAILED';

/** One reason a process is not ready. `check` is the name it was registered under. */
export interface ReadinessReason {
  check: string;
  code: ReadinessCode;
  message: string;
}

/** What a check resolves to: nothing when fine, else one or more reasons (without `check`). */
export type CheckResult = undefined | Omit<ReadinessReason, 'check'> | Array<Omit<ReadinessReason, 'check'>>;

/** A readiness check; may be sync or async. */
export type ReadinessCheck = () => CheckResult | Promise<CheckResult>;

/** The answer of {@link Readiness.evaluate}. */
export interface ReadinessReport {
  ready: boolean;
  /** Empty when ready. */
  reasons: ReadinessReason[];
}

/** The readiness registry: the port the roles register their checks on. */
export interface Readiness {
  /**
   * Adds (or replaces) the check named `name`.
   * Example: `readiness.register('transcoder', signalCheck('TRANSCODE_TIMED_OUT', () => node.readiness()))`.
   */
  register(name: string, check: ReadinessCheck): void;
  /** Removes a check (e.g. a component that stopped on purpose). */
  unregister(name: string): void;
  /** Runs every check (concurrently); never throws. */
  evaluate(): Promise<ReadinessReport>;
}

/**
 * Creates an empty readiness registry.
 * @param onCheckError called with the check's name and error when a check throws (log it).
 */
export function createReadiness(onCheckError: (name: string, err: unknown) => void = () => {}): Readiness {
  const checks = new Map<string, ReadinessCheck>();
  return {
    register(name, check) { checks.set(name, check); },
    unregister(name) { checks.delete(name); },
    async evaluate() {
      const results = await Promise.all([...checks].map(async ([name, check]): Promise<ReadinessReason[]> => {
        try {
          const r = await check();
          if (!r) return [];
          return (Array.isArray(r) ? r : [r]).map((x) => ({ check: name, code: x.code, message: x.message }));
        } catch (err) {
          onCheckError(name, err);
          return [{ check: name, code: 'CHECK_FAILED', message: `readiness check ${name} failed` }];
        }
      }));
      const reasons = results.flat();
      return { ready: reasons.length === 0, reasons };
    },
  };
}

/**
 * What a component reports about itself: ready, or a human message why not (a string), or several.
 * The shape the transcoder node's `readiness()` returns (issue 8, media part).
 */
export type Signal = undefined | null | false | string | string[] | { ok: true } | { ok: false; message: string };

/**
 * Adapts a component's self-report to a {@link ReadinessCheck} under one stable `code`:
 * `undefined`/`null`/`false`/`{ok:true}`/`[]` → ready; a string, strings or `{ok:false, message}` → not ready.
 */
export function signalCheck(code: ReadinessCode, signal: () => Signal | Promise<Signal>): ReadinessCheck {
  return async () => {
    const s = await signal();
    if (!s) return undefined;
    if (typeof s === 'string') return { code, message: s };
    if (Array.isArray(s)) return s.map((message) => ({ code, message }));
    return s.ok ? undefined : { code, message: s.message };
  };
}
