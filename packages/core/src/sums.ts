import type { FloatArray } from './kernels/types.js';

/**
 * Kernel sums of attention in log-scaled form (algorithms.md §2.1): with N = Σ e^{logit_i} v_i and
 * Z = Σ e^{logit_i}, it holds `m`, `z = Z·e^{−m}` and `n = N·e^{−m}`. Partial sums over disjoint
 * token sets merge exactly by log-sum-exp ({@link mergeSums}), and no logit size overflows.
 *
 * Estimators may return a signed or zero `z`; exact policies always return `z > 0`.
 *
 * @example
 * ```ts
 * import { ExactCache, createKernelSums, type KernelSums } from '@kv/core';
 * const cache = new ExactCache({ policy: 'exact', keyDim: 1, valueDim: 1 });
 * cache.append(new Float32Array([800]), new Float32Array([5]));
 * const sums: KernelSums = cache.sums(new Float32Array([800]), createKernelSums(1));
 * sums.n[0]! / sums.z; // 5, although e^{logit} would overflow
 * ```
 */
export interface KernelSums {
  /** The log scale m (−Infinity for an empty sum). */
  m: number;
  /** Z·e^{−m}. */
  z: number;
  /** N·e^{−m}, one entry per value dimension. */
  readonly n: Float64Array;
}

/**
 * Allocates an empty {@link KernelSums} for value dimension `s`. Allocate once, reuse per query.
 *
 * @param s - Value dimension.
 * @returns Sums with m = −Infinity, z = 0, n = 0.
 * @example
 * ```ts
 * import { createKernelSums } from '@kv/core';
 * const sums = createKernelSums(64);
 * ```
 */
export function createKernelSums(s: number): KernelSums {
  return { m: -Infinity, z: 0, n: new Float64Array(s) };
}

/**
 * Empties `sums` in place (the identity of {@link mergeSums}).
 *
 * @param sums - The sums to clear.
 * @returns `sums`.
 * @example
 * ```ts
 * import { clearSums, createKernelSums } from '@kv/core';
 * clearSums(createKernelSums(4));
 * ```
 */
export function clearSums(sums: KernelSums): KernelSums {
  sums.m = -Infinity;
  sums.z = 0;
  sums.n.fill(0);
  return sums;
}

/**
 * Copies `from` into `to` (same value dimension).
 *
 * @param from - Source sums.
 * @param to - Destination sums.
 * @returns `to`.
 * @example
 * ```ts
 * import { copySums, createKernelSums } from '@kv/core';
 * copySums(createKernelSums(2), createKernelSums(2));
 * ```
 */
export function copySums(from: KernelSums, to: KernelSums): KernelSums {
  to.m = from.m;
  to.z = from.z;
  to.n.set(from.n);
  return to;
}

/**
 * Merges `other` into `into` exactly: the result represents N_into + N_other and Z_into + Z_other.
 * Associative and commutative up to rounding.
 *
 * @param into - Accumulator, updated in place.
 * @param other - Sums over a disjoint token set.
 * @returns `into`.
 * @example
 * ```ts
 * import { createKernelSums, mergeSums } from '@kv/core';
 * const a = { m: 1000, z: 1, n: new Float64Array([1]) };
 * const b = { m: 1000, z: 1, n: new Float64Array([3]) };
 * mergeSums(a, b); // { m: 1000, z: 2, n: [4] }: output 2
 * ```
 */
export function mergeSums(into: KernelSums, other: KernelSums): KernelSums {
  if (other.m === -Infinity) return into;
  if (into.m === -Infinity) return copySums(other, into);
  const n = into.n;
  const o = other.n;
  if (other.m > into.m) {
    const a = Math.exp(into.m - other.m);
    into.z = into.z * a + other.z;
    for (let j = 0; j < n.length; j++) n[j] = n[j]! * a + o[j]!;
    into.m = other.m;
  } else {
    const b = Math.exp(other.m - into.m);
    into.z += other.z * b;
    for (let j = 0; j < n.length; j++) n[j] += o[j]! * b;
  }
  return into;
}

/**
 * Kernel sums of `count` terms from their logits and value rows, stably: shifts by the largest
 * logit, so logits of any size are safe.
 *
 * @param count - Number of terms.
 * @param logits - Logits (already including any per-slot log-weight bias).
 * @param logitOffset - Index of the first logit.
 * @param values - Row-major value storage.
 * @param valueStride - Step between value rows.
 * @param valueOffset - Index of the first value row.
 * @param out - Receives the sums (its `n.length` is the value dimension).
 * @param probs - When given, receives e^{logit_i − m} for each term (unnormalised weights).
 * @returns `out`.
 * @example
 * ```ts
 * import { createKernelSums, sumsFromLogits } from '@kv/core';
 * const out = createKernelSums(1);
 * sumsFromLogits(2, new Float64Array([0, 0]), 0, new Float32Array([1, 3]), 1, 0, out); // output 2
 * ```
 */
export function sumsFromLogits(
  count: number,
  logits: FloatArray,
  logitOffset: number,
  values: FloatArray,
  valueStride: number,
  valueOffset: number,
  out: KernelSums,
  probs?: FloatArray,
): KernelSums {
  const n = out.n;
  const s = n.length;
  n.fill(0);
  let m = -Infinity;
  for (let i = 0; i < count; i++) {
    const l = logits[logitOffset + i]!;
    if (l > m) m = l;
  }
  out.m = m;
  if (m === -Infinity) {
    out.z = 0;
    return out;
  }
  let z = 0;
  for (let i = 0, row = valueOffset; i < count; i++, row += valueStride) {
    const w = Math.exp(logits[logitOffset + i]! - m);
    if (probs) probs[i] = w;
    z += w;
    if (w === 0) continue;
    let j = 0;
    const mm = s - (s % 4);
    for (; j < mm; j += 4) {
      n[j] += w * values[row + j]!;
      n[j + 1] += w * values[row + j + 1]!;
      n[j + 2] += w * values[row + j + 2]!;
      n[j + 3] += w * values[row + j + 3]!;
    }
    for (; j < s; j++) n[j] += w * values[row + j]!;
  }
  out.z = z;
  return out;
}

/**
 * Writes the attention output N/Z of `sums` into `out`.
 *
 * @param sums - Log-scaled kernel sums.
 * @param out - Receives N/Z (length = value dimension).
 * @returns `out`.
 * @example
 * ```ts
 * import { sumsToOutput } from '@kv/core';
 * sumsToOutput({ m: 0, z: 2, n: new Float64Array([4]) }, new Float32Array(1)); // [2]
 * ```
 */
export function sumsToOutput<T extends FloatArray>(sums: KernelSums, out: T): T {
  const inv = 1 / sums.z;
  const n = sums.n;
  for (let j = 0; j < n.length; j++) out[j] = n[j]! * inv;
  return out;
}

/**
 * log Z of the sums (−Infinity when empty, NaN when an estimator's Z is not positive).
 *
 * @param sums - Log-scaled kernel sums.
 * @returns m + ln z.
 * @example
 * ```ts
 * import { logNormalizer } from '@kv/core';
 * logNormalizer({ m: 1000, z: 1, n: new Float64Array(0) }); // 1000
 * ```
 */
export function logNormalizer(sums: KernelSums): number {
  return sums.m + Math.log(sums.z);
}
