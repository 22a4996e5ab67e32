/** Compile-time exhaustiveness check for a `switch` over a discriminated union; throws if reached. */
export function assertNever(x: never): never {
  throw new Error(`unhandled variant: ${JSON.stringify(x)}`);
}
