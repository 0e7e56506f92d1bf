/**
 * Result of {@link referenceAttention}.
 *
 * @example
 * ```ts
 * import { referenceAttention, type ReferenceAttentionResult } from '@kv/core';
 * const keys = new Float32Array([0, 0]);
 * const values = new Float32Array([1, 3]);
 * const r: ReferenceAttentionResult = referenceAttention([0], keys, values, 2, 1, new Float64Array(1));
 * r.out[0]; // 2: equal logits average the values
 * r.logZ; // log 2
 * ```
 */
export interface ReferenceAttentionResult {
  /** The attention output (the `out` argument). */
  out: Float64Array;
  /** log Z, the log-normaliser of the softmax. */
  logZ: number;
}

/**
 * Naive softmax attention in Float64, two passes, shifted by the largest logit: the ground truth
 * for tests. O(n·(d+s)) with no blocking or unrolling, so it shares no code with the fast path.
 *
 * @param query - Query of length d.
 * @param keys - Row-major keys, n·d.
 * @param values - Row-major values, n·s.
 * @param n - Number of tokens.
 * @param tau - Logit scale.
 * @param out - Receives the output (length s).
 * @returns `out` and the log-normaliser log Z.
 * @example
 * ```ts
 * import { referenceAttention } from '@kv/core';
 * const out = new Float64Array(1);
 * referenceAttention(new Float32Array([1]), new Float32Array([1, 2]), new Float32Array([1, 3]), 2, 1, out);
 * ```
 */
export function referenceAttention(
  query: ArrayLike<number>,
  keys: ArrayLike<number>,
  values: ArrayLike<number>,
  n: number,
  tau: number,
  out: Float64Array,
): ReferenceAttentionResult {
  const d = query.length;
  const s = out.length;
  const logits = new Float64Array(n);
  let m = -Infinity;
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let j = 0; j < d; j++) acc += query[j]! * keys[i * d + j]!;
    logits[i] = acc * tau;
    if (logits[i]! > m) m = logits[i]!;
  }
  out.fill(0);
  let z = 0;
  for (let i = 0; i < n; i++) {
    const w = Math.exp(logits[i]! - m);
    z += w;
    for (let j = 0; j < s; j++) out[j] += w * values[i * s + j]!;
  }
  for (let j = 0; j < s; j++) out[j] /= z;
  return { out, logZ: m + Math.log(z) };
}
