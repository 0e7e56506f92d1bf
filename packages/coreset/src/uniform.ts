import {
  BaseHeadCache,
  createKernelSums,
  fixedBudget,
  integerParam,
  InvalidBudgetError,
  type KernelSums,
  mergeSums,
  type PolicyDefinition,
  type PolicySpec,
  Reservoir,
  Rng,
  SlotStore,
} from '@kv/core';

/**
 * Uniform sampling with importance weights, the baseline every coreset must beat: optional exact
 * sinks and window, and a reservoir (Vitter's Algorithm R) of k = budget − sink − window middle
 * tokens. After m middle tokens each is held with probability k/m, so every kept token gets the
 * log-weight ln(m/k) (a logit bias).
 *
 * @remarks
 * - Unbiased: E[Ñ] = N and E[Z̃] = Z for every query (each middle token contributes
 *   (m/k)·1[kept]·e^{logit}·v, whose mean is its true term). The ratio Ñ/Z̃ is slightly biased.
 * - Error ~ 1/√k (sampling variance). Needs a fixed token budget.
 * @see BalanceKV's `uniform_sampling` baseline (ksheth96/BalanceKV).
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { uniformSamplingPolicy } from '@kv/coreset';
 * const registry = new PolicyRegistry().register(uniformSamplingPolicy);
 * const cache = registry.create({ policy: 'uniform', keyDim: 8, valueDim: 8, budget: 64 });
 * ```
 */
export class UniformSampling extends BaseHeadCache {
  /** Exact leading tokens. */
  readonly sink: number;
  /** Exact trailing tokens. */
  readonly window: number;
  /** Reservoir size k. */
  readonly reservoirSize: number;
  private readonly sinks: SlotStore;
  private readonly recent: SlotStore;
  private oldest = 0;
  private readonly sample: SlotStore;
  private reservoir: Reservoir;
  private readonly part: KernelSums;

  /**
   * @param spec - Spec with a fixed budget and params sink, window.
   * @throws `InvalidBudgetError` without a fixed budget larger than sink + window.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const budget = fixedBudget(spec, 'uniform');
    this.sink = integerParam(spec.params, 'sink', { default: 0, min: 0 });
    this.window = integerParam(spec.params, 'window', { default: 0, min: 0 });
    this.reservoirSize = budget - this.sink - this.window;
    if (this.reservoirSize < 1) {
      throw new InvalidBudgetError(`uniform needs a budget above sink + window = ${this.sink + this.window}, got ${budget}`);
    }
    this.sinks = new SlotStore(this.keyDim, this.valueDim, { maxSlots: this.sink, initialSlots: Math.min(2, this.sink) });
    this.recent = new SlotStore(this.keyDim, this.valueDim, { maxSlots: this.window, initialSlots: Math.min(2, this.window) });
    this.sample = new SlotStore(this.keyDim, this.valueDim, { maxSlots: this.reservoirSize, initialSlots: 2 });
    this.reservoir = new Reservoir(this.reservoirSize, new Rng(spec.seed ?? 0));
    this.part = createKernelSums(this.valueDim);
  }

  /** Rows held. */
  get stored(): number {
    return this.sinks.count + this.recent.count + this.sample.count;
  }

  /** Middle tokens offered to the reservoir so far. */
  get middleSeen(): number {
    return this.reservoir.offered;
  }

  /** Arrays of the sinks, window and reservoir. */
  buffers(): readonly ArrayBufferView[] {
    return [...this.sinks.buffers(), ...this.recent.buffers(), ...this.sample.buffers()];
  }

  /** Positions of the held rows. */
  positions(): Int32Array {
    const out = new Int32Array(this.stored);
    out.set(this.sinks.positionOf.subarray(0, this.sinks.count), 0);
    out.set(this.recent.positionOf.subarray(0, this.recent.count), this.sinks.count);
    out.set(this.sample.positionOf.subarray(0, this.sample.count), this.sinks.count + this.recent.count);
    return out;
  }

  /**
   * Sinks, then the window ring; evicted window rows are offered to the reservoir.
   * @param key - Key.
   * @param value - Value.
   * @param position - Logical position.
   */
  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    if (this.sinks.count < this.sink) {
      this.sinks.push(key, 0, value, 0, position, 0);
      return;
    }
    if (this.window === 0) {
      this.offer(key, 0, value, 0, position);
      return;
    }
    const r = this.recent;
    if (r.count < this.window) {
      r.push(key, 0, value, 0, position, 0);
      return;
    }
    const slot = this.oldest;
    this.offer(r.keys, slot * this.keyDim, r.values, slot * this.valueDim, r.positionOf[slot]!);
    r.write(slot, key, 0, value, 0, position, 0);
    this.oldest = (slot + 1) % this.window;
  }

  /**
   * Exact parts plus the reservoir shifted by ln(m/k).
   * @param query - Query.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    this.sinks.sums(query, this.tau, out);
    mergeSums(out, this.recent.sums(query, this.tau, this.part));
    if (this.sample.count > 0) {
      const part = this.sample.sums(query, this.tau, this.part);
      part.m += Math.log(this.reservoir.offered / this.sample.count);
      mergeSums(out, part);
    }
    return out;
  }

  /** Forgets every token. */
  protected onReset(): void {
    this.sinks.clear();
    this.recent.clear();
    this.sample.clear();
    this.oldest = 0;
    this.reservoir = new Reservoir(this.reservoirSize, new Rng(this.spec.seed ?? 0));
  }

  private offer(key: ArrayLike<number>, ko: number, value: ArrayLike<number>, vo: number, position: number): void {
    const slot = this.reservoir.offer();
    if (slot < 0) return;
    if (slot === this.sample.count) this.sample.push(key, ko, value, vo, position, 0);
    else this.sample.write(slot, key, ko, value, vo, position, 0);
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
  summary: 'Uniform reservoir sampling with importance weights ln(m/k); unbiased N and Z, error ~ 1/√k.',
  params: [
    { name: 'sink', type: 'integer', default: 0, description: 'Leading tokens kept exactly.' },
    { name: 'window', type: 'integer', default: 0, description: 'Trailing tokens kept exactly.' },
  ],
  budget: 'required',
  create: (spec) => new UniformSampling(spec),
};
