import type { KernelSums } from './sums.js';

/**
 * A memory budget: a number of token slots (a plain number or `{ tokens }`), or a ratio of the
 * tokens seen so far (`{ ratio }`, at least `min` slots, default 1).
 *
 * Budgets count *token-equivalents*: a summary that is not made of tokens (moments, sketches)
 * counts `ceil(bytes / (4·(d + s)))`, the number of fp32 key/value rows its bytes would hold.
 *
 * @example
 * ```ts
 * import { budgetCapacity, type Budget } from '@kv/core';
 * const budget: Budget = { ratio: 0.25, min: 16 };
 * budgetCapacity(budget, 1000); // 250 slots after 1000 tokens
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
    };

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
  /** Physical size in token-equivalents (slots held, or summary bytes / (4·(d+s)) rounded up). */
  readonly stored: number;
  /** Largest `stored` the budget allows at the current `seen` (Infinity when unbounded). */
  readonly capacity: number;
  /** Exact bytes of state held (the byte lengths of the typed arrays the cache keeps). */
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
  /** The typed arrays holding the cache's state; `bytes` is the sum of their byte lengths. */
  buffers(): readonly ArrayBufferView[];
  /**
   * Positions of the stored tokens, for policies that keep tokens (in slot order, a fresh copy;
   * not for hot paths). Summaries that keep no tokens leave it undefined.
   */
  positions?(): Int32Array;
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
}
