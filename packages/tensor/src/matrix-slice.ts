import {
  type CacheDescription,
  type CacheState,
  checkFloat32Rows,
  DimensionMismatchError,
  type HeadCache,
  type KernelSums,
  type PolicyDefinition,
  type PolicySpec,
} from '@kv/core';
import type { TensorCacheDefinition, TensorHeadCache } from './contract.js';

/**
 * Ordinary (matrix) attention run through a tensor cache, as a core `HeadCache`: the slice
 * k2 = 1, v2 = 1 of tensor attention. Every pair (i, j) then has logit τ<q, k1_i> and value v1_i,
 * so each token is counted t times; the t-fold multiplicity is removed by the log bias −ln t, and
 * the sums equal softmax attention's N and Z exactly. This lets core's own conformance suite (and
 * its exactness and merge checks) run on the tensor caches.
 *
 * @remarks Exact for exact tensor caches; for the Taylor cache it is the Taylor approximation of
 *   ordinary attention (with k2 = 1 the certified ρ uses ‖1‖₂ = √d or ‖1‖∞ = 1).
 * @example
 * ```ts
 * import { FourCache, MatrixSliceCache } from '@kv/tensor';
 * const spec = { policy: 'tensor-four-cache', keyDim: 2, valueDim: 1 };
 * const cache = new MatrixSliceCache(new FourCache(spec));
 * cache.append(new Float32Array([1, 0]), new Float32Array([5]));
 * cache.attend(new Float32Array([1, 0]), new Float32Array(1)); // [5]
 * ```
 */
export class MatrixSliceCache implements HeadCache {
  /** The tensor cache underneath. */
  readonly inner: TensorHeadCache;
  private readonly onesKey: Float32Array;
  private readonly onesValue: Float32Array;

  /** @param inner - A fresh tensor cache; this view owns it from now on. */
  constructor(inner: TensorHeadCache) {
    this.inner = inner;
    this.onesKey = new Float32Array(inner.keyDim).fill(1);
    this.onesValue = new Float32Array(inner.valueDim).fill(1);
  }

  /** The inner cache's spec. */
  get spec(): Readonly<PolicySpec> {
    return this.inner.spec;
  }
  /** Key dimension d. */
  get keyDim(): number {
    return this.inner.keyDim;
  }
  /** Value dimension s. */
  get valueDim(): number {
    return this.inner.valueDim;
  }
  /** Logit scale τ. */
  get tau(): number {
    return this.inner.tau;
  }
  /** Tokens appended. */
  get seen(): number {
    return this.inner.seen;
  }
  /** The inner cache's `stored`. */
  get stored(): number {
    return this.inner.stored;
  }
  /** The inner cache's `capacity`. */
  get capacity(): number {
    return this.inner.capacity;
  }
  /** The inner cache's `bytes`. */
  get bytes(): number {
    return this.inner.bytes;
  }

  /**
   * Appends (k, v) as the tensor token (k, 1, v, 1).
   * @param key - Key of length d.
   * @param value - Value of length s.
   * @throws `DimensionMismatchError`, `NonFiniteInputError` or `InvalidInputError` on bad input.
   */
  append(key: Float32Array, value: Float32Array): void {
    this.inner.append(key, this.onesKey, value, this.onesValue);
  }

  /**
   * Appends many tokens (all validated first); observation queries are validated and unused.
   * @param keys - Row-major keys, count·d.
   * @param values - Row-major values, count·s.
   * @param queries - Optional observation queries, w·d.
   * @throws `DimensionMismatchError`, `NonFiniteInputError` or `InvalidInputError` on bad input.
   */
  prefill(keys: Float32Array, values: Float32Array, queries?: Float32Array): void {
    const d = this.keyDim;
    const s = this.valueDim;
    const count = checkFloat32Rows('keys', keys, d);
    if (checkFloat32Rows('values', values, s) !== count) throw new DimensionMismatchError('values', values.length, count * s);
    if (queries !== undefined) checkFloat32Rows('queries', queries, d);
    for (let i = 0; i < count; i++) {
      this.append(keys.subarray(i * d, (i + 1) * d), values.subarray(i * s, (i + 1) * s));
    }
  }

  /**
   * Softmax attention sums of the slice: the tensor sums with the t-fold multiplicity removed.
   * @param query - Query of length d.
   * @param out - Receives the sums.
   * @returns `out`.
   * @throws `EmptyCacheError` before the first token; typed errors on bad input.
   */
  sums(query: Float32Array, out: KernelSums): KernelSums {
    this.inner.sums(query, out);
    out.m -= Math.log(this.inner.seen);
    return out;
  }

  /**
   * Attention output N/Z.
   * @param query - Query of length d.
   * @param out - Receives the output (length s).
   * @returns `out`.
   * @throws `EmptyCacheError` before the first token; typed errors on bad input.
   */
  attend(query: Float32Array, out: Float32Array): Float32Array {
    // N/Z is unchanged by the multiplicity, so the inner answer is already the slice's answer.
    return this.inner.attend(query, out);
  }

  /** Forgets every token. */
  reset(): void {
    this.inner.reset();
  }

  /**
   * The inner cache's state.
   * @returns The state.
   */
  state(): CacheState {
    return this.inner.state();
  }

  /**
   * Loads a state of the inner cache.
   * @param state - The state.
   * @throws `SnapshotError` when it does not fit.
   */
  loadState(state: CacheState): void {
    this.inner.loadState(state);
  }

  /**
   * The inner cache's description, under this policy's name.
   * @returns The description.
   */
  describe(): CacheDescription {
    const inner = this.inner.describe();
    return { ...inner, summary: `matrix slice (k2 = v2 = 1) of ${inner.summary}` };
  }
}

/**
 * A core `PolicyDefinition` whose caches are {@link MatrixSliceCache} views of a tensor layout, so
 * the layout can be registered in core's `PolicyRegistry` and run through core's conformance suite.
 *
 * @param definition - A tensor cache definition.
 * @returns The policy definition, named `"<name>/matrix-slice"`.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { fourCacheDefinition, matrixSlicePolicy } from '@kv/tensor';
 * const registry = new PolicyRegistry().register(matrixSlicePolicy(fourCacheDefinition));
 * registry.create({ policy: 'tensor-four-cache/matrix-slice', keyDim: 8, valueDim: 8 });
 * ```
 */
export function matrixSlicePolicy(definition: TensorCacheDefinition): PolicyDefinition {
  const name = `${definition.name}/matrix-slice`;
  return {
    name,
    summary: `Ordinary attention as the k2 = v2 = 1 slice of ${definition.name}.`,
    params: definition.params,
    budget: definition.budget,
    create: (spec) => new MatrixSliceCache(definition.create({ ...spec, policy: name })),
  };
}
