import {
  axpy,
  BaseHeadCache,
  booleanParam,
  type ByteCost,
  type CacheState,
  gemv,
  integerParam,
  type KernelSums,
  numberParam,
  type ParamInfo,
  type PolicyDefinition,
  type PolicySpec,
  Rng,
  type StateReader,
} from '@kv/core';
import { checkMemoryLimit, DEFAULT_MAX_BYTES, formatBytes, maxBytesParam, requireSummaryFits, summaryLimit, tokenEquivalents } from './memory.js';
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
  { name: 'features', type: 'integer', default: 256, description: 'Number m of positive random features (by default fewer when the budget holds fewer).' },
  { name: 'orthogonal', type: 'boolean', default: true, description: 'Orthogonal random features within blocks of d rows.' },
  { name: 'strict', type: 'boolean', default: false, description: 'Always answer from the features (no fallback).' },
  { name: 'threshold', type: 'number', default: 0.5, description: 'Estimated relative standard error of Ẑ, √(1/ESS − 1/m), above which the answer falls back to the mean token (counted).' },
  maxBytesParam,
];

/**
 * ||x||²τ above which a log-feature <w, √τx> − τ||x||²/2 (a double of that size) is rounded by more
 * than 1: the features are then off by factors of e whatever the spread estimate says.
 */
const LOST_PRECISION = 2 ** 54;

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
 * **Fallback**: Ẑ is a mean of m per-feature terms c_r, so its relative standard error is estimated
 * by √(1/ESS − 1/m) with ESS = (Σc_r)²/Σc_r² the effective number of features. At large norms one
 * feature dominates (ESS → 1) and the answer is noise; when the estimate exceeds `threshold`
 * (default 0.5) the cache answers from the tokens merged into one weighted token at their key mean
 * (a Jensen lower bound of Z, output the mean value) and counts it (`describe()`: `fallbacks`).
 * It does so too when a key or the query has ||x||²τ > 2^54, where the log-features themselves are
 * rounded by more than 1 (the spread estimate is then meaningless). `strict` always answers from
 * the features.
 *
 * **Memory**: m·(s+1) moments + m·d projection + m scales, and the key and value sums of the mean
 * token, all Float64 (`bytes` counts exactly these; query scratch is not counted). The number of
 * features is chosen once: by default the largest m ≤ 256 that fits the smallest bytes of the
 * budget; an explicit m that does not fit is refused with `InvalidBudgetError`.
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
  /** Whether the answer always comes from the features. */
  readonly strict: boolean;
  /** Estimated relative standard error of Ẑ above which the answer falls back. */
  readonly threshold: number;
  private readonly W: Float64Array;
  private readonly logScale: Float64Array;
  private readonly moments: Float64Array;
  private readonly keySum: Float64Array;
  private readonly valueSum: Float64Array;
  private tokens = 0;
  private fallbackCount = 0;
  private lastError = 0;
  /** Largest ||k||²τ seen: beyond {@link LOST_PRECISION} the keys' log-features are rounded by more than 1. */
  private maxKeyLog = 0;
  private readonly exps: Float64Array;
  private readonly acc: Float64Array;

  /**
   * @param spec - A validated spec (`params`: features, orthogonal, strict, threshold, maxBytes; `seed` draws W).
   * @throws `InvalidParamsError` on a bad parameter or arrays beyond `maxBytes`.
   * @throws `InvalidBudgetError` when the budget holds no feature (or not the given number).
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    const d = this.keyDim;
    const s = this.valueDim;
    this.orthogonal = booleanParam(p, 'orthogonal', true);
    this.strict = booleanParam(p, 'strict', false);
    this.threshold = numberParam(p, 'threshold', { default: 0.5, min: 0 });
    const maxBytes = integerParam(p, 'maxBytes', { default: DEFAULT_MAX_BYTES, min: 1 });
    const perFeature = 8 * (d + s + 2);
    const meanBytes = 8 * (d + s);
    let m: number;
    if (p?.['features'] !== undefined) m = integerParam(p, 'features', { min: 1, max: 1 << 24 });
    else m = Math.max(1, Math.min(256, Math.floor((summaryLimit(spec, maxBytes) - meanBytes) / perFeature)));
    this.features = m;
    checkMemoryLimit('performer', m * perFeature + meanBytes + 8 * (m + s + 1), maxBytes, `${m} features × (d + s + 3) Float64; use fewer features or raise maxBytes`);
    requireSummaryFits(spec, m * perFeature + meanBytes);
    this.W = drawFeatureMatrix(m, d, new Rng(spec.seed ?? 0), this.orthogonal);
    this.logScale = new Float64Array(m).fill(-Infinity);
    this.moments = new Float64Array(m * (s + 1));
    this.keySum = new Float64Array(d);
    this.valueSum = new Float64Array(s);
    this.exps = new Float64Array(m);
    this.acc = new Float64Array(s + 1);
  }

  /** Token-equivalents of the held bytes (constant). */
  get stored(): number {
    return this.seen === 0 ? 0 : tokenEquivalents(this.bytes, this.keyDim, this.valueDim);
  }

  /** Projection, log scales, moments and the mean token's sums. */
  override get bytes(): number {
    return this.W.byteLength + this.logScale.byteLength + this.moments.byteLength + this.keySum.byteLength + this.valueSum.byteLength;
  }

  /** Answers that came from the mean-token fallback so far. */
  get fallbacks(): number {
    return this.fallbackCount;
  }

  /** The estimated relative standard error of Ẑ in the last answer, √(1/ESS − 1/m). */
  get lastRelativeError(): number {
    return this.lastError;
  }

  protected override byteCost(): ByteCost {
    return { fixed: this.bytes, perRow: 0 };
  }

  protected saveState(): CacheState {
    return {
      scalars: { tokens: this.tokens, fallbacks: this.fallbackCount, maxKeyLog: this.maxKeyLog },
      arrays: { W: this.W, logScale: this.logScale, moments: this.moments, keySum: this.keySum, valueSum: this.valueSum },
    };
  }

  protected restoreState(r: StateReader): void {
    const m = this.features;
    const tokens = r.integer('tokens', 0, Number.MAX_SAFE_INTEGER);
    const fallbacks = r.integer('fallbacks', 0, Number.MAX_SAFE_INTEGER);
    const W = r.array('W', Float64Array, m * this.keyDim);
    const logScale = r.array('logScale', Float64Array, m);
    const moments = r.array('moments', Float64Array, m * (this.valueDim + 1));
    const keySum = r.array('keySum', Float64Array, this.keyDim);
    const valueSum = r.array('valueSum', Float64Array, this.valueDim);
    this.W.set(W);
    this.logScale.set(logScale);
    this.moments.set(moments);
    this.keySum.set(keySum);
    this.valueSum.set(valueSum);
    this.tokens = tokens;
    this.fallbackCount = fallbacks;
    this.maxKeyLog = r.number('maxKeyLog');
  }

  protected override describeSummary(): string {
    return `performer: ${this.features} positive random features (${formatBytes(this.bytes)}), ${this.fallbackCount} fallback answers`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { features: this.features, fallbacks: this.fallbackCount, lastRelativeError: this.lastError };
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
    let sq = 0;
    for (let j = 0; j < this.keyDim; j++) {
      const x = key[keyOffset + j]!;
      this.keySum[j] += x;
      sq += x * x;
    }
    if (sq * this.tau > this.maxKeyLog) this.maxKeyLog = sq * this.tau;
    for (let j = 0; j < s; j++) this.valueSum[j] += value[valueOffset + j]!;
    this.tokens++;
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const m = this.features;
    const s = this.valueDim;
    const w = s + 1;
    const e = logRandomFeatures(this.W, m, query, this.tau, this.exps);
    const L = this.logScale;
    let top = -Infinity;
    for (let r = 0; r < m; r++) {
      const v = e[r]! + L[r]!;
      e[r] = v;
      if (v > top) top = v;
    }
    let sum = 0;
    let sumSq = 0;
    const M = this.moments;
    for (let r = 0; r < m; r++) {
      const x = Math.exp(e[r]! - top);
      e[r] = x;
      const c = x * M[r * w]!;
      sum += c;
      sumSq += c * c;
    }
    // Ẑ is the mean of m terms c_r: its relative standard error is about √(1/ESS − 1/m).
    this.lastError = Math.sqrt(Math.max(0, sumSq / (sum * sum) - 1 / m));
    let querySq = 0;
    for (let j = 0; j < this.keyDim; j++) querySq += query[j]! * query[j]!;
    const lost = Math.max(querySq * this.tau, this.maxKeyLog) > LOST_PRECISION;
    if (!this.strict && (lost || !(this.lastError <= this.threshold))) {
      let logit = 0;
      for (let j = 0; j < this.keyDim; j++) logit += query[j]! * this.keySum[j]!;
      out.m = (this.tau * logit) / this.tokens;
      out.z = this.tokens;
      for (let j = 0; j < s; j++) out.n[j] = this.valueSum[j]!;
      this.fallbackCount++;
      return out;
    }
    gemv('T', m, w, 1, M, w, 1, 0, e, 1, 0, 0, this.acc, 1, 0);
    out.m = top - Math.log(m);
    out.z = this.acc[0]!;
    for (let j = 0; j < s; j++) out.n[j] = this.acc[j + 1]!;
    return out;
  }

  protected onReset(): void {
    this.moments.fill(0);
    this.logScale.fill(-Infinity);
    this.keySum.fill(0);
    this.valueSum.fill(0);
    this.tokens = 0;
    this.fallbackCount = 0;
    this.lastError = 0;
    this.maxKeyLog = 0;
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
  summary: 'Positive random features (FAVOR+, m features, seeded, sized to the budget): unbiased kernel sums in m·(s+1) Float64; counted mean-token fallback when the estimated error of Ẑ is large.',
  params: performerParams,
  budget: 'optional',
  create: (spec) => new PerformerCache(spec),
};
