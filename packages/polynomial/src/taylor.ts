import {
  AssumptionViolatedError,
  BaseHeadCache,
  booleanParam,
  type ByteCost,
  type CacheState,
  integerParam,
  InvalidParamsError,
  type KernelSums,
  nrm2,
  numberParam,
  type ParamInfo,
  type PolicyDefinition,
  type PolicySpec,
  SlotStore,
  type StateReader,
} from '@kv/core';
import { outputBound, roundingBound, taylorDegreeFor, taylorRemainderBound } from './bounds.js';
import { ErrorCertificate } from './certificate.js';
import { checkMemoryLimit, DEFAULT_MAX_BYTES, formatBytes, maxBytesParam, requireSummaryFits, summaryLimit, tokenEquivalents } from './memory.js';
import { expansionBytes, expansionStateBytes, MomentExpansions } from './moments.js';
import { MAX_DEGREE, monomialCount, MonomialBasis } from './monomials.js';

/**
 * Parameters of the `taylor` policy: names, types, defaults and descriptions.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { taylorParams, taylorPolicy } from '@kv/polynomial';
 * taylorParams.map((p) => p.name); // the keys accepted in `params`
 * new PolicyRegistry().register(taylorPolicy).create({ policy: 'taylor', keyDim: 8, valueDim: 8, params: { rho: 2, eps: 1e-4 } });
 * ```
 */
export const taylorParams: readonly ParamInfo[] = [
  { name: 'degree', type: 'integer', description: 'Taylor degree g (even unless allowOdd); default: taylorDegreeFor(rho, eps), lowered to the largest that fits the budget and maxBytes.' },
  { name: 'rho', type: 'number', default: 1, description: 'Assumed logit radius ||q||·||k − c||·τ: picks the degree and is the strict-mode limit.' },
  { name: 'eps', type: 'number', default: 1e-3, description: 'Target relative error of Z and N terms when the degree is derived from rho.' },
  { name: 'allowOdd', type: 'boolean', default: false, description: 'Accept an odd degree (the truncated series may then be negative).' },
  { name: 'warmup', type: 'integer', default: 32, description: 'Tokens kept exactly whose key mean becomes the fixed centre (0: centre at the origin); fewer when the budget holds fewer.' },
  { name: 'strict', type: 'boolean', default: false, description: 'Throw AssumptionViolatedError when a query has ||q||·max||k − c||·τ > rho or Z is not positive, instead of falling back.' },
  { name: 'threshold', type: 'number', default: 0.5, description: 'A certificate above this answers from the mean-token fallback (counted); 0.5 is where its bound 2·max||v|| beats the certificate\'s.' },
  maxBytesParam,
];

/** Whether a spec gives the degree explicitly; an odd one needs allowOdd. */
function givenDegree(spec: PolicySpec, allowOdd: boolean): number | undefined {
  if (spec.params?.['degree'] === undefined) return undefined;
  const g = integerParam(spec.params, 'degree', { min: 0, max: MAX_DEGREE });
  if (g % 2 === 1 && !allowOdd) {
    throw new InvalidParamsError(
      `parameter "degree" is ${g}: an odd Taylor polynomial of e^x is negative for large negative x, so the ` +
        `denominator could be ≤ 0; use an even degree or set allowOdd`,
    );
  }
  return g;
}

/** The largest degree ≤ `cap` (same parity step) whose state fits `limit` bytes (−1 if none). */
function largestFittingDegree(d: number, s: number, cap: number, limit: number, step: number): number {
  let best = -1;
  for (let g = 0; g <= cap; g += step) {
    if (expansionStateBytes(d, s, g, 1) > limit) break;
    best = g;
  }
  return best;
}

/**
 * Taylor moments: a cache whose size does not depend on the number of tokens. e^{<q,k>τ} is
 * replaced by its degree-g Taylor polynomial about a key centre c, whose symmetric moments
 * Σ_i (k_i − c)^α/α!·[1, v_i] (|α| ≤ g, C(d+g, g) monomials, Float64) are summed as tokens arrive
 * (algorithms.md §4). Every answer comes with an {@link ErrorCertificate}.
 *
 * Centring: the first `warmup` tokens are kept exactly (and answered exactly); when the warm-up is
 * full, the mean of its keys becomes the fixed centre c, the warm-up tokens are folded into the
 * moments and their buffer is released. The centre never moves afterwards, so a stream that drifts
 * away from its first keys raises max||k − c|| and the certificate says so.
 *
 * @remarks **Guarantee.** For a query q let ρ = ||q||·R·τ with R = max_i ||k_i − c|| over the tokens
 * in the moments. Then every token's term is reproduced within relative error
 * ρ^{g+1}e^{ρ}/(g+1)! ({@link taylorRemainderBound}), so |Ẑ − Z| ≤ r·Z and
 * ||N̂ − N|| ≤ r·Z·max||v|| with r = that bound plus a Float64 rounding bound
 * ({@link roundingBound}), and ||ô − o|| ≤ 2r·max||v||/(1 − r) ({@link outputBound}). The
 * certificate of each answer ({@link TaylorCache.lastCertificate}) reports exactly these numbers.
 * If every key satisfies ||q||·||k − c||·τ ≤ `rho`, r ≤ taylorRemainderBound(rho, g) + rounding.
 * When keys have ||k|| ≤ r₀ then ||k − c|| ≤ 2r₀, so ρ ≤ 2·||q||·r₀·τ.
 *
 * **Outside the assumption** (large ρ) the certificate grows like ρ^{g+1}e^{ρ}/(g+1)! and passes
 * `threshold` (default 0.5, where the certificate's output bound 2r·max||v||/(1 − r) exceeds the
 * fallback's 2·max||v||): the answer then comes from the **fallback**, the tokens merged into one
 * weighted token at their key mean ({@link MomentExpansions.meanSums}: a Jensen lower bound on Z,
 * output the mean value), marked in the certificate and counted in `describe()` (`fallbacks`). So
 * a query never gets an unbounded answer without a sign. Even g keeps the exact-arithmetic
 * denominator positive; a Z destroyed by rounding also falls back. With `strict: true` a query
 * whose ρ exceeds `rho`, or whose Z is not positive, throws `AssumptionViolatedError` instead.
 *
 * **Memory.** C(d+g, g)·(s+1) Float64 moments, the centre, and 7-byte-per-monomial index tables,
 * plus the warm-up rows until the centre is fixed: `bytes` is exactly these (the state), and
 * `stored` = ceil(bytes/(4(d+s))). The size is chosen once: an explicit degree is refused with
 * `InvalidBudgetError` (naming the smallest budget that fits) when it does not fit the smallest
 * bytes the budget gives; a derived degree is lowered to the largest that fits (and the warm-up
 * shortened), and only a budget below the degree-0 state is refused. Arrays above `maxBytes` are
 * refused with `InvalidParamsError`.
 * Cost per token: O(C(d+g, g)·s) for append and for a query.
 * @see Alman & Song, "Fast Attention Requires Bounded Entries", NeurIPS 2023 (arXiv 2302.13214).
 * @see Aggarwal & Alman, "Optimal-Degree Polynomial Approximations for Exponentials and Gaussian
 *   Kernel Density Estimation", CCC 2022 (arXiv 2205.06249).
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { polynomialPolicies, type TaylorCache } from '@kv/polynomial';
 * const registry = new PolicyRegistry().register(...polynomialPolicies);
 * const cache = registry.create({ policy: 'taylor', keyDim: 8, valueDim: 8, params: { rho: 1, eps: 1e-3 } }) as TaylorCache;
 * cache.append(new Float32Array(8).fill(0.1), new Float32Array(8).fill(1));
 * const out = new Float32Array(8);
 * cache.attend(new Float32Array(8).fill(0.2), out);
 * cache.lastCertificate.output; // bound on the error of `out`
 * ```
 */
export class TaylorCache extends BaseHeadCache {
  /** Taylor degree g. */
  readonly degree: number;
  /** The assumed logit radius (used for the degree and by strict mode). */
  readonly rho: number;
  /** Whether queries beyond `rho` (or with Z ≤ 0) throw instead of falling back. */
  readonly strict: boolean;
  /** Certificate above which an answer falls back to the mean token. */
  readonly threshold: number;
  /** Warm-up length (tokens kept exactly before the centre is fixed). */
  readonly warmup: number;
  /** The certificate of the last answer (overwritten by every query). */
  readonly lastCertificate = new ErrorCertificate();
  private readonly expansion: MomentExpansions;
  private readonly psi: Float64Array;
  private readonly warmRows: SlotStore;
  private centredNow: boolean;
  private maxValueNorm = 0;
  private fallbackCount = 0;

  /**
   * @param spec - A validated spec (`params`: degree, rho, eps, allowOdd, warmup, strict, threshold, maxBytes).
   * @throws `InvalidParamsError` on a bad parameter or arrays beyond `maxBytes`.
   * @throws `InvalidBudgetError` when the budget holds no degree (or not the given one), naming the smallest that fits.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    const d = this.keyDim;
    const s = this.valueDim;
    this.rho = numberParam(p, 'rho', { default: 1, min: Number.MIN_VALUE });
    const eps = numberParam(p, 'eps', { default: 1e-3, min: Number.MIN_VALUE, max: 0.999999 });
    const allowOdd = booleanParam(p, 'allowOdd', false);
    this.strict = booleanParam(p, 'strict', false);
    this.threshold = numberParam(p, 'threshold', { default: 0.5, min: 0 });
    const warmup = integerParam(p, 'warmup', { default: 32, min: 0, max: 1 << 20 });
    const maxBytes = integerParam(p, 'maxBytes', { default: DEFAULT_MAX_BYTES, min: 1 });
    const limit = summaryLimit(spec, maxBytes);
    const given = givenDegree(spec, allowOdd);
    const step = allowOdd ? 1 : 2;
    const wanted = given ?? taylorDegreeFor(this.rho, eps, { even: !allowOdd, maxDegree: MAX_DEGREE });
    const g = given ?? Math.max(0, largestFittingDegree(d, s, wanted, limit, step));
    this.degree = g;
    const size = monomialCount(d, g);
    const allocated = expansionBytes(d, s, g, 1) + size * 8;
    const best = largestFittingDegree(d, s, MAX_DEGREE, maxBytes, step);
    checkMemoryLimit(
      'taylor',
      allocated,
      maxBytes,
      `C(${d}+${g}, ${g}) = ${size} monomials × (s+1 = ${s + 1}) Float64 moments; ` +
        (best >= 0 ? `the largest degree that fits is ${best}` : 'no degree fits') +
        ', or raise maxBytes',
    );
    const momentBytes = expansionStateBytes(d, s, g, 1);
    // Warm-up rows are float32 keys and values (positions are not needed).
    const rowBytes = 4 * (d + s);
    this.warmup = Math.max(0, Math.min(warmup, Math.floor((limit - momentBytes) / rowBytes)));
    this.warmRows = new SlotStore(d, s, { maxSlots: Math.max(this.warmup, 1), initialSlots: 0, positions: false });
    requireSummaryFits(spec, momentBytes + this.warmup * rowBytes);
    this.expansion = new MomentExpansions(new MonomialBasis(d, g), 1, s);
    this.psi = new Float64Array(size);
    this.centredNow = this.warmup === 0;
  }

  /** Token-equivalents of the held bytes, ceil(bytes / (4·(d+s))). */
  get stored(): number {
    return this.seen === 0 ? 0 : tokenEquivalents(this.bytes, this.keyDim, this.valueDim);
  }

  /** Moments, centre and tables, plus the warm-up rows until the centre is fixed. */
  override get bytes(): number {
    return expansionStateBytes(this.keyDim, this.valueDim, this.degree, 1) + (this.centredNow ? 0 : this.warmRows.heldBytes);
  }

  /** Number of monomials C(d+g, g). */
  get monomials(): number {
    return this.expansion.basis.size;
  }

  /** max_i ||k_i − c|| over the tokens in the moments (0 during the warm-up). */
  get radius(): number {
    return this.expansion.radii[0]!;
  }

  /** Whether the centre is fixed (the warm-up is over). */
  get centred(): boolean {
    return this.centredNow;
  }

  /** Answers that came from the mean-token fallback so far. */
  get fallbacks(): number {
    return this.fallbackCount;
  }

  /**
   * The key centre c (a copy; zero until the warm-up is over).
   * @returns The centre.
   */
  centre(): Float64Array {
    return this.expansion.centres.slice();
  }

  /**
   * Answers a query and returns the certificate of the answer.
   * @param query - Query of length d.
   * @param out - Receives the kernel sums.
   * @returns {@link TaylorCache.lastCertificate}, updated for this answer.
   * @throws `EmptyCacheError` before the first token; `DimensionMismatchError`, `NonFiniteInputError`
   *   or `InvalidInputError` on a bad query; `AssumptionViolatedError` in strict mode.
   */
  sumsWithCertificate(query: Float32Array, out: KernelSums): ErrorCertificate {
    this.sums(query, out);
    return this.lastCertificate;
  }

  protected override byteCost(): ByteCost {
    return { fixed: expansionStateBytes(this.keyDim, this.valueDim, this.degree, 1) + this.warmup * this.warmRows.perRowBytes, perRow: 0 };
  }

  protected saveState(): CacheState {
    const parts: Record<string, CacheState> = { moments: this.expansion.state() };
    if (!this.centredNow) parts['warm'] = this.warmRows.state();
    return {
      scalars: { centred: this.centredNow, maxValueNorm: this.maxValueNorm, fallbacks: this.fallbackCount },
      arrays: {},
      parts,
    };
  }

  protected restoreState(r: StateReader): void {
    const centred = r.boolean('centred');
    if (!centred && this.warmup === 0) r.refuse('a cache without warm-up is always centred');
    const maxValueNorm = r.number('maxValueNorm');
    const fallbacks = r.integer('fallbacks', 0, Number.MAX_SAFE_INTEGER);
    this.expansion.loadState(r.part('moments'), 1);
    if (!centred) {
      this.warmRows.loadState(r.part('warm'));
      if (this.warmRows.count >= this.warmup) r.refuse(`the warm-up holds ${this.warmRows.count} rows, expected fewer than ${this.warmup}`);
    }
    this.centredNow = centred;
    this.maxValueNorm = maxValueNorm;
    this.fallbackCount = fallbacks;
  }

  protected override describeSummary(): string {
    const phase = this.centredNow ? `centred, radius ${this.radius.toPrecision(3)}` : `warm-up ${this.warmRows.count}/${this.warmup} exact`;
    return `taylor: degree ${this.degree} (${this.monomials} monomials, ${formatBytes(this.bytes)}), ${phase}, ${this.fallbackCount} fallback answers`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { degree: this.degree, monomials: this.monomials, warmup: this.warmup, centred: this.centredNow, radius: this.radius, fallbacks: this.fallbackCount };
  }

  protected onAppend(key: Float32Array, value: Float32Array): void {
    this.addToken(key, 0, value, 0);
  }

  protected override onPrefill(keys: Float32Array, values: Float32Array, count: number): void {
    for (let i = 0; i < count; i++) this.addToken(keys, i * this.keyDim, values, i * this.valueDim);
  }

  /** Adds one token read at offsets (no per-token views). */
  private addToken(key: Float32Array, keyOffset: number, value: Float32Array, valueOffset: number): void {
    const vn = nrm2(this.valueDim, value, 1, valueOffset);
    if (vn > this.maxValueNorm) this.maxValueNorm = vn;
    if (this.centredNow) {
      this.expansion.add(0, key, value, keyOffset, valueOffset);
      return;
    }
    const warm = this.warmRows;
    warm.push(key, keyOffset, value, valueOffset, 0, 0);
    if (warm.count === this.warmup) this.fold(warm);
  }

  /** Fixes the centre at the warm-up key mean and moves the warm-up tokens into the moments. */
  private fold(warm: SlotStore): void {
    const d = this.keyDim;
    const s = this.valueDim;
    const c = this.expansion.centres;
    const row = new Float64Array(d);
    const value = new Float64Array(s);
    c.fill(0);
    for (let i = 0; i < warm.count; i++) {
      warm.readKey(i, row);
      for (let j = 0; j < d; j++) c[j] += row[j]!;
    }
    for (let j = 0; j < d; j++) c[j]! /= warm.count;
    for (let i = 0; i < warm.count; i++) this.expansion.add(0, warm.readKey(i, row), warm.readValue(i, value));
    warm.clear();
    this.centredNow = true;
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const cert = this.lastCertificate;
    if (!this.centredNow) {
      this.warmRows.sums(query, this.tau, out);
      cert.clear();
      cert.exact = true;
      cert.degree = this.degree;
      cert.maxValueNorm = this.maxValueNorm;
      return out;
    }
    const e = this.expansion;
    const qn = nrm2(this.keyDim, query, 1, 0);
    const rho = qn * e.radii[0]! * this.tau;
    if (this.strict && rho > this.rho) {
      throw new AssumptionViolatedError(
        `taylor: ||q||·max||k − c||·τ = ${rho.toPrecision(4)} exceeds rho = ${this.rho} (degree ${this.degree}); ` +
          `the certificate would be ${taylorRemainderBound(rho, this.degree).toPrecision(3)}`,
      );
    }
    const truncation = taylorRemainderBound(rho, this.degree);
    const rounding = roundingBound(e.tokens[0]!, e.basis.size, this.degree, rho);
    const relative = truncation + rounding;
    if (this.strict || relative <= this.threshold) {
      e.queryFeatures(query, this.psi);
      e.evaluate(0, query, qn, this.psi, this.tau, out);
      if (out.z > 0 && Number.isFinite(out.z)) {
        cert.exact = false;
        cert.fallback = false;
        cert.degree = this.degree;
        cert.rho = rho;
        cert.truncation = truncation;
        cert.rounding = rounding;
        cert.relative = relative;
        cert.maxValueNorm = this.maxValueNorm;
        cert.output = outputBound(relative, this.maxValueNorm);
        return out;
      }
      if (this.strict) {
        throw new AssumptionViolatedError(
          `taylor: the degree-${this.degree} estimate of Z is ${out.z} at ρ = ${rho.toPrecision(4)} (rounding or an odd degree); ` +
            'lower the key spread or the query norm, or raise the degree',
        );
      }
    }
    e.meanSums(0, query, this.tau, out);
    cert.markFallback(this.degree, rho, this.maxValueNorm);
    this.fallbackCount++;
    return out;
  }

  protected onReset(): void {
    this.expansion.clear();
    this.warmRows.clear();
    this.centredNow = this.warmup === 0;
    this.maxValueNorm = 0;
    this.fallbackCount = 0;
    this.lastCertificate.clear();
  }
}

/**
 * The `taylor` policy: Taylor moments up to degree g about a fixed key centre, with a per-query
 * error certificate. Budget optional (the size is chosen once to fit it; a budget below degree 0 is refused).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { taylorPolicy } from '@kv/polynomial';
 * new PolicyRegistry().register(taylorPolicy).create({ policy: 'taylor', keyDim: 8, valueDim: 8, params: { degree: 4 } });
 * ```
 */
export const taylorPolicy: PolicyDefinition = {
  name: 'taylor',
  summary: 'Taylor moments of degree g about a key centre (fixed size C(d+g,g)·(s+1), sized to the budget); relative error ≤ ρ^{g+1}e^ρ/(g+1)! per term, certified per query; counted mean-token fallback beyond it.',
  params: taylorParams,
  budget: 'optional',
  create: (spec) => new TaylorCache(spec),
};
