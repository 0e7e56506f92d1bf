import { budgetBytes, capacityRows } from './budget.js';
import type { ByteCost, CacheDescription, CacheState, HeadCache, PolicySpec } from './contract.js';
import { DimensionMismatchError, EmptyCacheError } from './errors.js';
import { StateReader, stateBytes } from './state.js';
import { createKernelSums, type KernelSums, sumsToOutput } from './sums.js';
import { checkFloat32Rows, checkFloat32Vector } from './validate.js';

/**
 * A convenient base for policies: validates every public call once (so a rejected call changes
 * nothing), counts tokens, resolves the budget through the policy's {@link ByteCost}, derives
 * `bytes` from `state()`, `attend` from `sums`, and wraps `state`/`loadState` with the token count.
 * Subclasses implement the `on*` hooks, which receive validated input only, and name their state
 * in `saveState`/`restoreState`.
 *
 * @example
 * ```ts
 * import { BaseHeadCache, SlotStore, type CacheState, type KernelSums, type StateReader } from '@kv/core';
 * class KeepAll extends BaseHeadCache {
 *   private store = new SlotStore(this.keyDim, this.valueDim);
 *   protected onAppend(k: Float32Array, v: Float32Array, pos: number) { this.store.push(k, 0, v, 0, pos, 0); }
 *   protected onSums(q: Float32Array, out: KernelSums) { return this.store.sums(q, this.tau, out); }
 *   protected onReset() { this.store.clear(); }
 *   protected saveState(): CacheState { return { scalars: {}, arrays: {}, parts: { store: this.store.state() } }; }
 *   protected restoreState(r: StateReader) { this.store.loadState(r.part('store')); }
 *   get stored() { return this.store.count; }
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

  /** Row capacity under the spec's budget at the current `seen`, through {@link BaseHeadCache.byteCost}. */
  get capacity(): number {
    return this.capacityAt(this.seenCount);
  }

  /**
   * Row capacity once `seen` tokens have been appended.
   * @param seen - Tokens seen.
   * @returns The rows the budget allows.
   */
  protected capacityAt(seen: number): number {
    return capacityRows(this.spec.budget, seen, this.byteCost(), this.keyDim, this.valueDim);
  }

  /**
   * The byte budget once `seen` tokens have been appended (Infinity without a budget).
   * @param seen - Tokens seen.
   * @returns Bytes allowed.
   */
  protected budgetBytesAt(seen: number): number {
    return budgetBytes(this.spec.budget, seen, this.keyDim, this.valueDim);
  }

  /**
   * What this policy holds: `fixed` bytes plus `perRow` per kept row. The default is a float32
   * key and value and an Int32 position per row; policies override it with what they store.
   * @returns The cost.
   */
  protected byteCost(): ByteCost {
    return { fixed: 0, perRow: 4 * (this.keyDim + this.valueDim) + 4 };
  }

  /** Bytes held: the byte lengths of the arrays of {@link BaseHeadCache.state}. */
  get bytes(): number {
    return stateBytes(this.state());
  }

  /** Physical size in token-equivalents. */
  abstract get stored(): number;

  /**
   * The state needed to continue exactly, with the token count added.
   * @returns The state.
   */
  state(): CacheState {
    const own = this.saveState();
    return { ...own, scalars: { ...own.scalars, seen: this.seenCount } };
  }

  /**
   * Loads a state of a cache created from the same spec; on failure the cache is reset.
   * @param state - The state.
   * @throws `SnapshotError` when it does not fit this cache.
   */
  loadState(state: CacheState): void {
    const reader = new StateReader(state, this.spec.policy);
    const seen = reader.integer('seen', 0, 2 ** 31 - 1);
    this.reset();
    try {
      this.restoreState(reader);
      this.seenCount = seen;
    } catch (e) {
      this.reset();
      throw e;
    }
  }

  /**
   * What the cache holds and chose: the policy's summary line and its stats, with `rows`, `bytes`
   * and `seen` always present.
   * @returns The description.
   */
  describe(): CacheDescription {
    const extra = this.describeStats();
    return {
      policy: this.spec.policy,
      summary: this.describeSummary(),
      stats: { seen: this.seenCount, rows: this.stored, bytes: this.bytes, ...extra },
      ...(this.describeParts ? { parts: this.describeParts() } : {}),
    };
  }

  /**
   * One line about what the cache keeps (default: the policy name and rows held).
   * @returns The line.
   */
  protected describeSummary(): string {
    return `${this.spec.policy}: ${this.stored} rows`;
  }

  /**
   * The policy's own figures for {@link BaseHeadCache.describe} (chosen sizes, fallbacks).
   * @returns Named figures.
   */
  protected describeStats(): Record<string, number | string | boolean> {
    return {};
  }

  /** Descriptions of the parts, for combinators. */
  protected describeParts?(): CacheDescription[];

  /** The policy's state, without `seen` (which the base adds). */
  protected abstract saveState(): CacheState;

  /**
   * Loads the policy's state into a freshly reset cache.
   * @param state - A reader of the state.
   */
  protected abstract restoreState(state: StateReader): void;

  /**
   * Appends one token after validating it.
   * @param key - Key of length d.
   * @param value - Value of length s.
   * @throws {@link DimensionMismatchError}, {@link NonFiniteInputError} or {@link InvalidInputError}
   *   (not a Float32Array) on bad input.
   */
  append(key: Float32Array, value: Float32Array): void {
    checkFloat32Vector('key', key, this.keyDim);
    checkFloat32Vector('value', value, this.valueDim);
    this.onAppend(key, value, this.seenCount);
    this.seenCount++;
  }

  /**
   * Appends many tokens after validating all of them.
   * @param keys - Row-major keys, count·d.
   * @param values - Row-major values, count·s.
   * @param queries - Optional observation-window queries, w·d.
   * @throws {@link DimensionMismatchError}, {@link NonFiniteInputError} or {@link InvalidInputError}
   *   on bad input.
   */
  prefill(keys: Float32Array, values: Float32Array, queries?: Float32Array): void {
    const count = checkFloat32Rows('keys', keys, this.keyDim);
    const valueRows = checkFloat32Rows('values', values, this.valueDim);
    if (valueRows !== count) throw new DimensionMismatchError('values', values.length, count * this.valueDim);
    if (queries !== undefined) checkFloat32Rows('queries', queries, this.keyDim);
    this.onPrefill(keys, values, count, this.seenCount, queries);
    this.seenCount += count;
  }

  /**
   * Answers a query with log-scaled kernel sums.
   * @param query - Query of length d.
   * @param out - Receives the sums.
   * @returns `out`.
   * @throws {@link EmptyCacheError} before the first token; {@link DimensionMismatchError},
   *   {@link NonFiniteInputError} or {@link InvalidInputError} on bad input.
   */
  sums(query: Float32Array, out: KernelSums): KernelSums {
    checkFloat32Vector('query', query, this.keyDim);
    if (out.n.length !== this.valueDim) throw new DimensionMismatchError('sums.n', out.n.length, this.valueDim);
    if (this.seenCount === 0) throw new EmptyCacheError(this.spec.policy);
    return this.onSums(query, out);
  }

  /**
   * Answers a query with the attention output; a cache whose budget holds no row yet answers 0.
   * @param query - Query of length d.
   * @param out - Receives N/Z (length s).
   * @returns `out`.
   * @throws {@link EmptyCacheError} before the first token; {@link DimensionMismatchError},
   *   {@link NonFiniteInputError} or {@link InvalidInputError} on bad input.
   */
  attend(query: Float32Array, out: Float32Array): Float32Array {
    checkFloat32Vector('output', out, this.valueDim, false);
    const sums = this.sums(query, this.scratchSums);
    if (sums.m === -Infinity) return out.fill(0);
    return sumsToOutput(sums, out);
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
