import { Rng } from '@kv/core';

/** A random tensor stream for tests, row-major. */
export interface TestStream {
  d: number;
  s: number;
  n: number;
  keys1: Float32Array;
  keys2: Float32Array;
  values1: Float32Array;
  values2: Float32Array;
  queries: Float32Array;
}

/**
 * Gaussian keys and queries scaled to norm ≈ `norm`, Gaussian values.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @param n - Tokens.
 * @param seed - Rng seed.
 * @param norm - Typical key/query norm.
 * @returns The stream.
 */
export function gaussianStream(d: number, s: number, n: number, seed: number, norm: number): TestStream {
  const rng = new Rng(seed);
  const scale = norm / Math.sqrt(d);
  return {
    d,
    s,
    n,
    keys1: rng.fillGaussian(new Float32Array(n * d), scale),
    keys2: rng.fillGaussian(new Float32Array(n * d), scale),
    values1: rng.fillGaussian(new Float32Array(n * s)),
    values2: rng.fillGaussian(new Float32Array(n * s)),
    queries: rng.fillGaussian(new Float32Array(n * d), scale),
  };
}

/**
 * Row t of a row-major block (a view).
 * @param a - Block.
 * @param t - Row.
 * @param width - Row length.
 * @returns The row.
 */
export function row(a: Float32Array, t: number, width: number): Float32Array {
  return a.subarray(t * width, (t + 1) * width);
}
