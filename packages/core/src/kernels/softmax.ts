import type { FloatArray } from './types.js';

/**
 * Largest element of a contiguous range (−Infinity for an empty range).
 *
 * @param n - Number of elements.
 * @param x - Storage.
 * @param offset - Index of the first element.
 * @returns max x[offset..offset+n).
 * @example
 * ```ts
 * import { maxOf } from '@kv/core';
 * maxOf(3, new Float64Array([1, 5, 2]), 0); // 5
 * ```
 */
export function maxOf(n: number, x: FloatArray, offset: number): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[offset + i]!;
    if (v > m) m = v;
  }
  return m;
}

/**
 * log Σ exp(x[i]) over a contiguous range, stable for any magnitude (shifts by the maximum).
 *
 * @param n - Number of elements.
 * @param x - Storage.
 * @param offset - Index of the first element.
 * @returns The log-sum-exp (−Infinity for an empty range).
 * @example
 * ```ts
 * import { logSumExp } from '@kv/core';
 * logSumExp(2, new Float64Array([1000, 1000]), 0); // 1000 + ln 2
 * ```
 */
export function logSumExp(n: number, x: FloatArray, offset: number): number {
  const m = maxOf(n, x, offset);
  if (m === -Infinity || !Number.isFinite(m)) return m;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(x[offset + i]! - m);
  return m + Math.log(s);
}

/**
 * Replaces a contiguous range of logits by their softmax probabilities, in place, stably.
 *
 * @param n - Number of elements (at least 1).
 * @param x - Logits, overwritten by probabilities.
 * @param offset - Index of the first element.
 * @returns The log-normaliser log Σ exp(x[i]) of the original logits.
 * @example
 * ```ts
 * import { softmaxInPlace } from '@kv/core';
 * const p = new Float64Array([0, 0]);
 * softmaxInPlace(2, p, 0); // p = [0.5, 0.5], returns ln 2
 * ```
 */
export function softmaxInPlace(n: number, x: FloatArray, offset: number): number {
  const m = maxOf(n, x, offset);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(x[offset + i]! - m);
    x[offset + i] = e;
    s += e;
  }
  const inv = 1 / s;
  for (let i = 0; i < n; i++) x[offset + i] *= inv;
  return m + Math.log(s);
}

/**
 * log(e^a + e^b) without overflow.
 *
 * @param a - First log-value.
 * @param b - Second log-value.
 * @returns The log of the sum of exponentials.
 * @example
 * ```ts
 * import { logAddExp } from '@kv/core';
 * logAddExp(1e4, 1e4); // 1e4 + ln 2
 * ```
 */
export function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}
