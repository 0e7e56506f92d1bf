import { Rng } from '../rng.js';

/**
 * A failed conformance check. It is not a `KvError`: it reports a broken policy, not bad
 * input to a correct one.
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { ConformanceError, conformanceChecks } from '@kv/core/testing';
 * const registry = new PolicyRegistry().register(exactPolicy);
 * for (const check of conformanceChecks({ registry, spec: { policy: 'exact', keyDim: 4, valueDim: 4 } })) {
 *   try {
 *     check.run();
 *   } catch (e) {
 *     if (e instanceof ConformanceError) console.error(`${check.name}: ${e.message}`);
 *   }
 * }
 * ```
 */
export class ConformanceError extends Error {
  /** @param message - What failed. */
  constructor(message: string) {
    super(message);
    this.name = 'ConformanceError';
  }
}

export function assert(cond: boolean, message: string): asserts cond {
  if (!cond) throw new ConformanceError(message);
}

/** A random stream of the conformance suite. @internal */
export interface Stream {
  keys: Float32Array[];
  values: Float32Array[];
  queries: Float32Array[];
}

/** @internal */
export function makeStream(steps: number, d: number, s: number, seed: number, norm: number): Stream {
  const rng = new Rng(seed);
  const stream: Stream = { keys: [], values: [], queries: [] };
  const unitScale = norm / Math.sqrt(d) / 1.5;
  for (let t = 0; t < steps; t++) {
    stream.keys.push(rng.fillGaussian(new Float32Array(d), unitScale));
    stream.values.push(rng.fillGaussian(new Float32Array(s)));
    stream.queries.push(rng.fillGaussian(new Float32Array(d), unitScale));
  }
  return stream;
}

/** @internal */
export function sameArrays(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
