import {
  AssumptionViolatedError,
  BaseHeadCache,
  booleanParam,
  checkVector,
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
} from '@kv/core';
import { outputBound, roundingBound, taylorRemainderBound } from './bounds.js';
import { ErrorCertificate } from './certificate.js';
import { checkBudgetHolds, checkMemoryLimit, DEFAULT_MAX_BYTES, maxBytesParam, tokenEquivalents } from './memory.js';
import { expansionBytes, MomentExpansions } from './moments.js';
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
  { name: 'degree', type: 'integer', default: 4, description: 'Expansion degree p per cell (even unless allowOdd).' },
  { name: 'cells', type: 'integer', default: 16, description: 'Largest number of cells (each holds C(d+p,p)·(s+1) Float64 moments).' },
  { name: 'radius', type: 'number', default: 1, description: 'A key within this distance of the nearest centre joins its cell; else it opens a new cell while cells remain.' },
  { name: 'rho', type: 'number', description: 'Strict mode only: the largest allowed per-cell ||q||·R_c·τ.' },
  { name: 'strict', type: 'boolean', default: false, description: 'Throw AssumptionViolatedError when a cell has ||q||·R_c·τ > rho (rho required).' },
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
 * arriving far away, R_c grows and so does the bound (documented degradation; `strict` throws
 * `AssumptionViolatedError` instead once ρ_c exceeds `rho`).
 *
 * **Memory**: cells × C(d+p, p) × (s+1) Float64 moments, allocated at construction, so `bytes` is
 * independent of the number of tokens; above `maxBytes` the configuration is refused.
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
  /** The certificate of the last answer (overwritten by every query). */
  readonly lastCertificate = new ErrorCertificate();
  private readonly expansions: MomentExpansions;
  private readonly psi: Float64Array;
  private readonly bounds: Float64Array;
  private readonly part: KernelSums;
  private active = 0;
  private last = -1;
  private maxValueNorm = 0;
  private storedConstant: number | undefined;

  /**
   * @param spec - A validated spec (`params`: degree, cells, radius, rho, strict, allowOdd, maxBytes).
   * @throws `InvalidParamsError` on a bad parameter or arrays beyond `maxBytes`.
   * @throws `InvalidBudgetError` when a budget is smaller than the fixed summary size.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    const d = this.keyDim;
    const s = this.valueDim;
    const allowOdd = booleanParam(p, 'allowOdd', false);
    this.degree = integerParam(p, 'degree', { default: 4, min: 0, max: MAX_DEGREE });
    if (this.degree % 2 === 1 && !allowOdd) {
      throw new InvalidParamsError(`parameter "degree" is ${this.degree}: odd degrees can make a cell's Z negative; use an even degree or set allowOdd`);
    }
    this.maxCells = integerParam(p, 'cells', { default: 16, min: 1, max: 1 << 16 });
    this.joinRadius = numberParam(p, 'radius', { default: 1, min: 0 });
    const strict = booleanParam(p, 'strict', false);
    if (strict && p?.['rho'] === undefined) throw new InvalidParamsError('multipole: strict mode needs the parameter "rho"');
    this.rho = strict ? numberParam(p, 'rho', { min: Number.MIN_VALUE }) : Infinity;
    if (!strict && p?.['rho'] !== undefined) numberParam(p, 'rho', { min: Number.MIN_VALUE });
    const maxBytes = integerParam(p, 'maxBytes', { default: DEFAULT_MAX_BYTES, min: 1 });
    const g = this.degree;
    const size = monomialCount(d, g);
    const extra = size * 8 + this.maxCells * 8;
    const bytes = expansionBytes(d, s, g, this.maxCells) + extra;
    checkMemoryLimit(
      'multipole',
      bytes,
      maxBytes,
      `${this.maxCells} cells × C(${d}+${g}, ${g}) = ${size} monomials × (s+1 = ${s + 1}) Float64 moments; lower the degree or the number of cells, or raise maxBytes`,
    );
    checkBudgetHolds(spec, tokenEquivalents(bytes, d, s), `lower the degree (now ${g}) or the number of cells (now ${this.maxCells})`);
    this.expansions = new MomentExpansions(new MonomialBasis(d, g), this.maxCells, s);
    this.psi = new Float64Array(size);
    this.bounds = new Float64Array(this.maxCells);
    this.part = createKernelSums(s);
  }

  /** Token-equivalents of the held bytes (constant). */
  get stored(): number {
    if (this.seen === 0) return 0;
    // The arrays are allocated once, so the size is computed once.
    return (this.storedConstant ??= tokenEquivalents(this.bytes, this.keyDim, this.valueDim));
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

  /**
   * Radius R_c = max ||k − c|| of a cell.
   * @param cell - Cell index (< cellCount).
   * @returns The radius.
   */
  cellRadius(cell: number): number {
    return this.expansions.radii[cell]!;
  }

  /**
   * The held arrays: all cells' moments, centres, radii, scratch and basis tables.
   * @returns The arrays.
   */
  buffers(): readonly ArrayBufferView[] {
    return [...this.expansions.buffers(), this.psi, this.bounds];
  }

  /**
   * Answers a query and returns the certificate of the answer.
   * @param query - Query of length d.
   * @param out - Receives the kernel sums.
   * @returns {@link MultipoleCache.lastCertificate}, updated for this answer.
   * @throws the errors of {@link BaseHeadCache.sums}, and `AssumptionViolatedError` in strict mode.
   */
  sumsWithCertificate(query: Float32Array, out: KernelSums): ErrorCertificate {
    this.sums(query, out);
    return this.lastCertificate;
  }

  /**
   * The estimate of one cell's kernel sums (for inspection and tests).
   * @param cell - Cell index (< cellCount).
   * @param query - Query of length d.
   * @param out - Receives the cell's sums.
   * @returns `out`.
   * @throws `DimensionMismatchError` or `NonFiniteInputError` on a bad query;
   *   `InvalidParamsError` on a cell index out of range.
   */
  cellSums(cell: number, query: Float32Array, out: KernelSums): KernelSums {
    checkVector('query', query, this.keyDim);
    if (out.n.length !== this.valueDim) throw new DimensionMismatchError('sums.n', out.n.length, this.valueDim);
    if (!Number.isInteger(cell) || cell < 0 || cell >= this.active) {
      throw new InvalidParamsError(`cell is ${cell}, expected an integer in [0, ${this.active})`);
    }
    const e = this.expansions;
    const qn = e.queryFeatures(query, this.psi);
    return e.evaluate(cell, query, qn, this.psi, this.tau, out);
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
    for (let c = 0; c < this.active; c++) {
      e.evaluate(c, query, qn, this.psi, this.tau, this.part);
      mergeSums(out, this.part);
      const rho = qn * e.radii[c]! * this.tau;
      const trunc = taylorRemainderBound(rho, g);
      const round = roundingBound(e.tokens[c]!, e.basis.size, g, rho);
      this.bounds[c] = trunc + round;
      if (trunc > worstTrunc) worstTrunc = trunc;
      if (round > worstRound) worstRound = round;
      if (trunc + round > worst) worst = trunc + round;
    }
    if (!(out.z > 0) || !Number.isFinite(out.z)) {
      throw new AssumptionViolatedError(
        `multipole: the degree-${g} estimate of Z is ${out.z} (largest ρ_c = ${worstRho.toPrecision(4)}); lower the radius or raise the degree`,
      );
    }
    const cert = this.lastCertificate;
    cert.exact = false;
    cert.degree = g;
    cert.rho = worstRho;
    cert.truncation = worstTrunc;
    cert.rounding = worstRound;
    cert.relative = worst;
    cert.maxValueNorm = this.maxValueNorm;
    cert.output = outputBound(worst, this.maxValueNorm);
    return out;
  }

  protected onReset(): void {
    this.expansions.clear();
    this.bounds.fill(0);
    this.active = 0;
    this.last = -1;
    this.maxValueNorm = 0;
    const cert = this.lastCertificate;
    cert.exact = false;
    cert.rho = cert.truncation = cert.rounding = cert.relative = cert.output = cert.maxValueNorm = 0;
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
  summary: 'Online key cells with degree-p moments about each centre (fixed size); per-cell relative error ≤ (||q||R_cτ)^{p+1}e^{||q||R_cτ}/(p+1)!.',
  params: multipoleParams,
  budget: 'optional',
  create: (spec) => new MultipoleCache(spec),
};
