/**
 * `value` and everything in it frozen (Object.freeze, depth first), returned. For values shared
 * between readers that must not change them: a memoised video document (video detail), a decoded
 * event handed to every projection (processors/runtime/shared-decode.ts). Already-frozen parts
 * are not walked again.
 */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) for (const v of Object.values(Object.freeze(value))) deepFreeze(v);
  return value;
}
