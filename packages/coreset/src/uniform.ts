import {
  BaseHeadCache,
  type ByteCost,
  type CacheState,
  createKernelSums,
  integerParam,
  type KernelSums,
  mergeSums,
  type PolicyDefinition,
  type PolicySpec,
  parsePrecision,
  precisionParam,
  type StateReader,
} from '@kv/core';
import { budgetFloorRows, fitEdges, middleCapacity, samplingRates, storeLimit } from './edge-budget.js';
import { ExactEdges } from './edges.js';
import { PrioritySample } from './priority-sample.js';

/**
 * Uniform sampling with importance weights, the baseline every coreset must beat: optional exact
 * sinks and window, and a uniform sample of the middle (the tokens that left the window) that
 * fills whatever the budget leaves. Each sampled token stands for 1/τ middle tokens, τ being the
 * sample's inclusion threshold ({@link PrioritySample}), applied as the logit bias −ln τ.
 *
 * @remarks
 * - Unbiased: E[Ñ] = N and E[Z̃] = Z for every query, for token, ratio and byte budgets alike
 *   (the capacity depends only on the tokens seen). The ratio Ñ/Z̃ is slightly biased.
 * - Error ~ 1/√k for k sampled tokens (sampling variance).
 * - A row costs its float32 key and value and an Int32 position, plus a Float32 priority for
 *   sampled rows. Sinks and window are sized to the smallest budget the cache will get; when the
 *   requested ones do not fit with one middle row, both shrink (see `describe()`).
 * @see BalanceKV's `uniform_sampling` baseline (ksheth96/BalanceKV).
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { uniformSamplingPolicy } from '@kv/coreset';
 * const registry = new PolicyRegistry().register(uniformSamplingPolicy);
 * const cache = registry.create({ policy: 'uniform', keyDim: 8, valueDim: 8, budget: { fraction: 1 / 8 } });
 * ```
 */
export class UniformSampling extends BaseHeadCache {
  /** Exact leading tokens (after fitting the budget). */
  readonly sink: number;
  /** Exact trailing tokens (after fitting the budget). */
  readonly window: number;
  /** Whether the requested sinks and window were shrunk to fit the budget. */
  readonly shrunk: boolean;
  private readonly edges: ExactEdges;
  private readonly sample: PrioritySample;
  private readonly middleRows: (seen: number, rowBytes: number) => number;
  private readonly part: KernelSums;

  /**
   * @param spec - Spec with a budget and params sink, window.
   * @throws `InvalidParamsError` on bad parameters; `InvalidBudgetError` when a fixed budget leaves
   *   nothing for the middle.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const d = this.keyDim;
    const s = this.valueDim;
    const precision = parsePrecision(spec.params?.['precision'], 'uniform params');
    const seed = spec.seed ?? 0;
    const probe = new ExactEdges(d, s, 0, 0, precision, seed);
    const floor = budgetFloorRows(spec.budget, probe.rowBytes, d, s);
    const fit = fitEdges(floor, integerParam(spec.params, 'sink', { default: 0, min: 0 }), integerParam(spec.params, 'window', { default: 0, min: 0 }), 1);
    this.sink = fit.sink;
    this.window = fit.window;
    this.shrunk = fit.shrunk;
    this.edges = new ExactEdges(d, s, this.sink, this.window, precision, seed);
    const probeSample = new PrioritySample(d, s, 0, 0, undefined, precision);
    this.middleRows = middleCapacity(spec.budget, this.sink + this.window, this.edges.rowBytes, d, s, this.edges.fixedBytes + probeSample.store.fixedBytes);
    const rowBytes = probeSample.rowBytes;
    const most = storeLimit(this.middleRows(2 ** 31 - 1, rowBytes), rowBytes);
    const edges = this.sink + this.window;
    const rates = samplingRates((count) => this.middleRows(count + edges, rowBytes));
    this.sample = new PrioritySample(d, s, seed, most, (position) => rates(position - this.sink), precision);
    this.part = createKernelSums(s);
  }

  /** Rows held. */
  get stored(): number {
    return this.edges.rows + this.sample.count;
  }

  /** Middle tokens offered to the sample so far. */
  get middleSeen(): number {
    return this.sample.offeredCount;
  }

  /** Bytes held: exact rows plus sampled rows with their priorities. */
  override get bytes(): number {
    return this.edges.heldBytes + this.sample.heldBytes;
  }

  protected override byteCost(): ByteCost {
    return { fixed: 0, perRow: this.edges.rowBytes };
  }

  protected override capacityAt(seen: number): number {
    return this.sink + this.window + this.middleRows(seen, this.sample.rowBytes);
  }

  /** Positions of the held rows (sinks, window, sample). */
  positions(): Int32Array {
    const out = new Int32Array(this.stored);
    out.set(this.sample.store.positions(), this.edges.writePositions(out, 0));
    return out;
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const e = this.edges;
    const where = e.admit(key, value, position);
    if (where === 'kept') return;
    const capacity = this.middleRows(position + 1, this.sample.rowBytes);
    if (where === 'through') this.sample.offer(key, value, position, capacity);
    else this.sample.offer(e.leavingKey, e.leavingValue, e.leavingPosition, capacity);
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    this.edges.sums(query, this.tau, out);
    return mergeSums(out, this.sample.sums(query, this.tau, this.part));
  }

  protected onReset(): void {
    this.edges.clear();
    this.sample.clear();
  }

  protected saveState(): CacheState {
    return { scalars: {}, arrays: {}, parts: { edges: this.edges.state(), sample: this.sample.state() } };
  }

  protected restoreState(r: StateReader): void {
    this.edges.loadState(r.part('edges'));
    this.sample.loadState(r.part('sample'));
  }

  protected override describeSummary(): string {
    const m = this.sample;
    return `uniform: ${this.sink} sinks + ${this.window} window exact${this.shrunk ? ' (shrunk to fit the budget)' : ''}, ${m.count} of ${m.offeredCount} middle tokens sampled`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { sinks: this.sink, window: this.window, shrunk: this.shrunk, sampled: this.sample.count, middleSeen: this.sample.offeredCount, precision: this.sample.store.precisionLabel };
  }
}

/**
 * Registry entry of {@link UniformSampling} (`uniform`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { uniformSamplingPolicy } from '@kv/coreset';
 * new PolicyRegistry().register(uniformSamplingPolicy);
 * ```
 */
export const uniformSamplingPolicy: PolicyDefinition = {
  name: 'uniform',
  summary: 'Uniform (priority) sampling of the middle with importance weights 1/τ; unbiased N and Z at any budget, error ~ 1/√k.',
  params: [
    { name: 'sink', type: 'integer', default: 0, description: 'Leading tokens kept exactly (shrunk when the budget is smaller).' },
    { name: 'window', type: 'integer', default: 0, description: 'Trailing tokens kept exactly (shrunk when the budget is smaller).' },
    precisionParam,
  ],
  budget: 'required',
  create: (spec) => new UniformSampling(spec),
};
