import { type CacheState, clearSums, createKernelSums, gemv, type KernelSums, mergeSums, type PolicySpec, type StateReader, sumsFromLogits } from '@kv/core';
import { BaseTensorCache } from './base-tensor-cache.js';
import type { TensorCacheDefinition } from './contract.js';
import { PAIR_BLOCK } from './four-cache.js';
import { INITIAL_TOKEN_ROWS } from './memory.js';

/**
 * The **two-cache** (arXiv 2503.11108): stores the pair products K1⊘K2 (rows k1_i ∘ k2_j) and
 * V1⊘V2 (rows v1_i ∘ v2_j) for all n² ordered pairs, built incrementally: token t (0-based) adds
 * its 2t+1 pairs (t, j), (i, t), (t, t). Θ(n²d) memory: `bytes` is exactly `4·(d+s)·(n² + 2n)`
 * (the raw K1, K2, V1, V2 are kept too, since future tokens pair with them; see
 * {@link twoCacheBytes}). A query is one GEMV over the pair rows plus a weighted sum of pair
 * values, with no product recomputed.
 *
 * @remarks Exact up to rounding: pair products are stored in fp32 (relative error ≤ 2⁻²⁴ per
 *   entry), so a pair logit x differs from the definition by at most 2⁻²⁴·τ·Σ_c|q_c k1_ic k2_jc|.
 *   Append is O(t(d+s)); query O(t²(d+s)), the same order as the factorized four-cache, which is
 *   why the trade-off is mostly memory (measured in `bench/tensor.bench.ts`).
 * @see Chen, Li, Liang, Shi, Song, Tian, arXiv 2503.11108.
 * @example
 * ```ts
 * import { TwoCache } from '@kv/tensor';
 * const cache = new TwoCache({ policy: 'tensor-two-cache', keyDim: 2, valueDim: 1 });
 * const k = new Float32Array([1, 0]);
 * cache.append(k, k, new Float32Array([2]), new Float32Array([3]));
 * cache.attend(k, new Float32Array(1)); // [6]
 * ```
 */
export class TwoCache extends BaseTensorCache {
  private keys1: Float32Array;
  private keys2: Float32Array;
  private values1: Float32Array;
  private values2: Float32Array;
  private pairKeys: Float32Array;
  private pairValues: Float32Array;
  private count = 0;
  private pairCount = 0;
  private readonly logits = new Float64Array(PAIR_BLOCK);
  private readonly partial: KernelSums;

  /** @param spec - The spec (no parameters). */
  constructor(spec: PolicySpec) {
    super(spec);
    const d = this.keyDim;
    const s = this.valueDim;
    const rows = INITIAL_TOKEN_ROWS;
    this.keys1 = new Float32Array(rows * d);
    this.keys2 = new Float32Array(rows * d);
    this.values1 = new Float32Array(rows * s);
    this.values2 = new Float32Array(rows * s);
    this.pairKeys = new Float32Array(rows * rows * d);
    this.pairValues = new Float32Array(rows * rows * s);
    this.partial = createKernelSums(s);
  }

  /** Pair rows held (n²). */
  get pairs(): number {
    return this.pairCount;
  }

  /** Live bytes of the layout, `4·(d+s)·(n² + 2n)`, in tensor-token-equivalents: n + ⌈n²/2⌉. */
  get stored(): number {
    return this.count + Math.ceil((this.count * this.count) / 2);
  }

  /** The two-cache keeps everything: unbounded. */
  override get capacity(): number {
    return Infinity;
  }

  /** Live K1, K2, V1, V2 and pair rows K1⊘K2, V1⊘V2 (growth slack and query scratch are not state). */
  protected saveState(): CacheState {
    const n = this.count;
    const p = this.pairCount;
    const d = this.keyDim;
    const s = this.valueDim;
    return {
      scalars: { count: n },
      arrays: {
        keys1: this.keys1.subarray(0, n * d),
        keys2: this.keys2.subarray(0, n * d),
        values1: this.values1.subarray(0, n * s),
        values2: this.values2.subarray(0, n * s),
        pairKeys: this.pairKeys.subarray(0, p * d),
        pairValues: this.pairValues.subarray(0, p * s),
      },
    };
  }

  protected restoreState(r: StateReader): void {
    const n = r.integer('count', 0, 46340);
    const d = this.keyDim;
    const s = this.valueDim;
    const k1 = r.array('keys1', Float32Array, n * d);
    const k2 = r.array('keys2', Float32Array, n * d);
    const v1 = r.array('values1', Float32Array, n * s);
    const v2 = r.array('values2', Float32Array, n * s);
    const pk = r.array('pairKeys', Float32Array, n * n * d);
    const pv = r.array('pairValues', Float32Array, n * n * s);
    let rows = INITIAL_TOKEN_ROWS;
    while (rows < n) rows *= 2;
    this.grow(rows);
    this.keys1.set(k1);
    this.keys2.set(k2);
    this.values1.set(v1);
    this.values2.set(v2);
    this.pairKeys.set(pk);
    this.pairValues.set(pv);
    this.count = n;
    this.pairCount = n * n;
  }

  protected override describeSummary(): string {
    return `tensor-two-cache: ${this.count} tokens and their ${this.pairCount} pair rows in float32`;
  }

  protected onAppend(key1: Float32Array, key2: Float32Array, value1: Float32Array, value2: Float32Array): void {
    const d = this.keyDim;
    const s = this.valueDim;
    const t = this.count;
    if ((t + 1) * d > this.keys1.length) this.grow(2 * (this.keys1.length / d));
    this.keys1.set(key1, t * d);
    this.keys2.set(key2, t * d);
    this.values1.set(value1, t * s);
    this.values2.set(value2, t * s);
    for (let j = 0; j < t; j++) this.writePair(t, j);
    for (let i = 0; i < t; i++) this.writePair(i, t);
    this.writePair(t, t);
    this.count = t + 1;
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    clearSums(out);
    const d = this.keyDim;
    const s = this.valueDim;
    const total = this.pairCount;
    for (let start = 0; start < total; start += PAIR_BLOCK) {
      const len = Math.min(PAIR_BLOCK, total - start);
      gemv('N', len, d, this.tau, this.pairKeys, d, 1, start * d, query, 1, 0, 0, this.logits, 1, 0);
      sumsFromLogits(len, this.logits, 0, this.pairValues, s, start * s, this.partial);
      mergeSums(out, this.partial);
    }
    return out;
  }

  protected onReset(): void {
    this.count = 0;
    this.pairCount = 0;
    if (this.keys1.length !== INITIAL_TOKEN_ROWS * this.keyDim) this.grow(INITIAL_TOKEN_ROWS);
  }

  private writePair(i: number, j: number): void {
    const d = this.keyDim;
    const s = this.valueDim;
    const p = this.pairCount++;
    const pk = this.pairKeys;
    const pv = this.pairValues;
    for (let c = 0; c < d; c++) pk[p * d + c] = this.keys1[i * d + c]! * this.keys2[j * d + c]!;
    for (let c = 0; c < s; c++) pv[p * s + c] = this.values1[i * s + c]! * this.values2[j * s + c]!;
  }

  /** Reallocates to `rows` token rows and rows² pair rows, keeping the live prefixes. */
  private grow(rows: number): void {
    const resize = (a: Float32Array, used: number, length: number): Float32Array => {
      const b = new Float32Array(length);
      b.set(a.subarray(0, used));
      return b;
    };
    const d = this.keyDim;
    const s = this.valueDim;
    const n = this.count;
    this.keys1 = resize(this.keys1, n * d, rows * d);
    this.keys2 = resize(this.keys2, n * d, rows * d);
    this.values1 = resize(this.values1, n * s, rows * s);
    this.values2 = resize(this.values2, n * s, rows * s);
    this.pairKeys = resize(this.pairKeys, this.pairCount * d, rows * rows * d);
    this.pairValues = resize(this.pairValues, this.pairCount * s, rows * rows * s);
  }
}

/**
 * List entry of {@link TwoCache} (`"tensor-two-cache"`).
 *
 * @example
 * ```ts
 * import { createTensorCache, twoCacheDefinition } from '@kv/tensor';
 * createTensorCache({ policy: 'tensor-two-cache', keyDim: 16, valueDim: 16 }, [twoCacheDefinition]);
 * ```
 */
export const twoCacheDefinition: TensorCacheDefinition = {
  name: 'tensor-two-cache',
  summary: 'Stores the n² pair rows K1⊘K2, V1⊘V2 (4(d+s)(n²+2n) bytes, Θ(n²d)); exact, one GEMV over pair rows per query.',
  params: [],
  budget: 'none',
  create: (spec) => new TwoCache(spec),
};
