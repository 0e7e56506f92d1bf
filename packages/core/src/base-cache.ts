import { budgetCapacity } from './budget.js';
import type { HeadCache, PolicySpec } from './contract.js';
import { DimensionMismatchError, EmptyCacheError } from './errors.js';
import { createKernelSums, type KernelSums, sumsToOutput } from './sums.js';
import { checkRows, checkVector } from './validate.js';

/**
 * A convenient base for policies: validates every public call once (so a rejected call changes
 * nothing), counts tokens, derives `bytes` from `buffers()` and `attend` from `sums`.
 * Subclasses implement the `on*` hooks, which receive validated input only.
 *
 * @example
 * ```ts
 * import { BaseHeadCache, SlotStore, type KernelSums } from '@kv/core';
 * class KeepAll extends BaseHeadCache {
 *   private store = new SlotStore(this.keyDim, this.valueDim);
 *   protected onAppend(k: Float32Array, v: Float32Array, pos: number) { this.store.push(k, 0, v, 0, pos, 0); }
 *   protected onSums(q: Float32Array, out: KernelSums) { return this.store.sums(q, this.tau, out); }
 *   protected onReset() { this.store.clear(); }
 *   get stored() { return this.store.count; }
 *   buffers() { return this.store.buffers(); }
 * }
 * ```
 */
export abstract class BaseHeadCache implements HeadCache {
  readonly spec: Readonly<PolicySpec>;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly tau: number;
  private seenCount = 0;
  private readonly scratchSums: KernelSums;

  /** @param spec - A spec whose dimensions and budget the registry has validated. */
  constructor(spec: PolicySpec) {
    this.spec = spec;
    this.keyDim = spec.keyDim;
    this.valueDim = spec.valueDim;
    this.tau = spec.tau ?? 1 / Math.sqrt(spec.keyDim);
    this.scratchSums = createKernelSums(spec.valueDim);
  }

  /** Tokens appended so far. */
  get seen(): number {
    return this.seenCount;
  }

  /** Slot capacity under the spec's budget at the current `seen`. */
  get capacity(): number {
    return budgetCapacity(this.spec.budget, this.seenCount);
  }

  /** Sum of the byte lengths of {@link BaseHeadCache.buffers}. */
  get bytes(): number {
    let total = 0;
    for (const b of this.buffers()) total += b.byteLength;
    return total;
  }

  /** Physical size in token-equivalents. */
  abstract get stored(): number;

  /** The typed arrays holding the state. */
  abstract buffers(): readonly ArrayBufferView[];

  /**
   * Appends one token after validating it.
   * @param key - Key of length d.
   * @param value - Value of length s.
   * @throws {@link DimensionMismatchError} or {@link NonFiniteInputError} on bad input.
   */
  append(key: Float32Array, value: Float32Array): void {
    checkVector('key', key, this.keyDim);
    checkVector('value', value, this.valueDim);
    this.onAppend(key, value, this.seenCount);
    this.seenCount++;
  }

  /**
   * Appends many tokens after validating all of them.
   * @param keys - Row-major keys, count·d.
   * @param values - Row-major values, count·s.
   * @param queries - Optional observation-window queries, w·d.
   * @throws {@link DimensionMismatchError} or {@link NonFiniteInputError} on bad input.
   */
  prefill(keys: Float32Array, values: Float32Array, queries?: Float32Array): void {
    const count = checkRows('keys', keys, this.keyDim);
    const valueRows = checkRows('values', values, this.valueDim);
    if (valueRows !== count) throw new DimensionMismatchError('values', values.length, count * this.valueDim);
    if (queries !== undefined) checkRows('queries', queries, this.keyDim);
    this.onPrefill(keys, values, count, this.seenCount, queries);
    this.seenCount += count;
  }

  /**
   * Answers a query with log-scaled kernel sums.
   * @param query - Query of length d.
   * @param out - Receives the sums.
   * @returns `out`.
   * @throws {@link EmptyCacheError} before the first token; {@link DimensionMismatchError} or
   *   {@link NonFiniteInputError} on bad input.
   */
  sums(query: Float32Array, out: KernelSums): KernelSums {
    checkVector('query', query, this.keyDim);
    if (out.n.length !== this.valueDim) throw new DimensionMismatchError('sums.n', out.n.length, this.valueDim);
    if (this.seenCount === 0) throw new EmptyCacheError(this.spec.policy);
    return this.onSums(query, out);
  }

  /**
   * Answers a query with the attention output.
   * @param query - Query of length d.
   * @param out - Receives N/Z (length s).
   * @returns `out`.
   * @throws {@link EmptyCacheError} before the first token; {@link DimensionMismatchError} or
   *   {@link NonFiniteInputError} on bad input.
   */
  attend(query: Float32Array, out: Float32Array): Float32Array {
    if (out.length !== this.valueDim) throw new DimensionMismatchError('output', out.length, this.valueDim);
    return sumsToOutput(this.sums(query, this.scratchSums), out);
  }

  /** Forgets every token. */
  reset(): void {
    this.seenCount = 0;
    this.onReset();
  }

  /** Stores one validated token at logical position `position`. */
  protected abstract onAppend(key: Float32Array, value: Float32Array, position: number): void;

  /** Answers a validated query on a non-empty cache. */
  protected abstract onSums(query: Float32Array, out: KernelSums): KernelSums;

  /** Clears the state. */
  protected abstract onReset(): void;

  /**
   * Stores validated rows; the default appends them one by one (queries unused).
   * @param keys - Row-major keys.
   * @param values - Row-major values.
   * @param count - Number of rows.
   * @param firstPosition - Logical position of the first row.
   * @param _queries - Observation-window queries, if given.
   */
  protected onPrefill(
    keys: Float32Array,
    values: Float32Array,
    count: number,
    firstPosition: number,
    _queries?: Float32Array,
  ): void {
    const d = this.keyDim;
    const s = this.valueDim;
    for (let i = 0; i < count; i++) {
      this.onAppend(keys.subarray(i * d, (i + 1) * d), values.subarray(i * s, (i + 1) * s), firstPosition + i);
    }
  }
}
