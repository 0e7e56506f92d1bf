import { type FloatArray, gemv, type Rng } from '@kv/core';

/**
 * Draws the m × d projection matrix of positive random features: rows w_r ~ N(0, I_d), either
 * independent or, with `orthogonal`, in blocks of d mutually orthogonal rows (Gram–Schmidt on a
 * Gaussian block) whose lengths are redrawn from the χ_d distribution (norms of fresh Gaussian
 * vectors), so each row is still marginally N(0, I_d) and the estimator stays unbiased.
 *
 * @param m - Number of features.
 * @param d - Dimension.
 * @param rng - Source of randomness.
 * @param orthogonal - Orthogonal random features (ORF) within blocks of d rows.
 * @returns Row-major m × d matrix.
 * @see Choromanski et al., "Rethinking Attention with Performers", ICLR 2021 (arXiv 2009.14794).
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { drawFeatureMatrix } from '@kv/polynomial';
 * const W = drawFeatureMatrix(64, 16, new Rng(1), true);
 * ```
 */
export function drawFeatureMatrix(m: number, d: number, rng: Rng, orthogonal: boolean): Float64Array {
  const W = new Float64Array(m * d);
  rng.fillGaussian(W);
  if (!orthogonal) return W;
  for (let start = 0; start < m; start += d) {
    const rows = Math.min(d, m - start);
    for (let i = 0; i < rows; i++) {
      const oi = (start + i) * d;
      // Modified Gram–Schmidt against the earlier rows of the block.
      for (let k = 0; k < i; k++) {
        const ok = (start + k) * d;
        let p = 0;
        for (let j = 0; j < d; j++) p += W[oi + j]! * W[ok + j]!;
        for (let j = 0; j < d; j++) W[oi + j]! -= p * W[ok + j]!;
      }
      let n2 = 0;
      for (let j = 0; j < d; j++) n2 += W[oi + j]! * W[oi + j]!;
      const inv = 1 / Math.sqrt(n2);
      for (let j = 0; j < d; j++) W[oi + j]! *= inv;
    }
    for (let i = 0; i < rows; i++) {
      let chi2 = 0;
      for (let j = 0; j < d; j++) {
        const z = rng.gaussian();
        chi2 += z * z;
      }
      const len = Math.sqrt(chi2);
      const oi = (start + i) * d;
      for (let j = 0; j < d; j++) W[oi + j]! *= len;
    }
  }
  return W;
}

/**
 * Log positive random features of x̃ = √τ·x: out_r = <w_r, x̃> − ||x̃||²/2, so that
 * φ_r(x) = e^{out_r}/√m and E[φ(q)·φ(k)] = e^{<q,k>τ} (FAVOR+). Kept in log form so that callers
 * can stabilise large norms.
 *
 * @param W - Row-major m × d projection matrix ({@link drawFeatureMatrix}).
 * @param m - Number of features.
 * @param x - The vector (d = W.length / m entries from `offset`).
 * @param tau - Logit scale τ.
 * @param out - Receives m log-features.
 * @param offset - Index of the vector's first element (default 0).
 * @returns `out`.
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { drawFeatureMatrix, logRandomFeatures } from '@kv/polynomial';
 * const W = drawFeatureMatrix(8, 2, new Rng(1), false);
 * logRandomFeatures(W, 8, new Float32Array([1, 0]), 1, new Float64Array(8));
 * ```
 */
export function logRandomFeatures(W: Float64Array, m: number, x: FloatArray, tau: number, out: Float64Array, offset = 0): Float64Array {
  const d = W.length / m;
  let n2 = 0;
  for (let j = 0; j < d; j++) n2 += x[offset + j]! * x[offset + j]!;
  const shift = (-n2 * tau) / 2;
  const root = Math.sqrt(tau);
  gemv('N', m, d, root, W, d, 1, 0, x, 1, offset, 0, out, 1, 0);
  for (let r = 0; r < m; r++) out[r]! += shift;
  return out;
}

/**
 * Positive random features φ(x) = e^{<w_r, √τx> − τ||x||²/2}/√m (FAVOR+), whose inner products
 * are unbiased estimates of the softmax kernel: E[<φ(q), φ(k)>] = e^{<q,k>τ}.
 *
 * @param W - Row-major m × d projection matrix.
 * @param m - Number of features.
 * @param x - The vector (length d).
 * @param tau - Logit scale τ.
 * @param out - Receives the m features.
 * @returns `out`.
 * @remarks Not stabilised: e^{…} overflows for large norms; caches use {@link logRandomFeatures}.
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { drawFeatureMatrix, positiveRandomFeatures } from '@kv/polynomial';
 * const W = drawFeatureMatrix(256, 4, new Rng(3), true);
 * positiveRandomFeatures(W, 256, new Float32Array([0.1, 0.2, 0, 0]), 0.5, new Float64Array(256));
 * ```
 */
export function positiveRandomFeatures(W: Float64Array, m: number, x: FloatArray, tau: number, out: Float64Array): Float64Array {
  logRandomFeatures(W, m, x, tau, out);
  const inv = 1 / Math.sqrt(m);
  for (let r = 0; r < m; r++) out[r] = Math.exp(out[r]!) * inv;
  return out;
}
