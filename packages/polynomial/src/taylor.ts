import {
  AssumptionViolatedError,
  BaseHeadCache,
  booleanParam,
  integerParam,
  InvalidParamsError,
  type KernelSums,
  nrm2,
  numberParam,
  type ParamInfo,
  type PolicyDefinition,
  type PolicySpec,
  SlotStore,
} from '@kv/core';
import { outputBound, roundingBound, taylorDegreeFor, taylorRemainderBound } from './bounds.js';
import { ErrorCertificate } from './certificate.js';
import { checkBudgetHolds, checkMemoryLimit, DEFAULT_MAX_BYTES, maxBytesParam, tokenEquivalents } from './memory.js';
import { expansionBytes, MomentExpansions } from './moments.js';
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
  { name: 'degree', type: 'integer', description: 'Taylor degree g (even unless allowOdd); default: taylorDegreeFor(rho, eps).' },
  { name: 'rho', type: 'number', default: 1, description: 'Assumed logit radius ||q||·||k − c||·τ: picks the degree and is the strict-mode limit.' },
  { name: 'eps', type: 'number', default: 1e-3, description: 'Target relative error of Z and N terms when the degree is derived from rho.' },
  { name: 'allowOdd', type: 'boolean', default: false, description: 'Accept an odd degree (the truncated series may then be negative).' },
  { name: 'warmup', type: 'integer', default: 32, description: 'Tokens kept exactly whose key mean becomes the fixed centre (0: centre at the origin).' },
  { name: 'strict', type: 'boolean', default: false, description: 'Throw AssumptionViolatedError when a query has ||q||·max||k − c||·τ > rho.' },
  maxBytesParam,
];

/** The degree of a spec: given, or derived from (rho, eps); odd degrees need allowOdd. */
function readDegree(spec: PolicySpec, rho: number, eps: number, allowOdd: boolean): number {
  const given = spec.params?.['degree'];
  if (given === undefined) return taylorDegreeFor(rho, eps, { even: !allowOdd, maxDegree: MAX_DEGREE });
  const g = integerParam(spec.params, 'degree', { min: 0, max: MAX_DEGREE });
  if (g % 2 === 1 && !allowOdd) {
    throw new InvalidParamsError(
      `parameter "degree" is ${g}: an odd Taylor polynomial of e^x is negative for large negative x, so the ` +
        `denominator could be ≤ 0; use an even degree or set allowOdd`,
    );
  }
  return g;
}

/** The largest degree (of the same parity step) whose arrays fit in maxBytes, for error hints. */
function largestFittingDegree(d: number, s: number, count: number, maxBytes: number, extraPerMonomial: number, extra: number, step: number): number {
  let best = -1;
  for (let g = 0; g <= MAX_DEGREE; g += step) {
    if (expansionBytes(d, s, g, count) + monomialCount(d, g) * extraPerMonomial + extra > maxBytes) break;
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
 * **Outside the assumption** (large ρ) the answer degrades smoothly and the certificate grows like
 * ρ^{g+1}e^{ρ}/(g+1)! (it passes 1 and then bounds nothing); with `strict: true` a query whose ρ
 * exceeds `rho` throws `AssumptionViolatedError` instead. Even g keeps the denominator
 * positive (T_g(x) > 0 for every real x when g is even); if rounding ever destroys it (only when
 * the certificate is already ≥ 1) the query throws `AssumptionViolatedError`.
 *
 * **Memory.** C(d+g, g)·(s+1) Float64 moments, plus a C(d+g, g) feature scratch and 7-byte-per-
 * monomial index tables; `bytes` counts all of them and `stored` = ceil(bytes/(4(d+s))) is constant
 * once the warm-up is folded. Configurations above `maxBytes` are refused with
 * `InvalidParamsError`; a token budget smaller than `stored` is refused with
 * `InvalidBudgetError` (the degree is never silently lowered to fit a budget).
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
  /** Whether queries beyond `rho` throw. */
  readonly strict: boolean;
  /** Warm-up length (tokens kept exactly before the centre is fixed). */
  readonly warmup: number;
  /** The certificate of the last answer (overwritten by every query). */
  readonly lastCertificate = new ErrorCertificate();
  private readonly expansion: MomentExpansions;
  private readonly psi: Float64Array;
  private warm: SlotStore | null;
  private maxValueNorm = 0;
  private storedWarm: number | undefined;
  private storedFolded: number | undefined;

  /**
   * @param spec - A validated spec (`params`: degree, rho, eps, allowOdd, warmup, strict, maxBytes).
   * @throws `InvalidParamsError` on a bad parameter or arrays beyond `maxBytes`.
   * @throws `InvalidBudgetError` when a budget is smaller than the fixed summary size.
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
    this.warmup = integerParam(p, 'warmup', { default: 32, min: 0, max: 1 << 20 });
    const maxBytes = integerParam(p, 'maxBytes', { default: DEFAULT_MAX_BYTES, min: 1 });
    this.degree = readDegree(spec, this.rho, eps, allowOdd);
    const g = this.degree;
    const warmBytes = this.warmup * (4 * (d + s) + 4);
    const size = monomialCount(d, g);
    const bytes = expansionBytes(d, s, g, 1) + size * 8 + warmBytes;
    const best = largestFittingDegree(d, s, 1, maxBytes, 8, warmBytes, allowOdd ? 1 : 2);
    checkMemoryLimit(
      'taylor',
      bytes,
      maxBytes,
      `C(${d}+${g}, ${g}) = ${size} monomials × (s+1 = ${s + 1}) Float64 moments; ` +
        (best >= 0 ? `the largest degree that fits is ${best}` : 'no degree fits') +
        ', or raise maxBytes',
    );
    checkBudgetHolds(spec, tokenEquivalents(bytes, d, s), `lower the degree (now ${g})`);
    this.expansion = new MomentExpansions(new MonomialBasis(d, g), 1, s);
    this.psi = new Float64Array(size);
    this.warm = this.warmup > 0 ? new SlotStore(d, s, { maxSlots: this.warmup, initialSlots: this.warmup }) : null;
  }

  /** Token-equivalents of the held bytes, ceil(bytes / (4·(d+s))). */
  get stored(): number {
    if (this.seen === 0) return 0;
    // Cached per phase (warm-up rows held or released): the arrays never change size otherwise.
    if (this.warm !== null) return (this.storedWarm ??= tokenEquivalents(this.bytes, this.keyDim, this.valueDim));
    return (this.storedFolded ??= tokenEquivalents(this.bytes, this.keyDim, this.valueDim));
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
    return this.warm === null;
  }

  /**
   * The key centre c (a copy; zero until the warm-up is over).
   * @returns The centre.
   */
  centre(): Float64Array {
    return this.expansion.centres.slice();
  }

  /**
   * The held arrays: moments, centre, scratch, basis tables and, during the warm-up, the exact rows.
   * @returns The arrays.
   */
  buffers(): readonly ArrayBufferView[] {
    const b = [...this.expansion.buffers(), this.psi];
    if (this.warm) b.push(...this.warm.buffers());
    return b;
  }

  /**
   * Answers a query and returns the certificate of the answer.
   * @param query - Query of length d.
   * @param out - Receives the kernel sums.
   * @returns {@link TaylorCache.lastCertificate}, updated for this answer.
   * @throws the errors of {@link BaseHeadCache.sums}, and `AssumptionViolatedError` in strict mode.
   */
  sumsWithCertificate(query: Float32Array, out: KernelSums): ErrorCertificate {
    this.sums(query, out);
    return this.lastCertificate;
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    this.addToken(key, 0, value, 0, position);
  }

  protected override onPrefill(keys: Float32Array, values: Float32Array, count: number, firstPosition: number): void {
    for (let i = 0; i < count; i++) this.addToken(keys, i * this.keyDim, values, i * this.valueDim, firstPosition + i);
  }

  /** Adds one token read at offsets (no per-token views). */
  private addToken(key: Float32Array, keyOffset: number, value: Float32Array, valueOffset: number, position: number): void {
    const vn = nrm2(this.valueDim, value, 1, valueOffset);
    if (vn > this.maxValueNorm) this.maxValueNorm = vn;
    const warm = this.warm;
    if (warm === null) {
      this.expansion.add(0, key, value, keyOffset, valueOffset);
      return;
    }
    warm.push(key, keyOffset, value, valueOffset, position, 0);
    if (warm.count === this.warmup) this.fold(warm);
  }

  /** Fixes the centre at the warm-up key mean and moves the warm-up tokens into the moments. */
  private fold(warm: SlotStore): void {
    const d = this.keyDim;
    const s = this.valueDim;
    const c = this.expansion.centres;
    c.fill(0);
    for (let i = 0; i < warm.count; i++) for (let j = 0; j < d; j++) c[j] += warm.keys[i * d + j]!;
    for (let j = 0; j < d; j++) c[j]! /= warm.count;
    for (let i = 0; i < warm.count; i++) this.expansion.add(0, warm.keys, warm.values, i * d, i * s);
    this.warm = null;
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const cert = this.lastCertificate;
    const warm = this.warm;
    if (warm !== null) {
      warm.sums(query, this.tau, out);
      cert.exact = true;
      cert.degree = this.degree;
      cert.rho = 0;
      cert.truncation = 0;
      cert.rounding = 0;
      cert.relative = 0;
      cert.output = 0;
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
    e.queryFeatures(query, this.psi);
    e.evaluate(0, query, qn, this.psi, this.tau, out);
    if (!(out.z > 0) || !Number.isFinite(out.z)) {
      throw new AssumptionViolatedError(
        `taylor: the degree-${this.degree} estimate of Z is ${out.z} at ρ = ${rho.toPrecision(4)} (rounding or an odd degree); ` +
          'lower the key spread or the query norm, or raise the degree',
      );
    }
    const truncation = taylorRemainderBound(rho, this.degree);
    const rounding = roundingBound(e.tokens[0]!, e.basis.size, this.degree, rho);
    cert.exact = false;
    cert.degree = this.degree;
    cert.rho = rho;
    cert.truncation = truncation;
    cert.rounding = rounding;
    cert.relative = truncation + rounding;
    cert.maxValueNorm = this.maxValueNorm;
    cert.output = outputBound(cert.relative, this.maxValueNorm);
    return out;
  }

  protected onReset(): void {
    this.expansion.clear();
    this.maxValueNorm = 0;
    if (this.warmup > 0) this.warm = new SlotStore(this.keyDim, this.valueDim, { maxSlots: this.warmup, initialSlots: this.warmup });
    const cert = this.lastCertificate;
    cert.exact = false;
    cert.rho = cert.truncation = cert.rounding = cert.relative = cert.output = cert.maxValueNorm = 0;
  }
}

/**
 * The `taylor` policy: Taylor moments up to degree g about a fixed key centre, with a per-query
 * error certificate. Budget optional (the size is fixed; a smaller budget is refused).
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
  summary: 'Taylor moments of degree g about a key centre (fixed size C(d+g,g)·(s+1)); relative error ≤ ρ^{g+1}e^ρ/(g+1)! per term, certified per query.',
  params: taylorParams,
  budget: 'optional',
  create: (spec) => new TaylorCache(spec),
};
