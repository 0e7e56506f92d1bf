import {
  axpy,
  BaseHeadCache,
  booleanParam,
  gemv,
  integerParam,
  type KernelSums,
  type ParamInfo,
  type PolicyDefinition,
  type PolicySpec,
  Rng,
} from '@kv/core';
import { checkBudgetHolds, checkMemoryLimit, DEFAULT_MAX_BYTES, maxBytesParam, tokenEquivalents } from './memory.js';
import { drawFeatureMatrix, logRandomFeatures } from './random-features.js';

/**
 * Parameters of the `performer` policy: names, types, defaults and descriptions.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { performerParams, performerPolicy } from '@kv/polynomial';
 * performerParams.map((p) => p.name); // the keys accepted in `params`
 * new PolicyRegistry().register(performerPolicy).create({ policy: 'performer', keyDim: 8, valueDim: 8, params: { features: 64 } });
 * ```
 */
export const performerParams: readonly ParamInfo[] = [
  { name: 'features', type: 'integer', default: 256, description: 'Number m of positive random features.' },
  { name: 'orthogonal', type: 'boolean', default: true, description: 'Orthogonal random features within blocks of d rows.' },
  maxBytesParam,
];

/**
 * Positive random features (Performer's FAVOR+): the randomized peer of the Taylor moments. The
 * softmax kernel is estimated as e^{<q,k>τ} ≈ <φ(q), φ(k)> with
 * φ_r(x) = e^{<w_r, √τx> − τ||x||²/2}/√m, w_r ~ N(0, I_d) (seeded, orthogonal by default), and the
 * cache keeps Σ_i φ(k_i)v_iᵀ and Σ_i φ(k_i) in Float64: m·(s+1) numbers, independent of n.
 *
 * @remarks **Guarantee**: for a fixed query, the kernel sums Ẑ and N̂ are unbiased estimates of Z
 * and N over the draw of W (every feature is positive, so Ẑ > 0 always); the output N̂/Ẑ is a
 * ratio estimator (biased, consistent as m grows). The variance grows like e^{τ(||q||² + ||k||²)}
 * relative to the kernel, so large norms need many features: there is no per-query certificate.
 *
 * **Stabilisation**: each feature row r keeps its own log scale M_r = max_i (log φ_r(k_i)); a row is
 * rescaled by e^{M_old − M_new} when a larger key arrives, and a query combines rows with
 * log-sum-exp over r, so keys and queries of any norm stay finite (z ≥ 1 by construction).
 *
 * **Memory**: m·(s+1) moments + m·d projection + m scales + scratch, all Float64.
 * @see Choromanski et al., "Rethinking Attention with Performers", ICLR 2021 (arXiv 2009.14794).
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { polynomialPolicies } from '@kv/polynomial';
 * const cache = new PolicyRegistry().register(...polynomialPolicies)
 *   .create({ policy: 'performer', keyDim: 16, valueDim: 16, seed: 7, params: { features: 512 } });
 * ```
 */
export class PerformerCache extends BaseHeadCache {
  /** Number of features m. */
  readonly features: number;
  /** Whether the projection rows are orthogonal within blocks. */
  readonly orthogonal: boolean;
  private readonly W: Float64Array;
  private readonly logScale: Float64Array;
  private readonly moments: Float64Array;
  private readonly exps: Float64Array;
  private storedConstant: number | undefined;
  private readonly acc: Float64Array;

  /**
   * @param spec - A validated spec (`params`: features, orthogonal, maxBytes; `seed` draws W).
   * @throws `InvalidParamsError` on a bad parameter or arrays beyond `maxBytes`.
   * @throws `InvalidBudgetError` when a budget is smaller than the fixed summary size.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    const d = this.keyDim;
    const s = this.valueDim;
    this.features = integerParam(p, 'features', { default: 256, min: 1, max: 1 << 24 });
    this.orthogonal = booleanParam(p, 'orthogonal', true);
    const maxBytes = integerParam(p, 'maxBytes', { default: DEFAULT_MAX_BYTES, min: 1 });
    const m = this.features;
    const bytes = 8 * (m * d + m + m * (s + 1) + m + (s + 1));
    checkMemoryLimit('performer', bytes, maxBytes, `${m} features × (d + s + 3) Float64; use fewer features or raise maxBytes`);
    checkBudgetHolds(spec, tokenEquivalents(bytes, d, s), `use fewer features (now ${m})`);
    this.W = drawFeatureMatrix(m, d, new Rng(spec.seed ?? 0), this.orthogonal);
    this.logScale = new Float64Array(m).fill(-Infinity);
    this.moments = new Float64Array(m * (s + 1));
    this.exps = new Float64Array(m);
    this.acc = new Float64Array(s + 1);
  }

  /** Token-equivalents of the held bytes (constant). */
  get stored(): number {
    if (this.seen === 0) return 0;
    // The arrays are allocated once, so the size is computed once.
    return (this.storedConstant ??= tokenEquivalents(this.bytes, this.keyDim, this.valueDim));
  }

  /**
   * The held arrays: moments, per-row log scales, the projection matrix and scratch.
   * @returns The arrays.
   */
  buffers(): readonly ArrayBufferView[] {
    return [this.moments, this.logScale, this.W, this.exps, this.acc];
  }

  protected onAppend(key: Float32Array, value: Float32Array): void {
    this.addToken(key, 0, value, 0);
  }

  protected override onPrefill(keys: Float32Array, values: Float32Array, count: number): void {
    for (let i = 0; i < count; i++) this.addToken(keys, i * this.keyDim, values, i * this.valueDim);
  }

  /** Adds one token read at offsets (no per-token views). */
  private addToken(key: Float32Array, keyOffset: number, value: Float32Array, valueOffset: number): void {
    const m = this.features;
    const s = this.valueDim;
    const w = s + 1;
    const e = logRandomFeatures(this.W, m, key, this.tau, this.exps, keyOffset);
    const M = this.moments;
    const L = this.logScale;
    for (let r = 0, row = 0; r < m; r++, row += w) {
      const er = e[r]!;
      let lr = L[r]!;
      if (er > lr) {
        if (lr !== -Infinity) {
          const f = Math.exp(lr - er);
          for (let j = row; j < row + w; j++) M[j]! *= f;
        }
        L[r] = er;
        lr = er;
      }
      const a = Math.exp(er - lr);
      M[row] += a;
      axpy(s, a, value, 1, valueOffset, M, 1, row + 1);
    }
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const m = this.features;
    const s = this.valueDim;
    const e = logRandomFeatures(this.W, m, query, this.tau, this.exps);
    const L = this.logScale;
    let top = -Infinity;
    for (let r = 0; r < m; r++) {
      const v = e[r]! + L[r]!;
      e[r] = v;
      if (v > top) top = v;
    }
    for (let r = 0; r < m; r++) e[r] = Math.exp(e[r]! - top);
    gemv('T', m, s + 1, 1, this.moments, s + 1, 1, 0, e, 1, 0, 0, this.acc, 1, 0);
    out.m = top - Math.log(m);
    out.z = this.acc[0]!;
    for (let j = 0; j < s; j++) out.n[j] = this.acc[j + 1]!;
    return out;
  }

  protected onReset(): void {
    this.moments.fill(0);
    this.logScale.fill(-Infinity);
  }
}

/**
 * The `performer` policy: FAVOR+ positive random features with m features (seeded).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { performerPolicy } from '@kv/polynomial';
 * new PolicyRegistry().register(performerPolicy).create({ policy: 'performer', keyDim: 8, valueDim: 8, params: { features: 128 } });
 * ```
 */
export const performerPolicy: PolicyDefinition = {
  name: 'performer',
  summary: 'Positive random features (FAVOR+, m features, seeded): unbiased kernel sums in m·(s+1) Float64, no per-query bound.',
  params: performerParams,
  budget: 'optional',
  create: (spec) => new PerformerCache(spec),
};
