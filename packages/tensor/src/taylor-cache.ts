import {
  AssumptionViolatedError,
  axpy,
  booleanParam,
  type ByteCost,
  type CacheState,
  checkFloat32Vector,
  DimensionMismatchError,
  floorBytes,
  integerParam,
  InvalidParamsError,
  type KernelSums,
  numberParam,
  type PolicySpec,
  requireFits,
  type StateReader,
} from '@kv/core';
import { monomialCount, MonomialBasis, monomialFeatures } from '@kv/polynomial';
import { BaseTensorCache } from './base-tensor-cache.js';
import type { TensorCacheDefinition } from './contract.js';
import { taylorCacheBytes } from './memory.js';

const EMPTY = new Float64Array(0);

/**
 * Largest feature count F = C(d+g, g) the Taylor cache accepts: one Float64 feature vector is then
 * at most 16 MiB, and the moment state 8·F·(2+2s) bytes stays in reach of a single head.
 * @example
 * ```ts
 * import { monomialCount } from '@kv/polynomial';
 * import { MAX_MONOMIALS } from '@kv/tensor';
 * monomialCount(64, 4) <= MAX_MONOMIALS; // true: 814385 features
 * monomialCount(64, 6) <= MAX_MONOMIALS; // false: degree 6 at d = 64 is refused
 * ```
 */
export const MAX_MONOMIALS = 1 << 21;

/**
 * Per-pair relative error of the degree-g Taylor kernel when every pair logit lies in [−ρ, ρ]:
 * δ = ρ^{g+1}·e^{ρ}/(g+1)! (Lagrange remainder: |e^x − T_g(x)| ≤ e^{ξ}|x|^{g+1}/(g+1)! with ξ
 * between 0 and x, and e^{ξ−x} ≤ e^{ρ}).
 *
 * @param rho - Bound ρ ≥ 0 on |pair logit|.
 * @param degree - Taylor degree g.
 * @returns δ.
 * @example
 * ```ts
 * import { taylorRelativeError } from '@kv/tensor';
 * taylorRelativeError(1, 6); // e/7! ≈ 5.4e-4
 * ```
 */
export function taylorRelativeError(rho: number, degree: number): number {
  let term = Math.exp(rho);
  for (let k = 1; k <= degree + 1; k++) term *= rho / k;
  return term;
}

/**
 * A **compressed** tensor cache: Taylor moments of the pair kernel, O(C(d+g, g)·s) memory and
 * O(C(d+g, g)·s) time per token and per query, independent of n.
 *
 * The kernel factorizes over the Hadamard product. With x = τ<q, k1∘k2> and monomials over
 * multi-indices α, e^{x} ≈ T_g(x) = Σ_{|α|≤g} (τq)^α (k1∘k2)^α / α!, and (k1∘k2)^α = k1^α·k2^α.
 * Because the attention sums run over **all ordered pairs**, the pair moments split into products
 * of per-key running sums:
 *
 *     Σ_{i,j} (k1_i∘k2_j)^α = (Σ_i k1_i^α)(Σ_j k2_j^α)
 *     Σ_{i,j} (k1_i∘k2_j)^α (v1_i∘v2_j) = (Σ_i k1_i^α v1_i) ∘ (Σ_j k2_j^α v2_j)
 *
 * so the cache keeps four running sums per monomial and never touches a pair.
 *
 * @remarks **Guarantee.** Let ρ bound every pair logit, |τ<q, k1_i∘k2_j>| ≤ ρ (the cache certifies
 * ρ(q) = τ·‖q‖₂·min(max‖k1‖∞·max‖k2‖₂, max‖k1‖₂·max‖k2‖∞) from norms it tracks, see
 * {@link TaylorCache.logitBound}), and δ = ρ^{g+1}e^{ρ}/(g+1)! < 1 ({@link taylorRelativeError}).
 * Then the estimates Z̃, Ñ and õut = Ñ/Z̃ satisfy
 * (i) |Z̃ − Z| ≤ δ·Z, (ii) |Ñ_c − N_c| ≤ δ·Z·V_c and (iii) |õut_c − out_c| ≤ 2δ/(1−δ)·V_c for every
 * value coordinate c, with V_c = max_i|v1_ic|·max_j|v2_jc| (algorithms.md §4 applied to the n² pair
 * keys), up to floating-point rounding of the F-term sums. **Assumptions and failure modes.** The
 * degree g must be even, so T_g > 0 and Z̃ > 0 in exact arithmetic at any ρ; outside δ < 1 the
 * estimate degrades (no bound; {@link TaylorCache.outputErrorBound} reports Infinity). With
 * `maxLogit` set the cache refuses (throws `AssumptionViolatedError`) any query whose certified
 * ρ(q) exceeds it. **Fallback**: when δ exceeds `threshold` (default 0.5, where the bound
 * 2δ/(1−δ)·V_c passes the fallback's 2·V_c), or Z̃ is not positive and finite (rounding or
 * overflow far outside the bound), the answer comes from the degree-0 pair moments merged into one
 * weighted pair at the key means, n²·e^{τ<q, μ1∘μ2>} (a Jensen lower bound of Z) with output
 * (mean v1)∘(mean v2), counted in `describe()` (`fallbacks`); `strict: true` throws
 * `AssumptionViolatedError` instead when Z̃ is not positive.
 * Memory: exactly {@link taylorCacheBytes} once a token has arrived (0 bytes when empty), whatever
 * n. By default the degree is the largest even g ≤ 4 whose state fits the smallest bytes of the
 * budget; an explicit degree that does not fit is refused with `InvalidBudgetError` naming the
 * smallest budget that fits.
 * @see Alman, Song, arXiv 2310.04064 (polynomial method for tensor attention).
 * @example
 * ```ts
 * import { TaylorCache } from '@kv/tensor';
 * const cache = new TaylorCache({ policy: 'tensor-taylor', keyDim: 4, valueDim: 2, params: { degree: 6 } });
 * const k = new Float32Array([0.5, 0, 0, 0]);
 * cache.append(k, k, new Float32Array([1, 2]), new Float32Array([3, 4]));
 * cache.attend(k, new Float32Array(2)); // [3, 8]
 * ```
 */
export class TaylorCache extends BaseTensorCache {
  /** Taylor degree g (even). */
  readonly degree: number;
  /** Certified logit bound above which queries are refused (undefined: answer and degrade). */
  readonly maxLogit: number | undefined;
  /** Number of monomials |α| ≤ g in d variables, F = C(d+g, g). */
  readonly featureCount: number;
  /** Whether a broken estimate throws instead of falling back. */
  readonly strict: boolean;
  /** δ above which the answer comes from the mean-pair fallback. */
  readonly threshold: number;
  private fallbackCount = 0;
  // Allocated at the first token and released by reset(), so an empty cache holds nothing: the
  // monomial basis (shared machinery of `@kv/polynomial`), its feature scratch and the moments.
  private basis: MonomialBasis | null = null;
  private features = EMPTY;
  private scaledQuery = EMPTY;
  private moments1 = EMPTY;
  private moments2 = EMPTY;
  private valueMoments1 = EMPTY;
  private valueMoments2 = EMPTY;
  private valueMax = EMPTY;
  private keyNorms = EMPTY;

  /**
   * @param spec - The spec; `params.degree` (even, default: the largest ≤ 4 that fits the budget),
   *   `params.maxLogit` (optional), `params.strict`, `params.threshold`.
   * @throws `InvalidParamsError` for an odd or out-of-range degree, a bad `maxLogit`
   *   or more than {@link MAX_MONOMIALS} monomials; `InvalidBudgetError` when the budget cannot
   *   hold the moment state (naming the smallest budget that fits).
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    const d = this.keyDim;
    const s = this.valueDim;
    if (p?.['degree'] !== undefined) {
      this.degree = integerParam(p, 'degree', { min: 2, max: 32 });
    } else {
      // A tensor token is two float32 rows of each, so the budget is read at (2d, 2s).
      const limit = floorBytes(spec.budget, 2 * d, 2 * s);
      let g = 4;
      while (g > 2 && taylorCacheBytes(d, s, g).live > limit) g -= 2;
      this.degree = g;
    }
    if (this.degree % 2 !== 0) {
      throw new InvalidParamsError(`parameter "degree" is ${this.degree}, expected an even integer (T_g > 0 needs even g)`);
    }
    this.maxLogit = p?.['maxLogit'] === undefined ? undefined : numberParam(p, 'maxLogit', { min: Number.MIN_VALUE });
    this.strict = booleanParam(p, 'strict', false);
    this.threshold = numberParam(p, 'threshold', { default: 0.5, min: 0 });
    const count = monomialCount(d, this.degree);
    if (count > MAX_MONOMIALS) {
      throw new InvalidParamsError(`degree ${this.degree} in dimension ${d} needs ${count} monomials, more than ${MAX_MONOMIALS}`);
    }
    this.featureCount = count;
    requireFits(spec.policy, spec.budget, this.byteCost(), 2 * d, 2 * s);
  }

  /** The moment state in tensor-token-equivalents, ⌈bytes / (8·(d+s))⌉ (0 before the first token). */
  get stored(): number {
    return Math.ceil(this.bytes / this.tokenBytes);
  }

  /** Answers that came from the mean-pair fallback so far. */
  get fallbacks(): number {
    return this.fallbackCount;
  }

  protected override byteCost(): ByteCost {
    return { fixed: taylorCacheBytes(this.keyDim, this.valueDim, this.degree).live, perRow: 0 };
  }

  /** Moments, value maxima, key-norm maxima and the monomial tables (nothing before the first token). */
  protected saveState(): CacheState {
    const b = this.basis;
    if (!b) return { scalars: { fallbacks: this.fallbackCount }, arrays: {} };
    return {
      scalars: { fallbacks: this.fallbackCount },
      arrays: {
        moments1: this.moments1,
        moments2: this.moments2,
        valueMoments1: this.valueMoments1,
        valueMoments2: this.valueMoments2,
        valueMax: this.valueMax,
        keyNorms: this.keyNorms,
        basisParent: b.parent,
        basisVariable: b.variable,
        basisExponent: b.exponent,
        basisStarts: b.starts,
      },
    };
  }

  protected restoreState(r: StateReader): void {
    const fallbacks = r.integer('fallbacks', 0, Number.MAX_SAFE_INTEGER);
    if (r.state.arrays['moments1'] !== undefined) {
      this.allocate();
      const f = this.featureCount;
      const s = this.valueDim;
      this.moments1.set(r.array('moments1', Float64Array, f));
      this.moments2.set(r.array('moments2', Float64Array, f));
      this.valueMoments1.set(r.array('valueMoments1', Float64Array, f * s));
      this.valueMoments2.set(r.array('valueMoments2', Float64Array, f * s));
      this.valueMax.set(r.array('valueMax', Float64Array, 2 * s));
      this.keyNorms.set(r.array('keyNorms', Float64Array, 4));
      const b = this.basis!;
      for (const [name, want] of [['basisParent', b.parent], ['basisVariable', b.variable], ['basisExponent', b.exponent], ['basisStarts', b.starts]] as const) {
        const got = r.array(name, want.constructor as typeof Int32Array, want.length);
        for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) r.refuse(`array "${name}" is not the basis of degree ${this.degree}`);
      }
    }
    this.fallbackCount = fallbacks;
  }

  protected override describeSummary(): string {
    return `tensor-taylor: degree ${this.degree} (${this.featureCount} monomials), ${this.fallbackCount} fallback answers`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { degree: this.degree, monomials: this.featureCount, fallbacks: this.fallbackCount };
  }

  /**
   * The certified bound ρ(q) on every pair logit |τ<q, k1_i∘k2_j>| over the tokens seen (0 when empty).
   * @param query - Query of length d.
   * @returns ρ(q) = τ·‖q‖₂·min(max‖k1‖∞·max‖k2‖₂, max‖k1‖₂·max‖k2‖∞).
   * @throws `DimensionMismatchError`, `NonFiniteInputError` or `InvalidInputError` on a bad query.
   */
  logitBound(query: Float32Array): number {
    checkFloat32Vector('query', query, this.keyDim);
    return this.rhoOf(query);
  }

  /**
   * The per-pair relative error δ = ρ^{g+1}e^{ρ}/(g+1)! at ρ = {@link TaylorCache.logitBound}.
   * @param query - Query of length d.
   * @returns δ; the guarantee holds when δ < 1.
   * @throws `DimensionMismatchError`, `NonFiniteInputError` or `InvalidInputError` on a bad query.
   */
  relativeErrorBound(query: Float32Array): number {
    return taylorRelativeError(this.logitBound(query), this.degree);
  }

  /**
   * Per-coordinate bound on |õut_c − out_c|: 2δ/(1−δ)·max_i|v1_ic|·max_j|v2_jc|, Infinity when δ ≥ 1.
   * @param query - Query of length d.
   * @param out - Receives the bound per value coordinate (length s).
   * @returns `out`.
   * @throws `DimensionMismatchError`, `NonFiniteInputError` or `InvalidInputError` on bad input.
   */
  outputErrorBound(query: Float32Array, out: Float64Array): Float64Array {
    if (out.length !== this.valueDim) throw new DimensionMismatchError('output bound', out.length, this.valueDim);
    const delta = this.relativeErrorBound(query);
    const s = this.valueDim;
    const factor = delta < 1 ? (2 * delta) / (1 - delta) : Infinity;
    for (let c = 0; c < s; c++) {
      const v = this.valueMax.length === 0 ? 0 : this.valueMax[c]! * this.valueMax[s + c]!;
      out[c] = v === 0 ? 0 : factor * v;
    }
    return out;
  }

  protected onAppend(key1: Float32Array, key2: Float32Array, value1: Float32Array, value2: Float32Array): void {
    if (this.moments1.length === 0) this.allocate();
    this.accumulate(key1, value1, this.moments1, this.valueMoments1);
    this.accumulate(key2, value2, this.moments2, this.valueMoments2);
    this.trackNorms(key1, 0);
    this.trackNorms(key2, 2);
    const s = this.valueDim;
    const vm = this.valueMax;
    for (let c = 0; c < s; c++) {
      vm[c] = Math.max(vm[c]!, Math.abs(value1[c]!));
      vm[s + c] = Math.max(vm[s + c]!, Math.abs(value2[c]!));
    }
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const rho = this.rhoOf(query);
    if (this.maxLogit !== undefined && rho > this.maxLogit) {
      throw new AssumptionViolatedError(
        `certified pair-logit bound ρ(q) = ${rho} exceeds maxLogit = ${this.maxLogit} (degree ${this.degree})`,
      );
    }
    if (!this.strict && !(taylorRelativeError(rho, this.degree) <= this.threshold)) return this.fallback(query, out);
    const basis = this.basis!;
    const scaled = this.scaledQuery;
    for (let c = 0; c < scaled.length; c++) scaled[c] = this.tau * query[c]!;
    // The 1/α! of T_g must enter each pair once, so it goes on the query side: @kv/polynomial's
    // 'key' features give (τq)^α/α!, and the key moments below use the plain 'query' features k^α.
    const coef = monomialFeatures(basis, scaled, 'key', this.features);
    const s = this.valueDim;
    const a1 = this.moments1;
    const a2 = this.moments2;
    const m1 = this.valueMoments1;
    const m2 = this.valueMoments2;
    const n = out.n;
    n.fill(0);
    let z = 0;
    for (let f = 0; f < basis.size; f++) {
      const c = coef[f]!;
      z += c * a1[f]! * a2[f]!;
      const row = f * s;
      for (let j = 0; j < s; j++) n[j] += c * m1[row + j]! * m2[row + j]!;
    }
    let finite = z > 0 && Number.isFinite(z);
    if (finite) {
      const invZ = 1 / z;
      for (let j = 0; j < s; j++) {
        n[j] *= invZ;
        if (!Number.isFinite(n[j]!)) finite = false;
      }
    }
    if (!finite) {
      if (this.strict) {
        throw new AssumptionViolatedError(
          `Taylor estimate broke down (Z̃ = ${z}) at certified ρ(q) = ${rho}, degree ${this.degree}: outside the bound's assumptions`,
        );
      }
      return this.fallback(query, out);
    }
    out.m = Math.log(z);
    out.z = 1;
    return out;
  }

  /**
   * Every pair merged into one at the key means: n²·e^{τ<q, μ1∘μ2>} (Jensen: at most Z), output
   * (Σv1 ∘ Σv2)/n². The degree-1 'query' features are the key coordinates themselves.
   */
  private fallback(query: Float32Array, out: KernelSums): KernelSums {
    const d = this.keyDim;
    const s = this.valueDim;
    const n = this.seen;
    let logit = 0;
    for (let j = 0; j < d; j++) logit += query[j]! * (this.moments1[1 + j]! / n) * (this.moments2[1 + j]! / n);
    out.m = this.tau * logit;
    out.z = n * n;
    for (let j = 0; j < s; j++) out.n[j] = this.valueMoments1[j]! * this.valueMoments2[j]!;
    this.fallbackCount++;
    return out;
  }

  protected onReset(): void {
    this.moments1 = this.moments2 = this.valueMoments1 = this.valueMoments2 = this.valueMax = this.keyNorms = EMPTY;
    this.features = this.scaledQuery = EMPTY;
    this.basis = null;
    this.fallbackCount = 0;
  }

  private allocate(): void {
    this.basis = new MonomialBasis(this.keyDim, this.degree);
    const f = this.featureCount;
    const s = this.valueDim;
    this.features = new Float64Array(f);
    this.scaledQuery = new Float64Array(this.keyDim);
    this.moments1 = new Float64Array(f);
    this.moments2 = new Float64Array(f);
    this.valueMoments1 = new Float64Array(f * s);
    this.valueMoments2 = new Float64Array(f * s);
    this.valueMax = new Float64Array(2 * s);
    this.keyNorms = new Float64Array(4);
  }

  private accumulate(key: Float32Array, value: Float32Array, moments: Float64Array, valueMoments: Float64Array): void {
    const feats = monomialFeatures(this.basis!, key, 'query', this.features);
    const s = this.valueDim;
    for (let f = 0; f < this.featureCount; f++) {
      const x = feats[f]!;
      moments[f] += x;
      axpy(s, x, value, 1, 0, valueMoments, 1, f * s);
    }
  }

  private trackNorms(key: Float32Array, at: number): void {
    let sq = 0;
    let inf = 0;
    for (let c = 0; c < key.length; c++) {
      const x = key[c]!;
      sq += x * x;
      inf = Math.max(inf, Math.abs(x));
    }
    const norms = this.keyNorms;
    norms[at] = Math.max(norms[at]!, Math.sqrt(sq));
    norms[at + 1] = Math.max(norms[at + 1]!, inf);
  }

  private rhoOf(query: Float32Array): number {
    if (this.keyNorms.length === 0) return 0;
    let sq = 0;
    for (let c = 0; c < query.length; c++) sq += query[c]! * query[c]!;
    const k = this.keyNorms;
    return this.tau * Math.sqrt(sq) * Math.min(k[1]! * k[2]!, k[0]! * k[3]!);
  }
}

/**
 * List entry of {@link TaylorCache} (`"tensor-taylor"`).
 *
 * @example
 * ```ts
 * import { createTensorCache, taylorCacheDefinition } from '@kv/tensor';
 * createTensorCache({ policy: 'tensor-taylor', keyDim: 8, valueDim: 8, params: { degree: 4, maxLogit: 1 } }, [taylorCacheDefinition]);
 * ```
 */
export const taylorCacheDefinition: TensorCacheDefinition = {
  name: 'tensor-taylor',
  summary:
    'Taylor moments of the pair kernel, factorized over k1 and k2 (8(F(2+2s)+2s+4) bytes, F = C(d+g,g), independent of n); |õut_c − out_c| ≤ 2δ/(1−δ)·V_c with δ = ρ^{g+1}e^ρ/(g+1)!.',
  params: [
    { name: 'degree', type: 'integer', default: 4, description: 'Even Taylor degree g (2..32); by default the largest ≤ 4 that fits the budget.' },
    {
      name: 'maxLogit',
      type: 'number',
      description: 'Refuse queries whose certified pair-logit bound ρ(q) exceeds this (omitted: answer, falling back when δ > threshold).',
    },
    { name: 'strict', type: 'boolean', default: false, description: 'Throw AssumptionViolatedError when Z̃ is not positive, and never fall back.' },
    { name: 'threshold', type: 'number', default: 0.5, description: 'Per-pair relative bound δ above which the answer comes from the mean-pair fallback (counted).' },
  ],
  budget: 'optional',
  create: (spec) => new TaylorCache(spec),
};
