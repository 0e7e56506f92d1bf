import {
  AssumptionViolatedError,
  BaseHeadCache,
  booleanParam,
  type ByteCost,
  type CacheState,
  checkFloat32Vector,
  clearSums,
  createKernelSums,
  DimensionMismatchError,
  integerParam,
  InvalidParamsError,
  type KernelSums,
  mergeSums,
  nrm2,
  numberParam,
  type ParamInfo,
  type PolicyDefinition,
  type PolicySpec,
  type StateReader,
} from '@kv/core';
import { outputBound, roundingBound, taylorRemainderBound } from './bounds.js';
import { ErrorCertificate } from './certificate.js';
import { checkMemoryLimit, DEFAULT_MAX_BYTES, formatBytes, maxBytesParam, requireSummaryFits, summaryLimit, tokenEquivalents } from './memory.js';
import { expansionBytes, expansionStateBytes, MomentExpansions } from './moments.js';
import { MAX_DEGREE, monomialCount, MonomialBasis } from './monomials.js';

/**
 * Parameters of the `multipole` policy: names, types, defaults and descriptions.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { multipoleParams, multipolePolicy } from '@kv/polynomial';
 * multipoleParams.map((p) => p.name); // the keys accepted in `params`
 * new PolicyRegistry().register(multipolePolicy).create({ policy: 'multipole', keyDim: 8, valueDim: 8, params: { degree: 4, cells: 8 } });
 * ```
 */
export const multipoleParams: readonly ParamInfo[] = [
  { name: 'degree', type: 'integer', default: 4, description: 'Expansion degree p per cell (even unless allowOdd); by default the largest even p ≤ 4 that fits the budget and maxBytes.' },
  { name: 'cells', type: 'integer', default: 16, description: 'Largest number of cells (each holds C(d+p,p)·(s+1) Float64 moments); by default fewer when even degree 0 does not fit 16.' },
  { name: 'radius', type: 'number', default: 1, description: 'A key within this distance of the nearest centre joins its cell; else it opens a new cell while cells remain.' },
  { name: 'rho', type: 'number', description: 'Strict mode only: the largest allowed per-cell ||q||·R_c·τ.' },
  { name: 'strict', type: 'boolean', default: false, description: 'Throw AssumptionViolatedError when a cell has ||q||·R_c·τ > rho (rho required) or Z is not positive, instead of falling back.' },
  { name: 'threshold', type: 'number', default: 0.5, description: 'A cell whose bound is above this answers as its mean token (a counted fallback).' },
  { name: 'allowOdd', type: 'boolean', default: false, description: 'Accept an odd degree (a cell estimate may then be negative).' },
  maxBytesParam,
];

/**
 * Multipole cells: keys are grouped online into at most `cells` cells. A key joins the nearest cell
 * when it lies within `radius` of that cell's centre; otherwise it opens a new cell centred on
 * itself while cells remain; once all cells are open it joins the nearest one (whose radius then
 * grows). Each cell keeps Taylor moments of (k − c) up to degree p about its fixed centre c, and a
 * query sums the cells: e^{<q,c>τ}·Σ_i T_p(<q, k_i − c>τ)·[1, v_i], merged by log-sum-exp
 * (`mergeSums`), so a cell far from q costs nothing in precision.
 *
 * @remarks **Guarantee** (Greengard–Rokhlin style, algorithms.md §4). With R_c = max ||k − c|| over
 * the cell's keys and ρ_c = ||q||·R_c·τ, the cell's estimate is within relative error
 * ρ_c^{p+1}e^{ρ_c}/(p+1)! of its exact kernel sums (plus a Float64 rounding bound), term by term.
 * The cache's relative error on Z (and on the N terms, relative to Z·max||v||) is at most the largest
 * per-cell bound; {@link MultipoleCache.cellBounds} holds each cell's bound for the last query and
 * {@link MultipoleCache.lastCertificate} the overall one. Small cells need a low degree even when
 * ||q|| is large, which is the point of the multipole form; when all cells are open and keys keep
 * arriving far away, R_c grows and so does the bound.
 *
 * **Fallback**: a cell whose bound exceeds `threshold` (default 0.5, where the certificate's output
 * bound passes the fallback's 2·max||v||) is answered as its tokens merged into one weighted token
 * at their key mean (a Jensen lower bound of the cell's Z, output its mean value), and counted
 * (`describe()`: `fallbacks` answers, `fallbackCells` in the last one); if rounding destroys the
 * total Z every cell falls back. `strict` throws `AssumptionViolatedError` instead once ρ_c exceeds
 * `rho`, or when Z is not positive.
 *
 * **Memory**: cells × C(d+p, p) × (s+1) Float64 moments, allocated at construction; `bytes` counts
 * the cells opened so far (the state) and is at most the fixed size of all cells. The size is chosen
 * once: an explicit configuration that does not fit the smallest bytes of the budget is refused
 * with `InvalidBudgetError` naming the smallest budget that fits; by default the degree (then the
 * number of cells) is lowered to fit. Arrays above `maxBytes` are refused with `InvalidParamsError`.
 * Cost per token: O(cells·d) to pick the cell plus O(C(d+p,p)·s); per query O(cells·C(d+p,p)·s).
 * @see L. Greengard and V. Rokhlin, "A fast algorithm for particle simulations", J. Comput. Phys. 1987.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { polynomialPolicies } from '@kv/polynomial';
 * const cache = new PolicyRegistry().register(...polynomialPolicies)
 *   .create({ policy: 'multipole', keyDim: 8, valueDim: 8, params: { degree: 4, cells: 8, radius: 0.5 } });
 * ```
 */
export class MultipoleCache extends BaseHeadCache {
  /** Degree p of every cell. */
  readonly degree: number;
  /** Largest number of cells. */
  readonly maxCells: number;
  /** Join radius. */
  readonly joinRadius: number;
  /** Strict-mode limit on ρ_c (Infinity when not strict). */
  readonly rho: number;
  /** Whether a failed certificate throws instead of falling back. */
  readonly strict: boolean;
  /** Cell bound above which the cell answers as its mean token. */
  readonly threshold: number;
  /** The certificate of the last answer (overwritten by every query). */
  readonly lastCertificate = new ErrorCertificate();
  private readonly expansions: MomentExpansions;
  private readonly psi: Float64Array;
  private readonly bounds: Float64Array;
  private readonly part: KernelSums;
  private active = 0;
  private last = -1;
  private maxValueNorm = 0;
  private fallbackCount = 0;
  private lastFallbacks = 0;

  /**
   * @param spec - A validated spec (`params`: degree, cells, radius, rho, strict, threshold, allowOdd, maxBytes).
   * @throws `InvalidParamsError` on a bad parameter or arrays beyond `maxBytes`.
   * @throws `InvalidBudgetError` when the budget cannot hold the configuration (naming the smallest that fits).
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    const d = this.keyDim;
    const s = this.valueDim;
    const allowOdd = booleanParam(p, 'allowOdd', false);
    const maxBytes = integerParam(p, 'maxBytes', { default: DEFAULT_MAX_BYTES, min: 1 });
    const limit = summaryLimit(spec, maxBytes);
    let cells = integerParam(p, 'cells', { default: 16, min: 1, max: 1 << 16 });
    let g: number;
    if (p?.['degree'] !== undefined) {
      g = integerParam(p, 'degree', { min: 0, max: MAX_DEGREE });
      if (g % 2 === 1 && !allowOdd) {
        throw new InvalidParamsError(`parameter "degree" is ${g}: odd degrees can make a cell's Z negative; use an even degree or set allowOdd`);
      }
    } else {
      g = 4;
      while (g > 0 && expansionStateBytes(d, s, g, cells) > limit) g -= 2;
      if (p?.['cells'] === undefined && expansionStateBytes(d, s, 0, cells) > limit) {
        const perCell = expansionStateBytes(d, s, 0, 1) - expansionStateBytes(d, s, 0, 0);
        cells = Math.max(1, Math.floor((limit - expansionStateBytes(d, s, 0, 0)) / perCell));
      }
    }
    this.degree = g;
    this.maxCells = cells;
    this.joinRadius = numberParam(p, 'radius', { default: 1, min: 0 });
    this.strict = booleanParam(p, 'strict', false);
    if (this.strict && p?.['rho'] === undefined) throw new InvalidParamsError('multipole: strict mode needs the parameter "rho"');
    this.rho = this.strict ? numberParam(p, 'rho', { min: Number.MIN_VALUE }) : Infinity;
    if (!this.strict && p?.['rho'] !== undefined) numberParam(p, 'rho', { min: Number.MIN_VALUE });
    this.threshold = numberParam(p, 'threshold', { default: 0.5, min: 0 });
    const size = monomialCount(d, g);
    const allocated = expansionBytes(d, s, g, this.maxCells) + size * 8 + this.maxCells * 8;
    checkMemoryLimit(
      'multipole',
      allocated,
      maxBytes,
      `${this.maxCells} cells × C(${d}+${g}, ${g}) = ${size} monomials × (s+1 = ${s + 1}) Float64 moments; lower the degree or the number of cells, or raise maxBytes`,
    );
    requireSummaryFits(spec, expansionStateBytes(d, s, g, this.maxCells));
    this.expansions = new MomentExpansions(new MonomialBasis(d, g), this.maxCells, s);
    this.psi = new Float64Array(size);
    this.bounds = new Float64Array(this.maxCells);
    this.part = createKernelSums(s);
  }

  /** Token-equivalents of the held bytes. */
  get stored(): number {
    return this.seen === 0 ? 0 : tokenEquivalents(this.bytes, this.keyDim, this.valueDim);
  }

  /** The opened cells' moments, centres, radii, scales and counts, and the basis tables. */
  override get bytes(): number {
    return expansionStateBytes(this.keyDim, this.valueDim, this.degree, this.active);
  }

  /** Cells opened so far. */
  get cellCount(): number {
    return this.active;
  }

  /** The cell the last appended token joined (−1 before the first token). */
  get lastCell(): number {
    return this.last;
  }

  /** Per-cell relative error bounds r_c of the last query (a view of length `cellCount`). */
  get cellBounds(): Float64Array {
    return this.bounds.subarray(0, this.active);
  }

  /** Answers in which at least one cell fell back to its mean token, so far. */
  get fallbacks(): number {
    return this.fallbackCount;
  }

  /** Cells that fell back in the last answer. */
  get lastFallbackCells(): number {
    return this.lastFallbacks;
  }

  /**
   * Radius R_c = max ||k − c|| of a cell.
   * @param cell - Cell index (< cellCount).
   * @returns The radius.
   */
  cellRadius(cell: number): number {
    return this.expansions.radii[cell]!;
  }

  /**
   * Answers a query and returns the certificate of the answer.
   * @param query - Query of length d.
   * @param out - Receives the kernel sums.
   * @returns {@link MultipoleCache.lastCertificate}, updated for this answer.
   * @throws `EmptyCacheError` before the first token; `DimensionMismatchError`, `NonFiniteInputError`
   *   or `InvalidInputError` on a bad query; `AssumptionViolatedError` in strict mode.
   */
  sumsWithCertificate(query: Float32Array, out: KernelSums): ErrorCertificate {
    this.sums(query, out);
    return this.lastCertificate;
  }

  /**
   * The degree-p estimate of one cell's kernel sums (for inspection and tests).
   * @param cell - Cell index (< cellCount).
   * @param query - Query of length d.
   * @param out - Receives the cell's sums.
   * @returns `out`.
   * @throws `DimensionMismatchError`, `NonFiniteInputError` or `InvalidInputError` on a bad query;
   *   `InvalidParamsError` on a cell index out of range.
   */
  cellSums(cell: number, query: Float32Array, out: KernelSums): KernelSums {
    checkFloat32Vector('query', query, this.keyDim);
    if (out.n.length !== this.valueDim) throw new DimensionMismatchError('sums.n', out.n.length, this.valueDim);
    if (!Number.isInteger(cell) || cell < 0 || cell >= this.active) {
      throw new InvalidParamsError(`cell is ${cell}, expected an integer in [0, ${this.active})`);
    }
    const e = this.expansions;
    const qn = e.queryFeatures(query, this.psi);
    return e.evaluate(cell, query, qn, this.psi, this.tau, out);
  }

  protected override byteCost(): ByteCost {
    return { fixed: expansionStateBytes(this.keyDim, this.valueDim, this.degree, this.maxCells), perRow: 0 };
  }

  protected saveState(): CacheState {
    return {
      scalars: { active: this.active, last: this.last, maxValueNorm: this.maxValueNorm, fallbacks: this.fallbackCount },
      arrays: {},
      parts: { cells: this.expansions.state(this.active) },
    };
  }

  protected restoreState(r: StateReader): void {
    const active = r.integer('active', 0, this.maxCells);
    const last = r.integer('last', -1, active - 1);
    const maxValueNorm = r.number('maxValueNorm');
    const fallbacks = r.integer('fallbacks', 0, Number.MAX_SAFE_INTEGER);
    this.expansions.loadState(r.part('cells'), active);
    this.active = active;
    this.last = last;
    this.maxValueNorm = maxValueNorm;
    this.fallbackCount = fallbacks;
  }

  protected override describeSummary(): string {
    return `multipole: ${this.active}/${this.maxCells} cells of degree ${this.degree} (${formatBytes(this.bytes)}), ${this.fallbackCount} answers with fallback cells`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { degree: this.degree, cells: this.active, maxCells: this.maxCells, fallbacks: this.fallbackCount, fallbackCells: this.lastFallbacks };
  }

  protected onAppend(key: Float32Array, value: Float32Array): void {
    this.addToken(key, 0, value, 0);
  }

  protected override onPrefill(keys: Float32Array, values: Float32Array, count: number): void {
    for (let i = 0; i < count; i++) this.addToken(keys, i * this.keyDim, values, i * this.valueDim);
  }

  /** Picks the token's cell and adds it (reads at offsets: no per-token views). */
  private addToken(key: Float32Array, keyOffset: number, value: Float32Array, valueOffset: number): void {
    const vn = nrm2(this.valueDim, value, 1, valueOffset);
    if (vn > this.maxValueNorm) this.maxValueNorm = vn;
    const e = this.expansions;
    let best = -1;
    let bestDist = Infinity;
    for (let c = 0; c < this.active; c++) {
      const dist = e.distanceSquared(c, key, keyOffset);
      if (dist < bestDist) {
        bestDist = dist;
        best = c;
      }
    }
    const r = this.joinRadius;
    if (best < 0 || (bestDist > r * r && this.active < this.maxCells)) {
      best = this.active++;
      e.setCentre(best, key, keyOffset);
    }
    e.add(best, key, value, keyOffset, valueOffset);
    this.last = best;
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const e = this.expansions;
    const g = this.degree;
    const qn = nrm2(this.keyDim, query, 1, 0);
    let worstRho = 0;
    for (let c = 0; c < this.active; c++) worstRho = Math.max(worstRho, qn * e.radii[c]! * this.tau);
    if (worstRho > this.rho) {
      throw new AssumptionViolatedError(
        `multipole: a cell has ||q||·R_c·τ = ${worstRho.toPrecision(4)} above rho = ${this.rho} (degree ${g}); ` +
          `its remainder bound is ${taylorRemainderBound(worstRho, g).toPrecision(3)}`,
      );
    }
    e.queryFeatures(query, this.psi);
    clearSums(out);
    let worstTrunc = 0;
    let worstRound = 0;
    let worst = 0;
    let fellBack = 0;
    for (let c = 0; c < this.active; c++) {
      const rho = qn * e.radii[c]! * this.tau;
      const trunc = taylorRemainderBound(rho, g);
      const round = roundingBound(e.tokens[c]!, e.basis.size, g, rho);
      this.bounds[c] = trunc + round;
      if (!this.strict && trunc + round > this.threshold) {
        e.meanSums(c, query, this.tau, this.part);
        fellBack++;
      } else {
        e.evaluate(c, query, qn, this.psi, this.tau, this.part);
        if (trunc > worstTrunc) worstTrunc = trunc;
        if (round > worstRound) worstRound = round;
        if (trunc + round > worst) worst = trunc + round;
      }
      mergeSums(out, this.part);
    }
    if (!(out.z > 0) || !Number.isFinite(out.z)) {
      if (this.strict) {
        throw new AssumptionViolatedError(
          `multipole: the degree-${g} estimate of Z is ${out.z} (largest ρ_c = ${worstRho.toPrecision(4)}); lower the radius or raise the degree`,
        );
      }
      clearSums(out);
      for (let c = 0; c < this.active; c++) mergeSums(out, e.meanSums(c, query, this.tau, this.part));
      fellBack = this.active;
    }
    this.lastFallbacks = fellBack;
    const cert = this.lastCertificate;
    cert.exact = false;
    cert.degree = g;
    cert.rho = worstRho;
    cert.maxValueNorm = this.maxValueNorm;
    if (fellBack > 0) {
      this.fallbackCount++;
      cert.fallback = true;
      cert.truncation = cert.rounding = cert.relative = Infinity;
      // Mean cells answer convex combinations of the values; expanded ones are within their bound of one.
      cert.output = this.maxValueNorm * (2 + outputBound(worst, 1));
    } else {
      cert.fallback = false;
      cert.truncation = worstTrunc;
      cert.rounding = worstRound;
      cert.relative = worst;
      cert.output = outputBound(worst, this.maxValueNorm);
    }
    return out;
  }

  protected onReset(): void {
    this.expansions.clear();
    this.bounds.fill(0);
    this.active = 0;
    this.last = -1;
    this.maxValueNorm = 0;
    this.fallbackCount = 0;
    this.lastFallbacks = 0;
    this.lastCertificate.clear();
  }
}

/**
 * The `multipole` policy: online cells with degree-p moments about each cell centre.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { multipolePolicy } from '@kv/polynomial';
 * new PolicyRegistry().register(multipolePolicy).create({ policy: 'multipole', keyDim: 4, valueDim: 4, params: { cells: 4 } });
 * ```
 */
export const multipolePolicy: PolicyDefinition = {
  name: 'multipole',
  summary: 'Online key cells with degree-p moments about each centre (fixed size, sized to the budget); per-cell relative error ≤ (||q||R_cτ)^{p+1}e^{||q||R_cτ}/(p+1)!, counted mean-token fallback beyond the threshold.',
  params: multipoleParams,
  budget: 'optional',
  create: (spec) => new MultipoleCache(spec),
};
