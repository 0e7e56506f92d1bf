import { BaseHeadCache } from './base-cache.js';
import type { ByteCost, CacheState, PolicyDefinition, PolicySpec } from './contract.js';
import { EmptyCacheError } from './errors.js';
import { SlotStore } from './slot-store.js';
import type { StateReader } from './state.js';
import type { KernelSums } from './sums.js';
import { checkVector } from './validate.js';

/**
 * The exact reference cache: stores every token and answers exact softmax attention with a
 * blocked online log-sum-exp, so keys and queries of any norm (1e4 and beyond) give finite results.
 * It also provides the quantities the guarantee-normalised error needs.
 *
 * @example
 * ```ts
 * import { ExactCache } from '@kv/core';
 * const cache = new ExactCache({ policy: 'exact', keyDim: 2, valueDim: 1 });
 * cache.append(new Float32Array([1, 0]), new Float32Array([3]));
 * cache.attend(new Float32Array([1, 0]), new Float32Array(1)); // [3]
 * ```
 */
export class ExactCache extends BaseHeadCache {
  private readonly store: SlotStore;
  private valueSquares = 0;

  /**
   * @param spec - The spec (budget and params ignored).
   * @throws `InvalidParamsError` for dimensions that are not positive integers.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    this.store = new SlotStore(spec.keyDim, spec.valueDim, { positions: false });
  }

  /** Every token is stored. */
  get stored(): number {
    return this.store.count;
  }

  /** The exact cache has no budget. */
  override get capacity(): number {
    return Infinity;
  }

  /** Float32 keys and values of every token: 4·(d+s) bytes each (positions are implicit). */
  override get bytes(): number {
    return this.store.heldBytes;
  }

  /**
   * Stored rows [start, end) in float32 (see `HeadCache.keptRows`).
   * @param keys - Receives (end − start)·d floats.
   * @param values - Receives (end − start)·s floats.
   * @param start - First row (default 0).
   * @param end - One past the last row (default: every row).
   * @returns The number of rows stored.
   * @throws `InvalidInputError` for a bad range or destination.
   */
  keptRows(keys: Float32Array, values: Float32Array, start?: number, end?: number): number {
    return this.store.keptRows(keys, values, start, end);
  }

  protected override byteCost(): ByteCost {
    return { fixed: 0, perRow: this.store.perRowBytes };
  }

  protected saveState(): CacheState {
    return { scalars: { valueSquares: this.valueSquares }, arrays: {}, parts: { store: this.store.state() } };
  }

  protected restoreState(state: StateReader): void {
    const valueSquares = state.number('valueSquares');
    this.store.loadState(state.part('store'));
    this.valueSquares = valueSquares;
  }

  protected override describeSummary(): string {
    return 'exact: every token in float32';
  }

  /**
   * The store whose kernel sums are this cache's attention (`ModelCache` threads read it).
   * @returns The store and τ.
   */
  attendStore(): {
    /** The store whose rows are attended. */
    readonly store: SlotStore;
    /** The logit scale τ to attend with. */
    readonly tau: number;
  } {
    return { store: this.store, tau: this.tau };
  }

  /** Positions 0..seen−1. */
  positions(): Int32Array {
    return this.store.positions();
  }

  /** Row-major keys of the stored tokens (a fresh copy). */
  get keys(): Float32Array {
    return this.store.copyKeys();
  }

  /** Row-major values of the stored tokens (a fresh copy). */
  get values(): Float32Array {
    return this.store.copyValues();
  }

  /** ||V||_F, the Frobenius norm of all values seen. */
  get valueFrobeniusNorm(): number {
    return Math.sqrt(this.valueSquares);
  }

  /**
   * ||softmax(K·q·τ)||₂, the norm of the exact attention probabilities.
   * @param query - Query of length d.
   * @returns The Euclidean norm of the probability vector.
   * @throws {@link EmptyCacheError} before the first token; `DimensionMismatchError` for a query
   *   of another length; `NonFiniteInputError` for NaN or Infinity in it.
   */
  softmaxNorm(query: Float32Array): number {
    checkVector('query', query, this.keyDim);
    const n = this.store.count;
    if (n === 0) throw new EmptyCacheError('exact');
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, this.store.logit(query, this.tau, i));
    let z = 0;
    let z2 = 0;
    for (let i = 0; i < n; i++) {
      const w = Math.exp(this.store.logit(query, this.tau, i) - m);
      z += w;
      z2 += w * w;
    }
    return Math.sqrt(z2) / z;
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    this.store.push(key, 0, value, 0, position, 0);
    for (let j = 0; j < value.length; j++) this.valueSquares += value[j]! * value[j]!;
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    return this.store.sums(query, this.tau, out);
  }

  protected onReset(): void {
    this.store.clear();
    this.valueSquares = 0;
  }
}

/**
 * Registry entry of {@link ExactCache} (`"exact"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * const cache = new PolicyRegistry().register(exactPolicy).create({ policy: 'exact', keyDim: 64, valueDim: 64 });
 * ```
 */
export const exactPolicy: PolicyDefinition = {
  name: 'exact',
  summary: 'Stores every token; exact softmax attention (the reference).',
  params: [],
  budget: 'none',
  traits: { inputs: 'keys', weighted: false, summary: false },
  create: (spec) => new ExactCache(spec),
};
