import type { KernelSums } from './sums.js';


/**
 * A memory budget. Token budgets count slots: a plain number or `{ tokens }`, or `{ ratio }` of the
 * tokens seen (at least `min` slots, default 1). Byte budgets count what the cache holds:
 * `{ bytes }` is a fixed number of bytes; `{ fraction }` is a fraction of the float32 bytes the
 * exact cache would hold for the tokens seen so far, `f · 4·(d + s) · seen`, never below
 * `minBytes` (default 0) and shifted by `offsetBytes` (default 0; combinators use it to hand a
 * part what the other parts leave).
 *
 * A policy fits itself into a byte budget through its {@link ByteCost}: it keeps
 * `floor((budget − fixed) / perRow)` rows, at the precision it stores them. A summary whose size
 * is chosen once (moments, tables) sizes itself to the smallest budget it will be given: the
 * `bytes`, or the `minBytes` of a fraction.
 *
 * @example
 * ```ts
 * import { budgetBytes, type Budget } from '@kv/core';
 * const eighth: Budget = { fraction: 1 / 8 };
 * budgetBytes(eighth, 1024, 64, 64); // 65536: 1/8 of 1024 float32 rows of 512 bytes
 * const fixed: Budget = { bytes: 1 << 20 }; // one MiB, whatever the stream length
 * ```
 */
export type Budget =
  | number
  | {
      /** Token slots. */
      readonly tokens: number;
    }
  | {
      /** Fraction of the tokens seen, in (0, 1]. */
      readonly ratio: number;
      /** Smallest capacity (default 1). */
      readonly min?: number;
    }
  | {
      /** Bytes the cache may hold. */
      readonly bytes: number;
    }
  | {
      /** Fraction of the float32 bytes of the tokens seen, in (0, 1]. */
      readonly fraction: number;
      /** The budget never goes below this many bytes (default 0). */
      readonly minBytes?: number;
      /** Bytes added to the fraction (default 0; may be negative). */
      readonly offsetBytes?: number;
    };

/**
 * What a policy holds, in bytes, as a function of the rows it keeps: `fixed + perRow · rows`.
 * The budget resolver turns a byte budget into rows with it, so no policy does its own budget
 * arithmetic.
 *
 * @example
 * ```ts
 * import type { ByteCost } from '@kv/core';
 * // float32 keys and values of d = s = 64 plus an Int32 position per row, nothing fixed
 * const cost: ByteCost = { fixed: 0, perRow: 4 * (64 + 64) + 4 };
 * ```
 */
export interface ByteCost {
  /** Bytes held whatever the number of rows (moments, tables, scales, rotation signs). */
  readonly fixed: number;
  /** Bytes per kept row (key, value, position, weight, score, at their precision); 0 for summaries. */
  readonly perRow: number;
}

/**
 * A scalar of a {@link CacheState}: JSON values, plus non-finite numbers (encoded by the snapshot
 * format) and short number lists (RNG states).
 *
 * @example
 * ```ts
 * import type { StateScalar } from '@kv/core';
 * const rngState: StateScalar = [1, 2, 3, 4];
 * ```
 */
export type StateScalar = number | string | boolean | null | readonly number[];

/**
 * The typed arrays a {@link CacheState} may hold.
 *
 * @example
 * ```ts
 * import type { StateArray } from '@kv/core';
 * const scores: StateArray = new Float32Array(16);
 * ```
 */
export type StateArray = Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

/**
 * Everything a cache needs to continue exactly: named scalars, named typed arrays holding only
 * live content, and the states of its parts (combinators, sub-stores). `bytes` of a cache is the
 * sum of the byte lengths of its state's arrays, so a snapshot is its bytes plus a small header.
 *
 * @example
 * ```ts
 * import { ExactCache, stateBytes } from '@kv/core';
 * const cache = new ExactCache({ policy: 'exact', keyDim: 2, valueDim: 2 });
 * cache.append(new Float32Array([1, 0]), new Float32Array([0, 1]));
 * stateBytes(cache.state()) === cache.bytes; // true
 * ```
 */
export interface CacheState {
  /** Counters, flags, RNG states. */
  readonly scalars: Readonly<Record<string, StateScalar>>;
  /** Live content (views are fine: the snapshot copies them). */
  readonly arrays: Readonly<Record<string, StateArray>>;
  /** States of sub-caches and stores, by name. */
  readonly parts?: Readonly<Record<string, CacheState>>;
}

/**
 * What a cache chose and how it is doing: a line for people and numbers for tools (`auto`,
 * reports). `stats` always has `rows` and `bytes`; policies add theirs (`precision`, `fallbacks`,
 * chosen sizes).
 *
 * @example
 * ```ts
 * import { ExactCache } from '@kv/core';
 * const cache = new ExactCache({ policy: 'exact', keyDim: 2, valueDim: 2 });
 * cache.describe().summary; // 'exact: every token in float32'
 * ```
 */
export interface CacheDescription {
  /** Registered policy name. */
  readonly policy: string;
  /** One line: what the cache keeps and how. */
  readonly summary: string;
  /** Named figures (`rows`, `bytes`, `fallbacks`, …). */
  readonly stats: Readonly<Record<string, number | string | boolean>>;
  /** Descriptions of the parts of a combinator. */
  readonly parts?: readonly CacheDescription[];
}

/**
 * A plain, serializable description of one per-head cache: which policy, its parameters, the
 * dimensions, the budget and the seed. Policies are created from specs by a {@link PolicyRegistry}.
 *
 * @example
 * ```ts
 * import type { PolicySpec } from '@kv/core';
 * const spec: PolicySpec = { policy: 'exact', keyDim: 64, valueDim: 64 };
 * ```
 */
export interface PolicySpec {
  /** Registered policy name, for example `"exact"` or `"sliding-window"`. */
  readonly policy: string;
  /** Key (and query) dimension d. */
  readonly keyDim: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /** Policy parameters (JSON values, or nested specs for combinators). */
  readonly params?: Readonly<Record<string, unknown>>;
  /** Memory budget; required by some policies, ignored by exact ones. */
  readonly budget?: Budget;
  /** Seed of every random choice the policy makes (default 0). */
  readonly seed?: number;
  /** Logit scale τ (default 1/√d). */
  readonly tau?: number;
}

/**
 * The per-head cache contract every policy implements.
 *
 * A stream is replayed causally: `append(k_t, v_t)`, then `attend(q_t)` (or `sums`). Answers are
 * log-scaled kernel sums, so partial answers over disjoint token sets merge exactly.
 * Query-aware policies (H2O, TOVA) may update their statistics when they answer.
 * Every method validates its input first and throws a {@link KvError} without changing any state.
 * A cache copies what it keeps, so callers may reuse their key, value and query buffers.
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy, type HeadCache } from '@kv/core';
 * const cache: HeadCache = new PolicyRegistry()
 *   .register(exactPolicy)
 *   .create({ policy: 'exact', keyDim: 2, valueDim: 2 });
 * cache.append(new Float32Array([1, 0]), new Float32Array([3, 4]));
 * cache.attend(new Float32Array([1, 0]), new Float32Array(2)); // [3, 4]: one token, weight 1
 * ```
 */
export interface HeadCache {
  /** The spec this cache was created from. */
  readonly spec: Readonly<PolicySpec>;
  /** Key dimension d. */
  readonly keyDim: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /** Logit scale τ. */
  readonly tau: number;
  /** Tokens appended so far (logical length; the next token's position). */
  readonly seen: number;
  /** Physical size in token-equivalents (rows held, or summary bytes / (4·(d+s)) rounded up). */
  readonly stored: number;
  /** Largest `stored` the budget allows at the current `seen` (Infinity when unbounded). */
  readonly capacity: number;
  /**
   * Bytes held: what the cache needs to answer and to continue (keys, values, codes, scales,
   * moments, tables, positions, weights, scores), that is the byte lengths of the arrays of
   * {@link HeadCache.state}. Allocation slack and fixed-size scratch are not counted. Under a
   * byte budget it is at most the budget after every `append`.
   */
  readonly bytes: number;
  /**
   * Appends one token.
   * @param key - Key of length d.
   * @param value - Value of length s.
   */
  append(key: Float32Array, value: Float32Array): void;
  /**
   * Appends `keys.length / d` tokens at once; query-aware prefill policies (SnapKV) also receive
   * the observation-window queries.
   * @param keys - Row-major keys, count·d.
   * @param values - Row-major values, count·s.
   * @param queries - Optional row-major observation queries, w·d.
   */
  prefill(keys: Float32Array, values: Float32Array, queries?: Float32Array): void;
  /**
   * Answers a query with log-scaled kernel sums.
   * @param query - Query of length d.
   * @param out - Receives the sums (value dimension s).
   * @returns `out`.
   */
  sums(query: Float32Array, out: KernelSums): KernelSums;
  /**
   * Answers a query with the attention output N/Z.
   * @param query - Query of length d.
   * @param out - Receives the output (length s).
   * @returns `out`.
   */
  attend(query: Float32Array, out: Float32Array): Float32Array;
  /** Forgets every token; the cache is then as if newly created. */
  reset(): void;
  /**
   * The state needed to continue exactly (for snapshots); `bytes` is the sum of its arrays' byte
   * lengths. Arrays may be views of live memory: read them before the next call that changes the cache.
   * @returns The state.
   */
  state(): CacheState;
  /**
   * Loads a state produced by `state()` of a cache created from the same spec. Meant for a fresh
   * cache (as `restore` does); on failure the cache is reset.
   * @param state - The state.
   * @throws `SnapshotError` when the state does not fit this cache.
   */
  loadState(state: CacheState): void;
  /**
   * What the cache chose (rows, precision, sizes, fallbacks so far).
   * @returns The description.
   */
  describe(): CacheDescription;
  /**
   * Positions of the stored tokens, for policies that keep tokens (in slot order, a fresh copy;
   * not for hot paths). Summaries that keep no tokens leave it undefined.
   */
  positions?(): Int32Array;
  /**
   * The kept rows decoded to float32, whatever precision they are stored at, in the order of
   * {@link HeadCache.positions}: rows [start, end) go to `keys[(i − start)·d …]` and
   * `values[(i − start)·s …]`, so a reader can hand them to a model as its past, or read only the
   * rows whose position changed since it last looked. (A row's decoded content is fixed while it
   * is kept, except where a store re-encodes its newest rows: a float32 residual is quantized
   * once its group fills.) Log-weights of weighted rows are not included (see
   * {@link PolicyTraits.weighted}). Token-keeping policies implement it; summaries leave it
   * undefined.
   * @param keys - Receives (end − start)·d floats.
   * @param values - Receives (end − start)·s floats.
   * @param start - First row (default 0).
   * @param end - One past the last row (default: every kept row).
   * @returns The number of rows kept (`keptRows(empty, empty, 0, 0)` counts them).
   * @throws `InvalidInputError` for a range outside the kept rows or destinations too short
   *   (nothing is written); `UnsupportedError` when a part of a combinator keeps no rows.
   */
  keptRows?(keys: Float32Array, values: Float32Array, start?: number, end?: number): number;
}

/**
 * What a policy's decisions read and what its cache holds, for tools that run a policy outside
 * kv's own decoder (a transformers.js past, an ONNX graph, a server that only sees keys and
 * values).
 *
 * @example
 * ```ts
 * import type { PolicyTraits } from '@kv/core';
 * const window: PolicyTraits = { inputs: 'keys', weighted: false, summary: false };
 * const h2o: PolicyTraits = { inputs: 'queries', weighted: false, summary: false };
 * ```
 */
export interface PolicyTraits {
  /**
   * What choosing the kept tokens reads: `'keys'` — keys, values and positions only (a window,
   * StreamingLLM, K-norm), so any decoder that hands it keys and values can run it; `'queries'` —
   * the attention of queries as well (H2O, TOVA, SnapKV).
   */
  readonly inputs: 'keys' | 'queries';
  /**
   * Kept rows carry log-weights (logit biases: a row of weight w counts as w·exp(q·k)), as
   * coresets and importance samples do; a decoder that takes a 0/1 attention mask cannot apply
   * them.
   */
  readonly weighted: boolean;
  /**
   * The cache answers from a summary (moments, sketches, features) instead of, or besides, the
   * rows it keeps, so its rows alone are not its past.
   */
  readonly summary: boolean;
}

/**
 * Describes one policy parameter, for `kv-eval list`, validation and docs.
 *
 * @example
 * ```ts
 * import type { ParamInfo } from '@kv/core';
 * const window: ParamInfo = { name: 'window', type: 'integer', default: 32, description: 'Recent tokens kept.' };
 * ```
 */
export interface ParamInfo {
  /** Parameter name as used in `spec.params`. */
  readonly name: string;
  /** JSON type of the value (`"spec"` is a nested {@link PolicySpec} without dimensions). */
  readonly type: 'integer' | 'number' | 'boolean' | 'string' | 'spec' | 'spec[]' | 'object';
  /** Default value when omitted (undefined: required or derived). */
  readonly default?: unknown;
  /** One-line description. */
  readonly description: string;
}

/**
 * A policy as the registry knows it: its name, a summary, its parameters and a factory.
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * const registry = new PolicyRegistry().register(exactPolicy);
 * ```
 */
export interface PolicyDefinition {
  /** Unique registered name. */
  readonly name: string;
  /** One-line description with the guarantee, if any. */
  readonly summary: string;
  /** Accepted parameters; unknown parameters are rejected by the registry. */
  readonly params: readonly ParamInfo[];
  /** Whether the policy needs a budget (`required`), may use one (`optional`) or has none (`none`). */
  readonly budget: 'required' | 'optional' | 'none';
  /**
   * What the policy's decisions read and what its cache holds. Combinators whose traits follow
   * their parts (tiered) leave it undefined; tools then look at the parts.
   */
  readonly traits?: PolicyTraits;
  /**
   * Builds a cache from a validated spec.
   * @param spec - The spec (dimensions and budget already validated).
   * @param registry - The registry, for combinators that build sub-policies.
   */
  create(spec: PolicySpec, registry: PolicyRegistryLike): HeadCache;
}

/**
 * What a policy factory may ask of the registry that created it. Combinators build their
 * sub-policies through it, so they work with whatever registry the caller assembled.
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy, type PolicyRegistryLike } from '@kv/core';
 * const registry: PolicyRegistryLike = new PolicyRegistry().register(exactPolicy);
 * if (registry.has('exact')) registry.create({ policy: 'exact', keyDim: 8, valueDim: 8 });
 * ```
 */
export interface PolicyRegistryLike {
  /** Creates a cache from a spec. */
  create(spec: PolicySpec): HeadCache;
  /** Whether a policy of this name is registered. */
  has(name: string): boolean;
  /** The definition of a registered policy (its traits, its parameters). */
  get?(name: string): PolicyDefinition;
}
