import {
  BaseHeadCache,
  type CacheDescription,
  type CacheState,
  floorBytes,
  type HeadCache,
  integerParam,
  InvalidBudgetError,
  isKvError,
  type KernelSums,
  KvErrorCode,
  nrm2,
  numberParam,
  type ParamInfo,
  type PolicyDefinition,
  type PolicySpec,
  SlotStore,
  type StateReader,
} from '@kv/core';
import { CellsCache, cellsMemory } from './cells.js';
import { TaylorCoresetCache } from './taylor-coreset.js';

/**
 * Parameters of the `auto` policy.
 *
 * @example
 * ```ts
 * import { autoParams } from '@kv/hybrid';
 * autoParams.map((p) => p.name); // ['warmup', 'epsilon', 'rhoSwitch', 'horizon']
 * ```
 */
export const autoParams: readonly ParamInfo[] = [
  { name: 'warmup', type: 'integer', default: 64, description: 'Tokens kept exactly before choosing (their norms estimate ρ).' },
  { name: 'epsilon', type: 'number', default: 0.05, description: 'Target error handed to the high-temperature construction.' },
  { name: 'rhoSwitch', type: 'number', default: 2, description: 'Largest estimated ρ for which the high-temperature construction is chosen.' },
  { name: 'horizon', type: 'integer', default: 65536, description: 'Stream length the budgeted constructions plan for.' },
];

/**
 * Which construction {@link AutoHybridCache} runs.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { type AutoChoice, AutoHybridCache, autoPolicy } from '@kv/hybrid';
 * const cache = new PolicyRegistry().register(autoPolicy).create({ policy: 'auto', keyDim: 8, valueDim: 8, budget: 512 });
 * const choice: AutoChoice = cache instanceof AutoHybridCache ? cache.choice : 'warmup'; // 'warmup' for the first 64 tokens
 * ```
 */
export type AutoChoice = 'warmup' | 'hybrid-taylor-coreset' | 'hybrid-cells';

/**
 * Parameters of `hybrid-cells` that fill a token budget: 8 cells (fewer when tiny), the largest even
 * degree ≤ 4 whose moments take at most half the budget, and the rest as per-cell samples.
 */
function cellsForBudget(d: number, s: number, budgetBytes: number): { cells: number; degree: number; samples: number } | null {
  for (const cells of [8, 4, 2, 1]) {
    for (const degree of [4, 2, 0]) {
      if (cellsMemory(d, s, cells, degree, 0) > budgetBytes / 2 && degree > 0) continue;
      const rest = budgetBytes - cellsMemory(d, s, cells, degree, 0);
      const samples = Math.floor(rest / (cells * (4 * (d + s) + 4)));
      if (samples >= 1) return { cells, degree, samples };
    }
  }
  return null;
}

/**
 * The auto policy: keeps the first `warmup` tokens exactly, estimates ρ from the norms it observed,
 * then builds the construction that suits that temperature within the token budget and replays the
 * warm-up into it.
 *
 * @remarks
 * - Rule: ρ̂ = max||k||·max(max||q||, max||k||)·τ over the warm-up (query norms are those of the
 *   queries answered during the warm-up; without any, keys stand in for queries). If ρ̂ ≤
 *   `rhoSwitch` and `hybrid-taylor-coreset` fits the budget, it is built with ρ = ρ̂ and the degree
 *   and block size that minimise its modelled error within the budget
 *   ({@link deriveTaylorCoresetParameters}); otherwise `hybrid-cells` (a heuristic) with 8 cells,
 *   degree ≤ 4 and the rest of the budget as per-cell samples.
 * - Later tokens may exceed the estimated norms: the choice is not revisited (the constructions
 *   degrade as their own docs say).
 * - {@link AutoHybridCache.choice} and {@link AutoHybridCache.describe} say what was picked.
 * - Budget: a token budget is required (it sizes the warm-up and the construction); `stored` never
 *   exceeds it.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { autoPolicy, type AutoHybridCache } from '@kv/hybrid';
 * const registry = new PolicyRegistry().register(autoPolicy);
 * const cache = registry.create({ policy: 'auto', keyDim: 8, valueDim: 8, budget: 512 }) as AutoHybridCache;
 * // … after 64 tokens: cache.describe() === 'auto → hybrid-taylor-coreset(t=…, …)'
 * ```
 */
export class AutoHybridCache extends BaseHeadCache {
  /** Warm-up length W. */
  readonly warmup: number;
  /** Token budget. */
  readonly budgetTokens: number;
  /** The estimated ρ̂ (NaN until the warm-up ends). */
  estimatedRho = Number.NaN;
  private readonly epsilon: number;
  private readonly rhoSwitch: number;
  private readonly horizon: number;
  private warm: SlotStore | null;
  private inner: HeadCache | null = null;
  private maxKey = 0;
  private maxQuery = 0;

  /**
   * @param spec - Spec with a token budget and the params of {@link autoParams}.
   * @throws `InvalidBudgetError` (from `@kv/core`) without a token budget or with one below the warm-up;
   *   `InvalidParamsError` (from `@kv/core`) for bad params.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    if (spec.budget === undefined || (typeof spec.budget === 'object' && 'ratio' in spec.budget)) {
      throw new InvalidBudgetError('auto needs a token, {bytes} or {fraction} budget');
    }
    this.budgetTokens = Math.floor(floorBytes(spec.budget, spec.keyDim, spec.valueDim) / (4 * (spec.keyDim + spec.valueDim)));
    const p = spec.params;
    this.warmup = integerParam(p, 'warmup', { default: 64, min: 1 });
    this.epsilon = numberParam(p, 'epsilon', { default: 0.05, min: Number.MIN_VALUE, max: 0.999999 });
    this.rhoSwitch = numberParam(p, 'rhoSwitch', { default: 2, min: 0 });
    this.horizon = integerParam(p, 'horizon', { default: 65536, min: 2 });
    if (this.warmup + 1 > this.budgetTokens) throw new InvalidBudgetError(`auto: budget ${this.budgetTokens} must exceed the warm-up ${this.warmup}`);
    if (cellsForBudget(this.keyDim, this.valueDim, this.budgetTokens * 4 * (this.keyDim + this.valueDim)) === null) {
      throw new InvalidBudgetError(`auto: budget ${this.budgetTokens} holds no construction at d = ${this.keyDim}, s = ${this.valueDim}`);
    }
    this.warm = new SlotStore(this.keyDim, this.valueDim, { maxSlots: this.warmup, initialSlots: this.warmup });
  }

  /** What runs now: the warm-up, or the construction picked after it. */
  get choice(): AutoChoice {
    if (this.inner === null) return 'warmup';
    return this.inner instanceof TaylorCoresetCache ? 'hybrid-taylor-coreset' : 'hybrid-cells';
  }

  /** The construction picked after the warm-up (null during it). */
  get construction(): HeadCache | null {
    return this.inner;
  }

  protected override describeSummary(): string {
    if (this.inner === null) return `auto (warm-up, ${this.warm!.count}/${this.warmup} tokens)`;
    return `auto → ${this.inner.describe().summary} (ρ̂ = ${this.estimatedRho.toPrecision(3)})`;
  }

  protected override describeParts(): CacheDescription[] {
    return this.inner === null ? [] : [this.inner.describe()];
  }

  protected saveState(): CacheState {
    if (this.inner === null) return { scalars: { maxKey: this.maxKey, maxQuery: this.maxQuery }, arrays: {}, parts: { warm: this.warm!.state() } };
    return {
      scalars: { maxKey: this.maxKey, maxQuery: this.maxQuery, rho: this.estimatedRho, inner: JSON.stringify(this.inner.spec) },
      arrays: {},
      parts: { inner: this.inner.state() },
    };
  }

  protected restoreState(r: StateReader): void {
    this.maxKey = r.number('maxKey');
    this.maxQuery = r.number('maxQuery');
    if (r.hasPart('warm')) {
      this.warm!.loadState(r.part('warm'));
      return;
    }
    const spec = JSON.parse(r.string('inner')) as PolicySpec;
    const inner = spec.policy === 'hybrid-taylor-coreset' ? new TaylorCoresetCache(spec) : new CellsCache(spec);
    inner.loadState(r.part('inner').state);
    this.estimatedRho = r.number('rho');
    this.inner = inner;
    this.warm = null;
  }

  /** The warm-up rows, or the construction's stored size. */
  get stored(): number {
    return this.inner === null ? this.warm!.count : this.inner.stored;
  }

  /** The token budget. */
  override get capacity(): number {
    return this.budgetTokens;
  }


  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    if (this.inner !== null) {
      this.inner.append(key, value);
      return;
    }
    const warm = this.warm!;
    const kn = nrm2(this.keyDim, key, 1, 0);
    if (kn > this.maxKey) this.maxKey = kn;
    warm.push(key, 0, value, 0, position, 0);
    if (warm.count === this.warmup) this.choose(warm);
  }

  private choose(warm: SlotStore): void {
    const d = this.keyDim;
    const s = this.valueDim;
    const rho = Math.max(this.maxKey * Math.max(this.maxQuery, this.maxKey) * this.tau, 1e-6);
    this.estimatedRho = rho;
    const base = { keyDim: d, valueDim: s, tau: this.tau, seed: this.spec.seed ?? 0, budget: this.budgetTokens };
    let inner: HeadCache | null = null;
    if (rho <= this.rhoSwitch) {
      try {
        inner = new TaylorCoresetCache({ ...base, policy: 'hybrid-taylor-coreset', params: { rho, epsilon: this.epsilon, horizon: this.horizon } });
      } catch (e) {
        if (!isKvError(e, KvErrorCode.InvalidBudget)) throw e;
      }
    }
    if (inner === null) {
      const cfg = cellsForBudget(d, s, this.budgetTokens * 4 * (d + s))!;
      inner = new CellsCache({ ...base, policy: 'hybrid-cells', params: cfg });
    }
    inner.prefill(warm.copyKeys(), warm.copyValues());
    this.inner = inner;
    this.warm = null;
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    if (this.inner !== null) return this.inner.sums(query, out);
    const qn = nrm2(this.keyDim, query, 1, 0);
    if (qn > this.maxQuery) this.maxQuery = qn;
    return this.warm!.sums(query, this.tau, out);
  }

  protected onReset(): void {
    this.inner = null;
    this.warm = new SlotStore(this.keyDim, this.valueDim, { maxSlots: this.warmup, initialSlots: this.warmup });
    this.maxKey = 0;
    this.maxQuery = 0;
    this.estimatedRho = Number.NaN;
  }
}

/**
 * Registry entry of {@link AutoHybridCache} (`"auto"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { autoPolicy } from '@kv/hybrid';
 * new PolicyRegistry().register(autoPolicy);
 * ```
 */
export const autoPolicy: PolicyDefinition = {
  name: 'auto',
  summary: 'Warm-up, estimate ρ from observed norms, then hybrid-taylor-coreset (small ρ) or hybrid-cells within the budget; describe() says which.',
  params: autoParams,
  budget: 'required',
  create: (spec) => new AutoHybridCache(spec),
};
