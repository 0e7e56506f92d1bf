import {
  type CacheState,
  choiceParam,
  clearSums,
  createKernelSums,
  gemv,
  type KernelSums,
  mergeSums,
  type PolicySpec,
  type StateReader,
  sumsFromLogits,
} from '@kv/core';
import { BaseTensorCache } from './base-tensor-cache.js';
import type { TensorCacheDefinition } from './contract.js';
import { INITIAL_TOKEN_ROWS } from './memory.js';

/**
 * Pair logits computed per block, so query scratch is fixed whatever n is.
 * @example
 * ```ts
 * import { PAIR_BLOCK } from '@kv/tensor';
 * // Query scratch of a materialized four-cache, in bytes, for d = s = 16 (not counted in `bytes`):
 * const scratch = 8 * PAIR_BLOCK + 4 * PAIR_BLOCK * (16 + 16); // 34816
 * ```
 */
export const PAIR_BLOCK = 256;

/**
 * How the four-cache recomputes the pair terms of a query:
 * - `factorized` uses <q, k1_i ∘ k2_j> = <q ∘ k1_i, k2_j> and Σ_j w_ij (v1_i ∘ v2_j) = v1_i ∘ Σ_j w_ij v2_j,
 *   so no pair product is ever formed;
 * - `materialized` forms the pair rows k1_i ∘ k2_j and v1_i ∘ v2_j block by block (what a two-cache
 *   stores) and then runs the two-cache's GEMV on them.
 *
 * @example
 * ```ts
 * import { FourCache, type PairMode } from '@kv/tensor';
 * const pairs: PairMode = 'materialized';
 * new FourCache({ policy: 'tensor-four-cache', keyDim: 4, valueDim: 4, params: { pairs } }).pairMode; // 'materialized'
 * ```
 */
export type PairMode = 'factorized' | 'materialized';

/**
 * The **four-cache** (arXiv 2503.11108): stores K1, K2, V1, V2 (Θ(nd) memory: `bytes` is exactly
 * `8·(d+s)·n`, see {@link fourCacheBytes}) and recomputes all n² pair terms at every
 * query (O(n²(d+s)) time), with no approximation.
 *
 * @remarks Exact: equals {@link tensorReferenceSums} up to floating-point rounding (Float64
 *   accumulation over fp32 storage). Logits of any size are safe (per-block log-sum-exp merged with
 *   core's `mergeSums`). Append is O(d+s) amortized; storage grows by doubling.
 * @see Chen, Li, Liang, Shi, Song, Tian, arXiv 2503.11108 (four-cache vs two-cache).
 * @example
 * ```ts
 * import { FourCache } from '@kv/tensor';
 * const cache = new FourCache({ policy: 'tensor-four-cache', keyDim: 2, valueDim: 1 });
 * const k = new Float32Array([1, 0]);
 * cache.append(k, k, new Float32Array([2]), new Float32Array([3]));
 * cache.attend(k, new Float32Array(1)); // [6]
 * ```
 */
export class FourCache extends BaseTensorCache {
  /** How pair terms are recomputed per query. */
  readonly pairMode: PairMode;
  private keys1: Float32Array;
  private keys2: Float32Array;
  private values1: Float32Array;
  private values2: Float32Array;
  private count = 0;
  private readonly scaledQuery: Float64Array;
  private readonly logits = new Float64Array(PAIR_BLOCK);
  private readonly partial: KernelSums;
  private readonly pairKeys: Float32Array;
  private readonly pairValues: Float32Array;

  /**
   * @param spec - The spec; `params.pairs` is `'factorized'` (default) or `'materialized'`.
   * @throws `InvalidParamsError` on another `pairs`.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    this.pairMode = choiceParam(spec.params, 'pairs', ['factorized', 'materialized'] as const, 'factorized');
    const d = this.keyDim;
    const s = this.valueDim;
    this.keys1 = new Float32Array(INITIAL_TOKEN_ROWS * d);
    this.keys2 = new Float32Array(INITIAL_TOKEN_ROWS * d);
    this.values1 = new Float32Array(INITIAL_TOKEN_ROWS * s);
    this.values2 = new Float32Array(INITIAL_TOKEN_ROWS * s);
    this.scaledQuery = new Float64Array(d);
    this.partial = createKernelSums(s);
    const block = this.pairMode === 'materialized' ? PAIR_BLOCK : 0;
    this.pairKeys = new Float32Array(block * d);
    this.pairValues = new Float32Array(block * s);
  }

  /** Tokens held (every token seen). */
  get stored(): number {
    return this.count;
  }

  /** The four-cache keeps everything: unbounded. */
  override get capacity(): number {
    return Infinity;
  }

  /** The live rows of K1, K2, V1, V2 (growth slack and query scratch are not state). */
  protected saveState(): CacheState {
    const n = this.count;
    const d = this.keyDim;
    const s = this.valueDim;
    return {
      scalars: { count: n },
      arrays: {
        keys1: this.keys1.subarray(0, n * d),
        keys2: this.keys2.subarray(0, n * d),
        values1: this.values1.subarray(0, n * s),
        values2: this.values2.subarray(0, n * s),
      },
    };
  }

  protected restoreState(r: StateReader): void {
    const n = r.integer('count', 0, 2 ** 31 - 1);
    const d = this.keyDim;
    const s = this.valueDim;
    const k1 = r.array('keys1', Float32Array, n * d);
    const k2 = r.array('keys2', Float32Array, n * d);
    const v1 = r.array('values1', Float32Array, n * s);
    const v2 = r.array('values2', Float32Array, n * s);
    let rows = INITIAL_TOKEN_ROWS;
    while (rows < n) rows *= 2;
    this.grow(rows);
    this.keys1.set(k1);
    this.keys2.set(k2);
    this.values1.set(v1);
    this.values2.set(v2);
    this.count = n;
  }

  protected override describeSummary(): string {
    return `tensor-four-cache: ${this.count} tokens (K1, K2, V1, V2 in float32), ${this.pairMode} pairs`;
  }

  protected onAppend(key1: Float32Array, key2: Float32Array, value1: Float32Array, value2: Float32Array): void {
    const d = this.keyDim;
    const s = this.valueDim;
    if ((this.count + 1) * d > this.keys1.length) this.grow(2 * (this.keys1.length / d));
    this.keys1.set(key1, this.count * d);
    this.keys2.set(key2, this.count * d);
    this.values1.set(value1, this.count * s);
    this.values2.set(value2, this.count * s);
    this.count++;
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    clearSums(out);
    const d = this.keyDim;
    const s = this.valueDim;
    const t = this.count;
    const tau = this.tau;
    const a = this.scaledQuery;
    const partial = this.partial;
    const materialized = this.pairMode === 'materialized';
    for (let i = 0; i < t; i++) {
      const ko = i * d;
      const vo = i * s;
      if (!materialized) for (let c = 0; c < d; c++) a[c] = tau * query[c]! * this.keys1[ko + c]!;
      for (let start = 0; start < t; start += PAIR_BLOCK) {
        const len = Math.min(PAIR_BLOCK, t - start);
        if (materialized) {
          this.formPairs(i, start, len);
          gemv('N', len, d, tau, this.pairKeys, d, 1, 0, query, 1, 0, 0, this.logits, 1, 0);
          sumsFromLogits(len, this.logits, 0, this.pairValues, s, 0, partial);
        } else {
          gemv('N', len, d, 1, this.keys2, d, 1, start * d, a, 1, 0, 0, this.logits, 1, 0);
          sumsFromLogits(len, this.logits, 0, this.values2, s, start * s, partial);
          const pn = partial.n;
          for (let c = 0; c < s; c++) pn[c] *= this.values1[vo + c]!;
        }
        mergeSums(out, partial);
      }
    }
    return out;
  }

  protected onReset(): void {
    this.count = 0;
    if (this.keys1.length !== INITIAL_TOKEN_ROWS * this.keyDim) this.grow(INITIAL_TOKEN_ROWS);
  }

  private formPairs(i: number, start: number, len: number): void {
    const d = this.keyDim;
    const s = this.valueDim;
    const pk = this.pairKeys;
    const pv = this.pairValues;
    for (let r = 0; r < len; r++) {
      const j = start + r;
      for (let c = 0; c < d; c++) pk[r * d + c] = this.keys1[i * d + c]! * this.keys2[j * d + c]!;
      for (let c = 0; c < s; c++) pv[r * s + c] = this.values1[i * s + c]! * this.values2[j * s + c]!;
    }
  }

  /** Reallocates to `rows` token rows, keeping the live prefix (growth by doubling, or reset). */
  private grow(rows: number): void {
    const d = this.keyDim;
    const s = this.valueDim;
    const resize = (a: Float32Array, width: number): Float32Array => {
      const b = new Float32Array(rows * width);
      b.set(a.subarray(0, this.count * width));
      return b;
    };
    this.keys1 = resize(this.keys1, d);
    this.keys2 = resize(this.keys2, d);
    this.values1 = resize(this.values1, s);
    this.values2 = resize(this.values2, s);
  }
}

/**
 * List entry of {@link FourCache} (`"tensor-four-cache"`).
 *
 * @example
 * ```ts
 * import { createTensorCache, fourCacheDefinition } from '@kv/tensor';
 * createTensorCache({ policy: 'tensor-four-cache', keyDim: 16, valueDim: 16 }, [fourCacheDefinition]);
 * ```
 */
export const fourCacheDefinition: TensorCacheDefinition = {
  name: 'tensor-four-cache',
  summary: 'Stores K1, K2, V1, V2 (8(d+s)n bytes, Θ(nd)); exact, recomputes all n² pair terms per query (O(n²(d+s))).',
  params: [
    {
      name: 'pairs',
      type: 'string',
      default: 'factorized',
      description: "'factorized' (<q∘k1, k2>, no pair products formed) or 'materialized' (pair rows formed per block).",
    },
  ],
  budget: 'none',
  create: (spec) => new FourCache(spec),
};
