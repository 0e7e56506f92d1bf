import type { CacheDescription, CacheState, KernelSums, ParamInfo, PolicySpec } from '@kv/core';

/**
 * The per-head contract of a tensor-attention cache, mirroring core's `HeadCache`.
 *
 * A token carries two keys and two values, (k1, k2) in R^d and (v1, v2) in R^s. A query q in R^d
 * attends to every **ordered pair** (i, j) of the tokens seen so far, i and j both ranging over
 * 0..t−1 (so t² pairs, including i = j, as in Alman–Song's A = exp(Q·(K1 ⊘ K2)ᵀ·τ) of width n²):
 *
 *     out(q) = Σ_{i,j} e^{<q, k1_i ∘ k2_j>·τ} (v1_i ∘ v2_j) / Σ_{i,j} e^{<q, k1_i ∘ k2_j>·τ}
 *
 * with ∘ the Hadamard product. Answers are core's log-scaled {@link KernelSums} `(m, z, n)`, so any
 * logit size is safe. Every method validates its input first and throws a `KvError` without
 * changing any state; a cache copies what it keeps, so callers may reuse their buffers.
 *
 * @remarks Appending token t adds the 2t+1 pairs (t, j), (i, t), (t, t) with i, j < t (0-based),
 * that is 2t'−1 pairs for the 1-based index t' = t+1.
 * @see Alman, Song. How to capture higher-order correlations? Generalizing matrix softmax attention
 *   to Kronecker computation, arXiv 2310.04064.
 * @see Chen, Li, Liang, Shi, Song, Tian. Limits of KV cache compression for tensor attention based
 *   autoregressive transformers, arXiv 2503.11108.
 * @example
 * ```ts
 * import { createTensorCache, type TensorHeadCache, tensorCaches } from '@kv/tensor';
 * const cache: TensorHeadCache = createTensorCache({ policy: 'tensor-four-cache', keyDim: 2, valueDim: 1 }, tensorCaches);
 * const k = new Float32Array([1, 0]);
 * cache.append(k, k, new Float32Array([2]), new Float32Array([3]));
 * cache.attend(k, new Float32Array(1)); // [6]: one pair, v1 ∘ v2 = 2·3
 * cache.bytes; // 24 = 8·(2+1) bytes: one token's k1, k2, v1, v2
 * ```
 */
export interface TensorHeadCache {
  /** The spec this cache was created from (`keyDim` = d, `valueDim` = s). */
  readonly spec: Readonly<PolicySpec>;
  /** Key (and query) dimension d. */
  readonly keyDim: number;
  /** Value dimension s (of v1, v2 and the output). */
  readonly valueDim: number;
  /** Logit scale τ. */
  readonly tau: number;
  /** Tokens appended so far. */
  readonly seen: number;
  /**
   * Physical size in tensor-token-equivalents: tokens held, or `ceil(bytes / (8·(d+s)))` for
   * layouts that are not one row per token (one tensor token is k1, k2, v1, v2 in fp32).
   */
  readonly stored: number;
  /**
   * Largest `stored` the budget allows at the current `seen` (Infinity when unbounded). Byte budgets
   * count float32 tensor tokens: `{ fraction: f }` is f·8·(d+s) bytes per token seen.
   */
  readonly capacity: number;
  /**
   * Bytes held: the byte lengths of the arrays of {@link TensorHeadCache.state} (allocation slack and
   * query scratch are not counted). Under a byte budget it is at most the budget after every append.
   */
  readonly bytes: number;
  /**
   * Appends one token.
   * @param key1 - First key k1, length d.
   * @param key2 - Second key k2, length d.
   * @param value1 - First value v1, length s.
   * @param value2 - Second value v2, length s.
   */
  append(key1: Float32Array, key2: Float32Array, value1: Float32Array, value2: Float32Array): void;
  /**
   * Appends `keys1.length / d` tokens at once (all rows are validated before any is stored).
   * @param keys1 - Row-major first keys, count·d.
   * @param keys2 - Row-major second keys, count·d.
   * @param values1 - Row-major first values, count·s.
   * @param values2 - Row-major second values, count·s.
   */
  prefill(keys1: Float32Array, keys2: Float32Array, values1: Float32Array, values2: Float32Array): void;
  /**
   * Answers a query with log-scaled kernel sums over all pairs.
   * @param query - Query of length d.
   * @param out - Receives the sums (value dimension s).
   * @returns `out`.
   */
  sums(query: Float32Array, out: KernelSums): KernelSums;
  /**
   * Answers a query with the output N/Z.
   * @param query - Query of length d.
   * @param out - Receives the output (length s).
   * @returns `out`.
   */
  attend(query: Float32Array, out: Float32Array): Float32Array;
  /** Forgets every token; the cache is then as if newly created. */
  reset(): void;
  /**
   * The state needed to continue exactly (arrays may be views of live memory); `bytes` is the sum of
   * its arrays' byte lengths.
   * @returns The state.
   */
  state(): CacheState;
  /**
   * Loads a state produced by `state()` of a cache created from the same spec; on failure the cache
   * is reset.
   * @param state - The state.
   * @throws `SnapshotError` when the state does not fit this cache.
   */
  loadState(state: CacheState): void;
  /**
   * What the cache holds and chose (degree, fallbacks so far).
   * @returns The description.
   */
  describe(): CacheDescription;
}

/**
 * A tensor cache layout as a list entry: name, summary, parameters and factory. The list
 * {@link tensorCaches} plays the role of core's policy registry for tensor caches.
 *
 * @example
 * ```ts
 * import { createTensorCache, tensorCaches } from '@kv/tensor';
 * const cache = createTensorCache({ policy: 'tensor-four-cache', keyDim: 16, valueDim: 16 }, tensorCaches);
 * ```
 */
export interface TensorCacheDefinition {
  /** Unique name, used as `spec.policy`. */
  readonly name: string;
  /** One-line description with the guarantee and the memory formula. */
  readonly summary: string;
  /** Accepted parameters; unknown parameters are rejected by {@link createTensorCache}. */
  readonly params: readonly ParamInfo[];
  /** Whether the layout needs a budget (`required`), may use one (`optional`) or has none (`none`). */
  readonly budget: 'required' | 'optional' | 'none';
  /**
   * Builds a cache from a validated spec.
   * @param spec - The spec (dimensions, τ, seed and budget already validated).
   * @returns A new cache.
   */
  create(spec: PolicySpec): TensorHeadCache;
}
