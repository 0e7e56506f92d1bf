import {
  AssumptionViolatedError,
  BaseHeadCache,
  booleanParam,
  type ByteCost,
  type CacheState,
  createKernelSums,
  dotUnit,
  floorBytes,
  integerParam,
  InvalidBudgetError,
  InvalidParamsError,
  type KernelSums,
  mergeSums,
  nrm2,
  numberParam,
  type ParamInfo,
  type PolicyDefinition,
  type PolicySpec,
  requireFits,
  type StateReader,
} from '@kv/core';
import { expansionStateBytes, MomentExpansions, MonomialBasis } from '@kv/polynomial';
import { ResidualBalance } from './residual-balance.js';
import { ResidualCoreset } from './residual-coreset.js';
import { residualNormBound } from './residual-exp.js';

/**
 * Calibrated constant C of the error model C·exp_{>t}(ρ)·e^{ρ}/√b (see
 * {@link deriveTaylorCoresetParameters}). **Unverified**: twice the largest ratio measured on our
 * clustered sphere streams (d = 8 and 32, ρ ≤ 2, b ≤ 256: ratios 0.01 to 0.12), not from the paper.
 *
 * @example
 * ```ts
 * import { deriveTaylorCoresetParameters, TAYLOR_CORESET_BLOCK_CONSTANT } from '@kv/hybrid';
 * // A more cautious model: twice the calibrated constant (blocks four times larger).
 * deriveTaylorCoresetParameters({ epsilon: 0.05, rho: 1, keyDim: 8, valueDim: 8, blockConstant: 2 * TAYLOR_CORESET_BLOCK_CONSTANT });
 * ```
 */
export const TAYLOR_CORESET_BLOCK_CONSTANT = 0.25;

/**
 * Default walk constant c of {@link ResidualBalance} in this policy (see its remarks).
 *
 * @example
 * ```ts
 * import { ResidualBalance, TAYLOR_CORESET_WALK_CONSTANT } from '@kv/hybrid';
 * const walk = new ResidualBalance({ tau: 0.5, degree: 3, walkConstant: TAYLOR_CORESET_WALK_CONSTANT });
 * ```
 */
export const TAYLOR_CORESET_WALK_CONSTANT = 1;

/**
 * Inputs of {@link deriveTaylorCoresetParameters}.
 *
 * @example
 * ```ts
 * import { deriveTaylorCoresetParameters, type TaylorCoresetInput } from '@kv/hybrid';
 * // The most accurate configuration within 64 KiB, for streams of up to 8192 tokens.
 * const input: TaylorCoresetInput = { epsilon: 0.05, rho: 1, keyDim: 16, valueDim: 16, horizon: 8192, budgetBytes: 65536 };
 * deriveTaylorCoresetParameters(input).modelError;
 * ```
 */
export interface TaylorCoresetInput {
  /** Target normalised error ε ∈ (0, 1). */
  readonly epsilon: number;
  /** ρ = r²τ: every key and query has ||·||²τ ≤ ρ. */
  readonly rho: number;
  /** Key dimension d. */
  readonly keyDim: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /** Stream length the memory estimate is computed for (default 65536). */
  readonly horizon?: number;
  /** Block-size constant C (default {@link TAYLOR_CORESET_BLOCK_CONSTANT}). */
  readonly blockConstant?: number;
  /** When given, choose (t, block) that minimise the modelled error within these bytes instead. */
  readonly budgetBytes?: number;
  /** Largest degree considered (default 12). */
  readonly maxDegree?: number;
}

/**
 * What {@link deriveTaylorCoresetParameters} chooses.
 *
 * @example
 * ```ts
 * import { deriveTaylorCoresetParameters, type TaylorCoresetParameters } from '@kv/hybrid';
 * const p: TaylorCoresetParameters = deriveTaylorCoresetParameters({ epsilon: 0.05, rho: 1, keyDim: 8, valueDim: 8 });
 * `t = ${p.degree}, block = ${p.blockSize}, ${p.bytes} bytes at the horizon`;
 * ```
 */
export interface TaylorCoresetParameters {
  /** Taylor degree t. */
  readonly degree: number;
  /** Coreset block size (even). */
  readonly blockSize: number;
  /** Row cap of the coreset's groups (Infinity without a budget). */
  readonly maxRows: number;
  /** Modelled error C·exp_{>t}(ρ)·e^{ρ}/√blockSize (a model, not a bound; 0 when the block exceeds the horizon). */
  readonly modelError: number;
  /** Modelled bytes at the horizon (moments + rows). */
  readonly bytes: number;
}

/** Bytes of one row: float32 key and value, Int32 position, and a log-weight for group rows plus their share of the group sizes. */
function rowBytes(d: number, s: number, group: boolean): number {
  return 4 * (d + s) + 4 + (group ? 8 : 0);
}

/**
 * Bytes a {@link TaylorCoresetCache} configuration holds with a full raw block and `groupRows`
 * group rows: the moment state, the raw rows and the group rows.
 */
function configBytes(d: number, s: number, t: number, block: number, groupRows: number): number {
  return expansionStateBytes(d, s, t, 1) + block * rowBytes(d, s, false) + groupRows * rowBytes(d, s, true);
}

/** Bytes of the smallest configuration: degree-0 moments, a raw block of 2 rows and one group row. */
function smallestTaylorCoresetBytes(d: number, s: number): number {
  return configBytes(d, s, 0, 2, 1);
}

function counterRows(block: number, horizon: number): number {
  if (horizon < block) return 0;
  return (block / 2) * (Math.floor(Math.log2(horizon / block)) + 1);
}

/**
 * Chooses the Taylor degree t and the coreset block size of the high-temperature construction,
 * either for a target error ε (smallest modelled memory) or for a memory budget (smallest modelled
 * error).
 *
 * @param input - ε, ρ, d, s, and optionally a horizon, the constant C and a byte budget.
 * @returns The chosen parameters.
 * @throws `InvalidParamsError` (from `@kv/core`) for out-of-range inputs; `InvalidBudgetError`
 *   (from `@kv/core`) when no configuration fits the budget.
 * @remarks **Model.** The residual coreset errs like a merge-and-reduce discrepancy coreset whose
 * kernel has squared feature norm ≤ exp_{>t}(ρ) ≤ ρ^{t+1}e^{ρ}/(t+1)! (keys and queries), against
 * Z ≥ n·e^{−ρ}: the scale of its error is exp_{>t}(ρ)·e^{ρ} (the BalanceKV analysis with e^{ρ}
 * replaced by the residual norm). The discrepancy analysis predicts a 1/b decay in the block size b
 * (up to logarithms) with large constants; our measurements decay more like 1/√b (at these sizes
 * the walk behaves like a random halving), so the model used is C·exp_{>t}(ρ)·e^{ρ}/√b with C
 * **calibrated, unverified** ({@link TAYLOR_CORESET_BLOCK_CONSTANT}). Memory = C(d+t, t)·(s+1)
 * Float64 moments + b·(log2(n/b) + 2) rows. For a target ε, every t ≤ maxDegree is tried with
 * b = max(2, ⌈(C·exp_{>t}(ρ)e^{ρ}/ε)²⌉) (even) and the cheapest is kept; b ≥ horizon means the
 * coreset never halves (exact residual). For a budget, for each t the largest b whose binary counter
 * over the horizon fits is taken, and the t with the smallest modelled error wins.
 * @example
 * ```ts
 * import { deriveTaylorCoresetParameters } from '@kv/hybrid';
 * deriveTaylorCoresetParameters({ epsilon: 0.01, rho: 1, keyDim: 8, valueDim: 8 }).degree;
 * ```
 */
export function deriveTaylorCoresetParameters(input: TaylorCoresetInput): TaylorCoresetParameters {
  const { epsilon, rho, keyDim: d, valueDim: s } = input;
  const horizon = input.horizon ?? 65536;
  const C = input.blockConstant ?? TAYLOR_CORESET_BLOCK_CONSTANT;
  const maxDegree = input.maxDegree ?? 12;
  if (!(epsilon > 0 && epsilon < 1)) throw new InvalidParamsError(`epsilon is ${epsilon}, expected in (0, 1)`);
  if (!(rho > 0) || !Number.isFinite(rho)) throw new InvalidParamsError(`rho is ${rho}, expected a finite number > 0`);
  if (!(C > 0)) throw new InvalidParamsError(`blockConstant is ${C}, expected > 0`);
  if (!Number.isInteger(horizon) || horizon < 2) throw new InvalidParamsError(`horizon is ${horizon}, expected an integer >= 2`);
  const scale = (t: number): number => C * residualNormBound(rho, t) * Math.exp(rho);
  let best: TaylorCoresetParameters | null = null;
  if (input.budgetBytes === undefined) {
    const cap = 2 * Math.ceil((horizon + 1) / 2);
    for (let t = 0; t <= maxDegree; t++) {
      let b = Math.ceil((scale(t) / epsilon) ** 2);
      b = Math.min(cap, Math.max(2, b + (b % 2)));
      const bytes = configBytes(d, s, t, b, counterRows(b, horizon));
      // A block longer than the horizon never halves: the residual is then kept exactly.
      const modelError = b > horizon ? 0 : scale(t) / Math.sqrt(b);
      if (best === null || bytes < best.bytes) best = { degree: t, blockSize: b, maxRows: Infinity, modelError, bytes };
    }
    return best!;
  }
  const budget = input.budgetBytes;
  for (let t = 0; t <= maxDegree; t++) {
    if (configBytes(d, s, t, 2, 0) > budget) break;
    let chosen = 0;
    for (let b = 2; b <= 2 * horizon; b += b < 64 ? 2 : 2 * Math.ceil(b / 32)) {
      if (configBytes(d, s, t, b, counterRows(b, horizon) + b / 2) > budget) break;
      chosen = b;
    }
    if (chosen === 0) continue;
    const spare = Math.floor((budget - configBytes(d, s, t, chosen, 0)) / rowBytes(d, s, true));
    const maxRows = Math.max(chosen, spare - chosen / 2);
    const err = scale(t) / Math.sqrt(chosen);
    const bytes = configBytes(d, s, t, chosen, maxRows + chosen / 2);
    if (best === null || err < best.modelError) best = { degree: t, blockSize: chosen, maxRows, modelError: err, bytes };
  }
  if (best === null) {
    // No binary counter over the horizon fits: the smallest configuration, its groups capped by
    // the budget (halved further with mixed weights once full), if its fixed part fits at all.
    const need = smallestTaylorCoresetBytes(d, s);
    if (need > budget) throw new InvalidBudgetError(`no Taylor degree and block size fit in ${budget} bytes at d = ${d}, s = ${s}; the smallest budget that fits is { bytes: ${need} }`);
    const maxRows = Math.floor((budget - configBytes(d, s, 0, 2, 0)) / rowBytes(d, s, true));
    best = { degree: 0, blockSize: 2, maxRows, modelError: scale(0) / Math.SQRT2, bytes: configBytes(d, s, 0, 2, maxRows) };
  }
  return best;
}

/**
 * Parameters of the `hybrid-taylor-coreset` policy.
 *
 * @example
 * ```ts
 * import { taylorCoresetParams } from '@kv/hybrid';
 * taylorCoresetParams.find((p) => p.name === 'epsilon')?.default; // 0.05
 * ```
 */
export const taylorCoresetParams: readonly ParamInfo[] = [
  { name: 'epsilon', type: 'number', default: 0.05, description: 'Target normalised error (picks degree and block size with rho).' },
  { name: 'rho', type: 'number', default: 1, description: 'Assumed r²τ with ||k||, ||q|| ≤ r.' },
  { name: 'degree', type: 'integer', description: 'Taylor degree t (default: derived).' },
  { name: 'blockSize', type: 'integer', description: 'Coreset block size (even; default: derived).' },
  { name: 'walkConstant', type: 'number', default: TAYLOR_CORESET_WALK_CONSTANT, description: 'Self-balancing walk constant c.' },
  { name: 'blockConstant', type: 'number', default: TAYLOR_CORESET_BLOCK_CONSTANT, description: 'Calibrated constant C of the block-size model (unverified).' },
  { name: 'horizon', type: 'integer', default: 65536, description: 'Stream length the budget derivation plans for.' },
  { name: 'strict', type: 'boolean', default: false, description: 'Refuse keys/queries with ||x||²τ > rho and a non-positive Z (AssumptionViolatedError) instead of falling back.' },
  { name: 'threshold', type: 'number', default: 0.5, description: 'Modelled error at the observed logit radius above which the answer comes from the coreset rows as a plain sample (counted).' },
  { name: 'maxBytes', type: 'integer', default: 256 * 1024 * 1024, description: 'Refuse configurations whose moments exceed this many bytes.' },
];

/**
 * The high-temperature construction of the seed paper: exact Taylor moments of e^{<q,k>τ} up to
 * degree t (about the origin) plus a weighted merge-and-reduce coreset of the residual kernel
 * exp_{>t}(<q,k>τ) = Σ_{ℓ>t} (<q,k>τ)^ℓ/ℓ!, halved by a kernelized self-balancing walk on
 * exp_{>t}(<k,k'>τ)·(<v,v'> + 1) so one coreset serves numerator and denominator. The answer is
 * the Taylor part plus Σ_{coreset} w_i·exp_{>t}(<q,k_i>τ)·[1, v_i], merged in log-scaled form.
 *
 * @remarks
 * - **Centre**: the expansion is about the origin (not a data centre): the residual kernel is then
 *   a fixed PSD kernel of the raw keys, and its feature norm² is exp_{>t}(||k||²τ) ≤ ρ^{t+1}e^{ρ}/(t+1)!
 *   for ||k||²τ ≤ ρ. Streams with a large common key offset should be centred upstream
 *   (algorithms.md §2.3) or use `hybrid-cells`.
 * - **Assumptions**: ||k||, ||q|| ≤ r with ρ = r²τ small (high temperature, ρ ≲ 2). No theorem with
 *   explicit constants is claimed here: the parameters come from the model of
 *   {@link deriveTaylorCoresetParameters} (calibrated constant, **unverified**); the tests measure
 *   the normalised error on random streams against ε. With `strict`, inputs outside the assumption
 *   throw `AssumptionViolatedError` (from `@kv/core`).
 * - **Fallback** (not strict): far outside the assumption the Taylor and residual parts cancel
 *   catastrophically. When the modelled error at the observed logit radius ||q||·max||k||·τ exceeds
 *   `threshold` (default 0.5), or Z is not positive, the answer comes from the coreset's rows (raw
 *   block and weighted groups) as a plain weighted sample under the full exponential kernel: a
 *   convex combination of kept values (exact attention while nothing has been halved), counted in
 *   `describe()` (`fallbacks`).
 * - **Memory**: C(d+t, t)·(s+1) Float64 moments + coreset rows (≤ b·(log2(n/b) + 2), or capped by
 *   the budget) + a b-row raw block; `bytes` is exactly these. Under a budget the moments, a full
 *   block and one halved block must fit its smallest bytes (else `InvalidBudgetError` naming the
 *   smallest budget that fits); the group rows are reduced after each flush to what the budget holds
 *   then (a `{fraction}` budget lets them grow with the stream).
 * @see Chen, Feng, Indyk, Kapralov, Kochetkova, Prokhorov, "Towards Tight Bounds for Streaming
 *   Attention", arXiv 2606.07205.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { taylorCoresetPolicy } from '@kv/hybrid';
 * const registry = new PolicyRegistry().register(taylorCoresetPolicy);
 * const cache = registry.create({ policy: 'hybrid-taylor-coreset', keyDim: 8, valueDim: 8, params: { epsilon: 0.03, rho: 1 } });
 * ```
 */
export class TaylorCoresetCache extends BaseHeadCache {
  /** Taylor degree t. */
  readonly degree: number;
  /** Coreset block size. */
  readonly blockSize: number;
  /** Assumed ρ. */
  readonly rho: number;
  /** Whether out-of-assumption input is refused. */
  readonly strict: boolean;
  /** Modelled error above which the answer falls back to the coreset rows as a sample. */
  readonly threshold: number;
  /** The parameters the policy chose (or was given). */
  readonly parameters: TaylorCoresetParameters;
  /** The walk (its `failures` count greedy steps). */
  readonly walk: ResidualBalance;
  private readonly blockConstant: number;
  private readonly expansion: MomentExpansions;
  private readonly coreset: ResidualCoreset;
  private readonly momentBytes: number;
  private readonly psi: Float64Array;
  private readonly partial: KernelSums;
  private maxKeyNorm = 0;
  private fallbackCount = 0;

  /**
   * @param spec - Spec with the params of {@link taylorCoresetParams}.
   * @throws `InvalidParamsError` (from `@kv/core`) for bad params or moments above `maxBytes`;
   *   `InvalidBudgetError` (from `@kv/core`) for a `{ratio}` budget or one nothing fits in.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    const d = this.keyDim;
    const s = this.valueDim;
    const epsilon = numberParam(p, 'epsilon', { default: 0.05, min: Number.MIN_VALUE, max: 0.999999 });
    this.rho = numberParam(p, 'rho', { default: 1, min: Number.MIN_VALUE });
    this.strict = booleanParam(p, 'strict', false);
    this.threshold = numberParam(p, 'threshold', { default: 0.5, min: 0 });
    const walkConstant = numberParam(p, 'walkConstant', { default: TAYLOR_CORESET_WALK_CONSTANT, min: Number.MIN_VALUE });
    this.blockConstant = numberParam(p, 'blockConstant', { default: TAYLOR_CORESET_BLOCK_CONSTANT, min: Number.MIN_VALUE });
    const horizon = integerParam(p, 'horizon', { default: 65536, min: 2 });
    const maxBytes = integerParam(p, 'maxBytes', { default: 256 * 1024 * 1024, min: 1 });
    const budget = spec.budget;
    if (typeof budget === 'object' && 'ratio' in budget) {
      throw new InvalidBudgetError('hybrid-taylor-coreset has fixed-size moments: use a token, {bytes} or {fraction} budget, not a ratio');
    }
    const limit = budget === undefined ? undefined : floorBytes(budget, d, s);
    const free = p?.['degree'] === undefined && p?.['blockSize'] === undefined;
    if (free) requireFits(spec.policy, budget, { fixed: smallestTaylorCoresetBytes(d, s), perRow: 0 }, d, s);
    const derived = deriveTaylorCoresetParameters({
      epsilon,
      rho: this.rho,
      keyDim: d,
      valueDim: s,
      horizon,
      blockConstant: this.blockConstant,
      ...(limit !== undefined && free ? { budgetBytes: limit } : {}),
    });
    const degree = p?.['degree'] === undefined ? derived.degree : integerParam(p, 'degree', { min: 0, max: 64 });
    const blockSize = p?.['blockSize'] === undefined ? derived.blockSize : integerParam(p, 'blockSize', { min: 2 });
    if (blockSize % 2 !== 0) throw new InvalidParamsError(`parameter "blockSize" is ${blockSize}, expected an even integer`);
    this.momentBytes = expansionStateBytes(d, s, degree, 1);
    if (this.momentBytes > maxBytes) {
      throw new InvalidParamsError(`hybrid-taylor-coreset: degree ${degree} needs ${this.momentBytes} bytes of moments at d = ${d}, above maxBytes = ${maxBytes}`);
    }
    this.degree = degree;
    this.blockSize = blockSize;
    requireFits(spec.policy, budget, this.byteCost(), d, s, blockSize / 2);
    this.parameters = {
      degree,
      blockSize,
      maxRows: this.groupCap(0),
      modelError: this.modelError(this.rho),
      bytes: degree === derived.degree && blockSize === derived.blockSize ? derived.bytes : configBytes(d, s, degree, blockSize, 0),
    };
    this.expansion = new MomentExpansions(new MonomialBasis(d, degree), 1, s);
    this.psi = new Float64Array(this.expansion.basis.size);
    this.walk = new ResidualBalance({ tau: this.tau, degree, walkConstant });
    this.coreset = new ResidualCoreset(d, s, degree, this.walk, spec.seed ?? 0, { blockSize });
    this.partial = createKernelSums(s);
  }

  /** Token-equivalents of the held bytes, ceil(bytes / (4·(d+s))). */
  get stored(): number {
    return this.seen === 0 ? 0 : Math.ceil(this.bytes / (4 * (this.keyDim + this.valueDim)));
  }

  /** The moment state and the coreset's rows. */
  override get bytes(): number {
    return this.momentBytes + this.coreset.heldBytes;
  }

  /** Rows held by the residual coreset. */
  get coresetRows(): number {
    return this.coreset.stored;
  }

  /** Answers that came from the coreset rows as a plain sample so far. */
  get fallbacks(): number {
    return this.fallbackCount;
  }

  /** The model C·exp_{>t}(ρ)·e^{ρ}/√b at radius ρ (see {@link deriveTaylorCoresetParameters}). */
  private modelError(rho: number): number {
    return (this.blockConstant * residualNormBound(rho, this.degree) * Math.exp(rho)) / Math.sqrt(this.blockSize);
  }

  /** Group rows the budget holds after `seen` tokens beside the moments and a full raw block. */
  private groupCap(seen: number): number {
    if (this.spec.budget === undefined) return Infinity;
    const free = this.budgetBytesAt(seen) - this.momentBytes - this.blockSize * rowBytes(this.keyDim, this.valueDim, false);
    return Math.floor(free / rowBytes(this.keyDim, this.valueDim, true));
  }

  protected override byteCost(): ByteCost {
    const d = this.keyDim;
    const s = this.valueDim;
    return { fixed: this.momentBytes + this.blockSize * rowBytes(d, s, false), perRow: rowBytes(d, s, true) };
  }

  protected saveState(): CacheState {
    return {
      scalars: { maxKeyNorm: this.maxKeyNorm, fallbacks: this.fallbackCount, walks: this.walk.walks, failures: this.walk.failures },
      arrays: {},
      parts: { moments: this.expansion.state(), coreset: this.coreset.state() },
    };
  }

  protected restoreState(r: StateReader): void {
    this.expansion.loadState(r.part('moments'), 1);
    this.coreset.loadState(r.part('coreset'));
    this.maxKeyNorm = r.number('maxKeyNorm');
    this.fallbackCount = r.integer('fallbacks', 0, Number.MAX_SAFE_INTEGER);
    this.walk.walks = r.integer('walks', 0, Number.MAX_SAFE_INTEGER);
    this.walk.failures = r.integer('failures', 0, Number.MAX_SAFE_INTEGER);
  }

  protected override describeSummary(): string {
    const cap = this.spec.budget === undefined ? '' : `, groups capped by the budget`;
    return `hybrid-taylor-coreset: degree ${this.degree} moments + residual coreset of blocks of ${this.blockSize} (${this.coreset.stored} rows${cap}), ρ = ${this.rho}; ${this.fallbackCount} fallback answers`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { degree: this.degree, blockSize: this.blockSize, coresetRows: this.coreset.stored, walks: this.walk.walks, fallbacks: this.fallbackCount };
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    this.addToken(key, 0, value, 0, position);
  }

  protected override onPrefill(keys: Float32Array, values: Float32Array, count: number, firstPosition: number): void {
    if (this.strict) for (let i = 0; i < count; i++) this.check(keys, i * this.keyDim, 'key');
    for (let i = 0; i < count; i++) this.addToken(keys, i * this.keyDim, values, i * this.valueDim, firstPosition + i);
  }

  private check(x: Float32Array, offset: number, what: string): void {
    const n2 = dotUnit(this.keyDim, x, offset, x, offset) * this.tau;
    if (n2 > this.rho * (1 + 1e-6)) {
      throw new AssumptionViolatedError(`hybrid-taylor-coreset: ||${what}||²τ = ${n2.toPrecision(4)} exceeds rho = ${this.rho}`);
    }
  }

  private addToken(key: Float32Array, keyOffset: number, value: Float32Array, valueOffset: number, position: number): void {
    if (this.strict) this.check(key, keyOffset, 'key');
    const kn = nrm2(this.keyDim, key, 1, keyOffset);
    if (kn > this.maxKeyNorm) this.maxKeyNorm = kn;
    this.expansion.add(0, key, value, keyOffset, valueOffset);
    this.coreset.push(key, keyOffset, value, valueOffset, position, this.groupCap(position + 1));
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    if (this.strict) this.check(query, 0, 'query');
    const e = this.expansion;
    const qn = e.queryFeatures(query, this.psi);
    if (this.strict || this.modelError(qn * this.maxKeyNorm * this.tau) <= this.threshold) {
      e.evaluate(0, query, qn, this.psi, this.tau, out);
      mergeSums(out, this.coreset.sums(query, this.tau, this.partial));
      if (out.z > 0 && Number.isFinite(out.z) && Number.isFinite(out.m)) return out;
      if (this.strict) {
        throw new AssumptionViolatedError(
          `hybrid-taylor-coreset: the estimate of Z is not positive (${out.z}·e^${out.m}); the logits are far outside ρ = ${this.rho} ` +
            '(the Taylor and residual parts cancel); use hybrid-cells or an exact policy for such inputs',
        );
      }
    }
    const kernel = this.coreset.residual;
    kernel.full = true;
    try {
      this.coreset.sums(query, this.tau, out);
    } finally {
      kernel.full = false;
    }
    this.fallbackCount++;
    return out;
  }

  protected onReset(): void {
    this.expansion.clear();
    this.coreset.reset();
    this.maxKeyNorm = 0;
    this.fallbackCount = 0;
  }
}

/**
 * Registry entry of {@link TaylorCoresetCache} (`"hybrid-taylor-coreset"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { taylorCoresetPolicy } from '@kv/hybrid';
 * new PolicyRegistry().register(taylorCoresetPolicy);
 * ```
 */
export const taylorCoresetPolicy: PolicyDefinition = {
  name: 'hybrid-taylor-coreset',
  summary: 'High temperature: exact Taylor moments to degree t + a merge-and-reduce coreset of the residual kernel exp_{>t} (seed paper); counted sample fallback far outside its assumptions.',
  params: taylorCoresetParams,
  budget: 'optional',
  create: (spec) => new TaylorCoresetCache(spec),
};
