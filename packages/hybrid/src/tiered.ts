import {
  BaseHeadCache,
  createKernelSums,
  type HeadCache,
  integerParam,
  type KernelSums,
  mergeSums,
  type PolicyChoice,
  type PolicyDefinition,
  type PolicyRegistryLike,
  type PolicySpec,
  SlotStore,
} from '@kv/core';
import { choiceParamOf, createPart, remainingBudget } from './choice.js';

/**
 * Parameters of {@link tiered}.
 *
 * @example
 * ```ts
 * import { tiered, type TieredOptions } from '@kv/hybrid';
 * const options: TieredOptions = { sinks: 4, window: 128, middle: { policy: 'balancekv' } };
 * tiered(options);
 * ```
 */
export interface TieredOptions {
  /** Exact attention-sink tokens kept from the start of the stream (default 4). */
  readonly sinks?: number;
  /** Exact most-recent tokens (default 32). */
  readonly window?: number;
  /** The policy that receives tokens as they leave the window. */
  readonly middle: PolicyChoice;
}

/**
 * Spec builder of a tiered cache: exact sinks + exact recent window + any policy for the middle,
 * tokens flowing into the middle as they leave the window (how practical BalanceKV and
 * StreamingLLM work).
 *
 * @param options - Sinks, window and the middle policy.
 * @returns A policy choice for `"tiered"`, to pass to a registry or a `ModelCache`.
 * @example
 * ```ts
 * import { tiered } from '@kv/hybrid';
 * const choice = tiered({ sinks: 4, window: 64, middle: { policy: 'exact' } });
 * // registry.create({ ...choice, keyDim: 64, valueDim: 64 })
 * ```
 */
export function tiered(options: TieredOptions): PolicyChoice {
  return {
    policy: 'tiered',
    params: { sinks: options.sinks ?? 4, window: options.window ?? 32, middle: options.middle },
  };
}

/**
 * Exact sinks, an exact ring-buffer window, and a middle sub-policy fed the tokens that leave the
 * window. Answers merge the three parts' kernel sums by log-sum-exp, so with an exact middle it is
 * exact attention.
 *
 * @remarks
 * Budget: `capacity = sinks + window + middle.capacity`. When the middle choice has no budget of
 * its own, a token budget B gives it `B − sinks − window` slots and a ratio budget is passed on
 * (as a ratio of the tokens the middle sees).
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { tieredPolicy } from '@kv/hybrid';
 * const registry = new PolicyRegistry().register(exactPolicy, tieredPolicy);
 * const cache = registry.create({ policy: 'tiered', keyDim: 8, valueDim: 8, params: { sinks: 2, window: 4, middle: { policy: 'exact' } } });
 * ```
 */
export class TieredCache extends BaseHeadCache {
  /** Number of exact sink slots. */
  readonly sinkCount: number;
  /** Number of exact window slots. */
  readonly windowSize: number;
  /** The middle sub-cache. */
  readonly middle: HeadCache;
  private readonly sinks: SlotStore;
  private readonly window: SlotStore;
  private readonly partial: KernelSums;
  private readonly keyRow: Float32Array;
  private readonly valueRow: Float32Array;

  /**
   * @param spec - Spec with params `sinks`, `window`, `middle`.
   * @param registry - Registry that builds the middle.
   * @throws `InvalidParamsError` (from `@kv/core`) on bad params; `InvalidBudgetError` (from `@kv/core`) when the budget leaves no middle slot.
   */
  constructor(spec: PolicySpec, registry: PolicyRegistryLike) {
    super(spec);
    this.sinkCount = integerParam(spec.params, 'sinks', { default: 4, min: 0 });
    this.windowSize = integerParam(spec.params, 'window', { default: 32, min: 0 });
    const middleChoice = choiceParamOf(spec.params, 'middle');
    this.middle = createPart(registry, spec, middleChoice, 0, remainingBudget(spec.budget, this.sinkCount + this.windowSize, 1));
    this.sinks = new SlotStore(spec.keyDim, spec.valueDim, { maxSlots: this.sinkCount, initialSlots: Math.min(this.sinkCount, 16) });
    this.window = new SlotStore(spec.keyDim, spec.valueDim, { maxSlots: this.windowSize, initialSlots: Math.min(this.windowSize, 16) });
    this.partial = createKernelSums(spec.valueDim);
    this.keyRow = new Float32Array(spec.keyDim);
    this.valueRow = new Float32Array(spec.valueDim);
  }

  /** Sinks + window + the middle's stored token-equivalents. */
  get stored(): number {
    return this.sinks.count + this.window.count + this.middle.stored;
  }

  /** Sinks + window + the middle's capacity. */
  override get capacity(): number {
    return this.sinkCount + this.windowSize + this.middle.capacity;
  }

  /** The arrays of the sinks, the window and the middle. */
  buffers(): readonly ArrayBufferView[] {
    return [...this.sinks.buffers(), ...this.window.buffers(), ...this.middle.buffers()];
  }

  /** Positions of the sinks, the window and (when it keeps tokens) the middle. */
  positions(): Int32Array {
    const mid = this.middle.positions?.() ?? new Int32Array(0);
    const out = new Int32Array(this.sinks.count + this.window.count + mid.length);
    out.set(this.sinks.positions(), 0);
    out.set(this.window.positions(), this.sinks.count);
    out.set(mid, this.sinks.count + this.window.count);
    return out;
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    if (position < this.sinkCount) {
      this.sinks.push(key, 0, value, 0, position, 0);
      return;
    }
    if (this.windowSize === 0) {
      this.middle.append(key, value);
      return;
    }
    if (this.window.count < this.windowSize) {
      this.window.push(key, 0, value, 0, position, 0);
      return;
    }
    // Ring buffer: the slot of the oldest window token is (position − sinks) mod W.
    const slot = (position - this.sinkCount) % this.windowSize;
    const d = this.keyDim;
    const s = this.valueDim;
    const keys = this.window.keys;
    const values = this.window.values;
    for (let j = 0; j < d; j++) this.keyRow[j] = keys[slot * d + j]!;
    for (let j = 0; j < s; j++) this.valueRow[j] = values[slot * s + j]!;
    this.middle.append(this.keyRow, this.valueRow);
    this.window.write(slot, key, 0, value, 0, position, 0);
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    this.sinks.sums(query, this.tau, out);
    if (this.window.count > 0) mergeSums(out, this.window.sums(query, this.tau, this.partial));
    if (this.middle.seen > 0) mergeSums(out, this.middle.sums(query, this.partial));
    return out;
  }

  protected onReset(): void {
    this.sinks.clear();
    this.window.clear();
    this.middle.reset();
  }
}

/**
 * Registry entry of {@link TieredCache} (`"tiered"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { tieredPolicy } from '@kv/hybrid';
 * new PolicyRegistry().register(exactPolicy, tieredPolicy);
 * ```
 */
export const tieredPolicy: PolicyDefinition = {
  name: 'tiered',
  summary: 'Exact sinks + exact recent window + any policy for the middle (tokens flow in as they leave the window).',
  params: [
    { name: 'sinks', type: 'integer', default: 4, description: 'exact tokens kept from the start' },
    { name: 'window', type: 'integer', default: 32, description: 'exact most-recent tokens' },
    { name: 'middle', type: 'spec', description: 'policy choice for the tokens leaving the window' },
  ],
  budget: 'optional',
  create: (spec, registry) => new TieredCache(spec, registry),
};
