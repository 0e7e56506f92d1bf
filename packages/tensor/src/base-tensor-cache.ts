import {
  type ByteCost,
  type CacheDescription,
  type CacheState,
  capacityRows,
  checkFloat32Rows,
  checkFloat32Vector,
  createKernelSums,
  DimensionMismatchError,
  EmptyCacheError,
  type KernelSums,
  type PolicySpec,
  StateReader,
  stateBytes,
  sumsToOutput,
} from '@kv/core';
import type { TensorHeadCache } from './contract.js';

/**
 * A base for tensor caches, the tensor twin of core's `BaseHeadCache`: validates every public call
 * once with core's `checkFloat32Vector`/`checkFloat32Rows` (so a rejected call changes nothing),
 * counts tokens, resolves the budget through the layout's {@link ByteCost} (a tensor token is two
 * float32 key/value rows, so budgets are resolved at dimensions (2d, 2s)), derives `bytes` from
 * `state()` and `attend` from `sums`. Subclasses implement the `on*` hooks, which receive
 * validated input only, and name their state in `saveState`/`restoreState`.
 *
 * @example
 * ```ts
 * import { BaseTensorCache } from '@kv/tensor';
 * // class MyLayout extends BaseTensorCache { onAppend(...) {...} onSums(...) {...} onReset() {...} saveState() {...} ... }
 * ```
 */
export abstract class BaseTensorCache implements TensorHeadCache {
  /** The spec this cache was created from. */
  readonly spec: Readonly<PolicySpec>;
  /** Key dimension d. */
  readonly keyDim: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /** Logit scale τ (default 1/√d). */
  readonly tau: number;
  private seenCount = 0;
  private readonly scratchSums: KernelSums;

  /** @param spec - A spec whose dimensions, τ and budget have been validated. */
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

  /** Capacity under the spec's budget at the current `seen` (Infinity without a budget). */
  get capacity(): number {
    return capacityRows(this.spec.budget, this.seenCount, this.byteCost(), 2 * this.keyDim, 2 * this.valueDim);
  }

  /**
   * What the layout holds: `fixed` bytes plus `perRow` per tensor token kept. The default is the
   * four float32 rows k1, k2, v1, v2.
   * @returns The cost.
   */
  protected byteCost(): ByteCost {
    return { fixed: 0, perRow: this.tokenBytes };
  }

  /** Bytes held: the byte lengths of the arrays of {@link BaseTensorCache.state}. */
  get bytes(): number {
    return stateBytes(this.state());
  }

  /** Bytes of one tensor token (k1, k2, v1, v2 in fp32): the unit of `stored`. */
  get tokenBytes(): number {
    return 8 * (this.keyDim + this.valueDim);
  }

  /** Physical size in tensor-token-equivalents. */
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
   * What the cache holds: the layout's line and figures, with `seen`, `rows` and `bytes`.
   * @returns The description.
   */
  describe(): CacheDescription {
    return {
      policy: this.spec.policy,
      summary: this.describeSummary(),
      stats: { seen: this.seenCount, rows: this.stored, bytes: this.bytes, ...this.describeStats() },
    };
  }

  /**
   * One line about what the cache keeps.
   * @returns The line.
   */
  protected describeSummary(): string {
    return `${this.spec.policy}: ${this.stored} tensor tokens`;
  }

  /**
   * The layout's own figures for {@link BaseTensorCache.describe}.
   * @returns Named figures.
   */
  protected describeStats(): Record<string, number | string | boolean> {
    return {};
  }

  /** The layout's state, without `seen`. */
  protected abstract saveState(): CacheState;

  /**
   * Loads the layout's state into a freshly reset cache.
   * @param state - A reader of the state.
   */
  protected abstract restoreState(state: StateReader): void;

  /**
   * Appends one token after validating all four vectors.
   * @param key1 - First key, length d.
   * @param key2 - Second key, length d.
   * @param value1 - First value, length s.
   * @param value2 - Second value, length s.
   * @throws `DimensionMismatchError`, `NonFiniteInputError` or `InvalidInputError` (not a Float32Array) on bad input.
   */
  append(key1: Float32Array, key2: Float32Array, value1: Float32Array, value2: Float32Array): void {
    checkFloat32Vector('key1', key1, this.keyDim);
    checkFloat32Vector('key2', key2, this.keyDim);
    checkFloat32Vector('value1', value1, this.valueDim);
    checkFloat32Vector('value2', value2, this.valueDim);
    this.onAppend(key1, key2, value1, value2);
    this.seenCount++;
  }

  /**
   * Appends many tokens after validating all of them.
   * @param keys1 - Row-major first keys, count·d.
   * @param keys2 - Row-major second keys, count·d.
   * @param values1 - Row-major first values, count·s.
   * @param values2 - Row-major second values, count·s.
   * @throws `DimensionMismatchError` when the blocks are ragged or of different
   *   counts; `NonFiniteInputError` on NaN or ±Infinity; `InvalidInputError` when not Float32Arrays.
   */
  prefill(keys1: Float32Array, keys2: Float32Array, values1: Float32Array, values2: Float32Array): void {
    const d = this.keyDim;
    const s = this.valueDim;
    const count = checkFloat32Rows('keys1', keys1, d);
    if (checkFloat32Rows('keys2', keys2, d) !== count) throw new DimensionMismatchError('keys2', keys2.length, count * d);
    if (checkFloat32Rows('values1', values1, s) !== count) throw new DimensionMismatchError('values1', values1.length, count * s);
    if (checkFloat32Rows('values2', values2, s) !== count) throw new DimensionMismatchError('values2', values2.length, count * s);
    for (let i = 0; i < count; i++) {
      this.onAppend(
        keys1.subarray(i * d, (i + 1) * d),
        keys2.subarray(i * d, (i + 1) * d),
        values1.subarray(i * s, (i + 1) * s),
        values2.subarray(i * s, (i + 1) * s),
      );
      this.seenCount++;
    }
  }

  /**
   * Answers a query with log-scaled kernel sums over all ordered pairs.
   * @param query - Query of length d.
   * @param out - Receives the sums.
   * @returns `out`.
   * @throws `EmptyCacheError` before the first token;
   *   `DimensionMismatchError`, `NonFiniteInputError` or `InvalidInputError` on bad input.
   */
  sums(query: Float32Array, out: KernelSums): KernelSums {
    checkFloat32Vector('query', query, this.keyDim);
    if (out.n.length !== this.valueDim) throw new DimensionMismatchError('sums.n', out.n.length, this.valueDim);
    if (this.seenCount === 0) throw new EmptyCacheError(this.spec.policy);
    return this.onSums(query, out);
  }

  /**
   * Answers a query with the output N/Z.
   * @param query - Query of length d.
   * @param out - Receives N/Z (length s).
   * @returns `out`.
   * @throws `EmptyCacheError` before the first token;
   *   `DimensionMismatchError`, `NonFiniteInputError` or `InvalidInputError` on bad input.
   */
  attend(query: Float32Array, out: Float32Array): Float32Array {
    checkFloat32Vector('output', out, this.valueDim, false);
    return sumsToOutput(this.sums(query, this.scratchSums), out);
  }

  /** Forgets every token. */
  reset(): void {
    this.seenCount = 0;
    this.onReset();
  }

  /**
   * Stores one validated token.
   * @param key1 - First key.
   * @param key2 - Second key.
   * @param value1 - First value.
   * @param value2 - Second value.
   */
  protected abstract onAppend(key1: Float32Array, key2: Float32Array, value1: Float32Array, value2: Float32Array): void;

  /**
   * Answers a validated query on a non-empty cache.
   * @param query - Query.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  protected abstract onSums(query: Float32Array, out: KernelSums): KernelSums;

  /** Clears the state. */
  protected abstract onReset(): void;
}
