import { createKernelSums, type KernelSums, sumsToOutput } from '@kv/core';

/**
 * The definition of tensor attention, computed naively in Float64 as log-scaled kernel sums: two
 * passes over all n² ordered pairs (i, j), i, j < n, shifted by the largest pair logit, so keys and
 * queries of any norm are safe. It shares no code with the caches (no blocking, no factorization):
 * it is the ground truth of the tests.
 *
 *     N = Σ_{i,j} e^{<q, k1_i ∘ k2_j>·τ} (v1_i ∘ v2_j),   Z = Σ_{i,j} e^{<q, k1_i ∘ k2_j>·τ}
 *
 * @param query - Query of length d.
 * @param keys1 - Row-major first keys, n·d.
 * @param keys2 - Row-major second keys, n·d.
 * @param values1 - Row-major first values, n·s.
 * @param values2 - Row-major second values, n·s.
 * @param n - Number of tokens (n² pairs).
 * @param tau - Logit scale τ.
 * @param out - Receives the sums; its `n.length` is the value dimension s.
 * @returns `out` with m = max pair logit, z = Z·e^{−m}, n = N·e^{−m} (m = −Infinity when n = 0).
 * @remarks Pairs are **ordered** and include i = j (Alman–Song's n × n² attention matrix). O(n²(d+s))
 *   time and O(n²) scratch.
 * @see Alman, Song, arXiv 2310.04064.
 * @example
 * ```ts
 * import { createKernelSums } from '@kv/core';
 * import { tensorReferenceSums } from '@kv/tensor';
 * const one = new Float32Array([1]);
 * tensorReferenceSums(one, one, one, one, one, 1, 1, createKernelSums(1)); // m = 1, z = 1, n = [1]
 * ```
 */
export function tensorReferenceSums(
  query: ArrayLike<number>,
  keys1: ArrayLike<number>,
  keys2: ArrayLike<number>,
  values1: ArrayLike<number>,
  values2: ArrayLike<number>,
  n: number,
  tau: number,
  out: KernelSums,
): KernelSums {
  const d = query.length;
  const s = out.n.length;
  const logits = new Float64Array(n * n);
  let m = -Infinity;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let c = 0; c < d; c++) acc += query[c]! * (keys1[i * d + c]! * keys2[j * d + c]!);
      const l = acc * tau;
      logits[i * n + j] = l;
      if (l > m) m = l;
    }
  }
  out.m = m;
  out.n.fill(0);
  out.z = 0;
  if (m === -Infinity) return out;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const w = Math.exp(logits[i * n + j]! - m);
      out.z += w;
      for (let c = 0; c < s; c++) out.n[c] += w * (values1[i * s + c]! * values2[j * s + c]!);
    }
  }
  return out;
}

/**
 * What {@link referenceTensorAttention} returns.
 * @example
 * ```ts
 * import { referenceTensorAttention, type TensorAttentionResult } from '@kv/tensor';
 * const k = new Float32Array([1, 0]);
 * const r: TensorAttentionResult = referenceTensorAttention(k, k, k, new Float32Array([2]), new Float32Array([3]), 1, 1, new Float64Array(1));
 * r.logZ; // 1: one pair with logit <k, k ∘ k>·τ = 1
 * ```
 */
export interface TensorAttentionResult {
  /** The output N/Z (the caller's array). */
  readonly out: Float64Array;
  /** log Z = m + ln z. */
  readonly logZ: number;
  /** The log-scaled kernel sums (m, z, n). */
  readonly sums: KernelSums;
}

/**
 * Tensor attention output N/Z by the definition ({@link tensorReferenceSums}), with log Z.
 *
 * @param query - Query of length d.
 * @param keys1 - Row-major first keys, n·d.
 * @param keys2 - Row-major second keys, n·d.
 * @param values1 - Row-major first values, n·s.
 * @param values2 - Row-major second values, n·s.
 * @param n - Number of tokens (at least 1).
 * @param tau - Logit scale τ.
 * @param out - Receives the output (length s).
 * @returns `out`, the log-normaliser log Z and the log-scaled sums.
 * @remarks Same definition and assumptions as {@link tensorReferenceSums}; allocates, so it is for
 *   tests and evaluation, not hot paths.
 * @example
 * ```ts
 * import { referenceTensorAttention } from '@kv/tensor';
 * const k = new Float32Array([1, 0]);
 * referenceTensorAttention(k, k, k, new Float32Array([2]), new Float32Array([3]), 1, 1, new Float64Array(1)).out; // [6]
 * ```
 */
export function referenceTensorAttention(
  query: ArrayLike<number>,
  keys1: ArrayLike<number>,
  keys2: ArrayLike<number>,
  values1: ArrayLike<number>,
  values2: ArrayLike<number>,
  n: number,
  tau: number,
  out: Float64Array,
): TensorAttentionResult {
  const sums = tensorReferenceSums(query, keys1, keys2, values1, values2, n, tau, createKernelSums(out.length));
  sumsToOutput(sums, out);
  return { out, logZ: sums.m + Math.log(sums.z), sums };
}
