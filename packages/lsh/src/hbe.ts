import {
  clearSums,
  createKernelSums,
  dotUnit,
  InvalidParamsError,
  type KernelSums,
  mergeSums,
  Rng,
  SlotStore,
} from '@kv/core';
import type { FamilyOptions, LshFamily } from './family.js';
import { LshTables } from './tables.js';

/**
 * Options of {@link HashingBasedEstimator}.
 *
 * @example
 * ```ts
 * import { HashingBasedEstimator, type HbeOptions } from '@kv/lsh';
 * const options: HbeOptions = { keyDim: 16, valueDim: 16, family: { kind: 'simhash', hashes: 3 }, tables: 8, groups: 5 };
 * const hbe = new HashingBasedEstimator(options);
 * ```
 */
export interface HbeOptions {
  /** Key (and query) dimension d. */
  readonly keyDim: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /** Logit scale τ (default 1/√d). */
  readonly tau?: number;
  /** Hash family of every table (default SimHash with 4 bits). */
  readonly family?: FamilyOptions;
  /** Tables per group (each gives one independent estimate; the group averages them). Default 8. */
  readonly tables?: number;
  /** Groups for the median of means (default 1: the plain, unbiased mean). */
  readonly groups?: number;
  /** Seed of the hash functions and of the in-bucket draws (default 0). */
  readonly seed?: number;
}

/**
 * The hashing-based estimator (HBE) of Charikar and Siminelakis for softmax kernel sums
 * Z(q) = Σ_i w_i e^{τ⟨q,k_i⟩} and N(q) = Σ_i w_i e^{τ⟨q,k_i⟩} v_i over a set of keys.
 *
 * Each table hashes q, takes its cell B, draws X uniformly from B and returns
 * w_X e^{τ⟨q,k_X⟩}·|B| / p(q, X) (and the same times v_X), where p is the family's collision
 * probability at the angle of (q, k_X). Estimates of `tables` tables are averaged per group and
 * the coordinate-wise median over `groups` groups is returned (median of means).
 *
 * @remarks
 * - The kernel is used in its weighted Gaussian form (algorithms.md §2.4):
 *   e^{τ⟨q,k⟩} = e^{τ‖q‖²/2}·e^{τ‖k‖²/2}·e^{−τ‖q−k‖²/2}; the query factor cancels in N/Z and the key
 *   factor is a per-key weight, i.e. a logit bias (§2.2), so the answer is computed as the
 *   log-scaled logit τ⟨q,k_X⟩ + ln w_X + ln|B| − ln p, safe at any norm.
 * - Unbiased over the draw of the functions and of X when `groups = 1`:
 *   E[est] = Σ_i P(i ∈ B)·f_i/p_i = Σ_i f_i. One table's variance is at most
 *   Σ_i Σ_j f_i² min(p_i, p_j)/p_i² − Z² ({@link hbeRelativeVarianceBound}); a group of L tables
 *   divides it by L. With groups G and per-group relative variance ≤ ε²/4, the median is within
 *   a factor 1 ± ε of Z except with probability e^{−G/8} (Hoeffding on the G Chebyshev events).
 * - Probabilities come from the family's collision function (exact for SimHash, tabulated for the
 *   others: their small tabulation error is a small bias).
 * - A cell can be empty: Z may then be 0 (no finite N/Z), so use it through `sums`.
 * @see Charikar, Siminelakis, "Hashing-Based-Estimators for Kernel Density in High Dimensions",
 *   FOCS 2017 (arXiv 1808.10530).
 * @example
 * ```ts
 * import { createKernelSums } from '@kv/core';
 * import { HashingBasedEstimator } from '@kv/lsh';
 * const hbe = new HashingBasedEstimator({ keyDim: 2, valueDim: 1, tables: 16, seed: 1 });
 * hbe.add(new Float32Array([1, 0]), new Float32Array([2]));
 * const s = hbe.sums(new Float32Array([1, 0]), createKernelSums(1)); // Z ≈ e^{1/√2}
 * ```
 */
export class HashingBasedEstimator {
  /** Key dimension d. */
  readonly keyDim: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /** Logit scale τ. */
  readonly tau: number;
  /** Tables per group. */
  readonly tablesPerGroup: number;
  /** Groups of the median of means. */
  readonly groups: number;
  /** The tables (groups × tablesPerGroup of them). */
  readonly tables: LshTables;
  private readonly store: SlotStore;
  private norms: Float32Array;
  private readonly rng: Rng;
  private readonly groupSums: KernelSums[];
  private readonly part: KernelSums;
  private readonly medianScratch: Float64Array;

  /**
   * @param options - Dimensions, family, tables, groups, seed.
   * @throws `InvalidParamsError` for non-positive counts or bad family shapes.
   */
  constructor(options: HbeOptions) {
    const tables = options.tables ?? 8;
    const groups = options.groups ?? 1;
    if (!Number.isInteger(tables) || tables < 1) throw new InvalidParamsError(`hbe: tables ${tables}, expected an integer >= 1`);
    if (!Number.isInteger(groups) || groups < 1) throw new InvalidParamsError(`hbe: groups ${groups}, expected an integer >= 1`);
    this.keyDim = options.keyDim;
    this.valueDim = options.valueDim;
    this.tau = options.tau ?? 1 / Math.sqrt(options.keyDim);
    this.tablesPerGroup = tables;
    this.groups = groups;
    const rng = new Rng(options.seed ?? 0);
    this.tables = new LshTables(options.keyDim, tables * groups, options.family ?? { kind: 'simhash', hashes: 4 }, rng.fork(1), 16, true);
    this.rng = rng.fork(2);
    this.store = new SlotStore(options.keyDim, options.valueDim, { weighted: true });
    this.norms = new Float32Array(16);
    this.groupSums = [];
    for (let g = 0; g < groups; g++) this.groupSums.push(createKernelSums(options.valueDim));
    this.part = createKernelSums(options.valueDim);
    this.medianScratch = new Float64Array(groups);
  }

  /** Keys added so far. */
  get size(): number {
    return this.store.count;
  }

  /**
   * Adds a key with its value and weight.
   * @param key - Key of length d (copied).
   * @param value - Value of length s (copied).
   * @param logWeight - ln w (default 0).
    * @throws `InvalidInputError` (from `@kv/core`) when the row store cannot encode the row.
   */
  add(key: Float32Array, value: Float32Array, logWeight = 0): void {
    const slot = this.store.push(key, 0, value, 0, this.store.count, logWeight);
    if (slot >= this.norms.length) {
      const grown = new Float32Array(this.norms.length * 2);
      grown.set(this.norms);
      this.norms = grown;
    }
    this.norms[slot] = Math.sqrt(dotUnit(this.keyDim, key, 0, key, 0));
    this.tables.insert(slot, key, 0);
  }

  /**
   * Estimates the kernel sums of a query.
   * @param query - Query of length d.
   * @param out - Receives the log-scaled estimate (z may be 0 when every cell was empty).
   * @returns `out`.
   */
  sums(query: Float32Array, out: KernelSums): KernelSums {
    const L = this.tablesPerGroup;
    const tables = this.tables;
    tables.hashQuery(query);
    const qNorm = Math.sqrt(dotUnit(this.keyDim, query, 0, query, 0));
    const lnL = Math.log(L);
    for (let g = 0; g < this.groups; g++) {
      const acc = clearSums(this.groupSums[g]!);
      for (let l = 0; l < L; l++) {
        const t = g * L + l;
        const size = tables.cellSize(t);
        if (size === 0) continue;
        let item = tables.head(t);
        for (let r = this.rng.int(size); r > 0; r--) item = tables.indexes[t]!.next[item]!;
        const dot = this.store.keyDot(item, query);
        const denom = qNorm * this.norms[item]!;
        const cosine = denom > 0 ? dot / denom : 0;
        const lp = tables.families[t]!.logCollisionProbability(cosine);
        const logit = this.tau * dot + this.store.logWeight(item) + Math.log(size) - lp - lnL;
        this.single(item, logit);
        mergeSums(acc, this.part);
      }
    }
    if (this.groups === 1) {
      const only = this.groupSums[0]!;
      out.m = only.m;
      out.z = only.z;
      out.n.set(only.n);
      return out;
    }
    return this.median(out);
  }

  /** Bytes held: stored keys, values, positions and weights, their norms, and the tables. */
  get heldBytes(): number {
    return this.store.heldBytes + 4 * this.store.count + this.tables.heldBytes(this.store.count);
  }

  private single(item: number, logit: number): void {
    const part = this.part;
    part.m = logit;
    part.z = 1;
    this.store.readValue(item, part.n);
  }

  private median(out: KernelSums): KernelSums {
    const G = this.groups;
    let M = -Infinity;
    for (const g of this.groupSums) if (g.m > M) M = g.m;
    if (M === -Infinity) return clearSums(out);
    const scratch = this.medianScratch;
    for (let g = 0; g < G; g++) scratch[g] = this.groupSums[g]!.z * scale(this.groupSums[g]!.m, M);
    out.m = M;
    out.z = medianOf(scratch);
    for (let j = 0; j < this.valueDim; j++) {
      for (let g = 0; g < G; g++) scratch[g] = this.groupSums[g]!.n[j]! * scale(this.groupSums[g]!.m, M);
      out.n[j] = medianOf(scratch);
    }
    return out;
  }
}

function scale(m: number, M: number): number {
  return m === -Infinity ? 0 : Math.exp(m - M);
}

function medianOf(a: Float64Array): number {
  a.sort();
  const n = a.length;
  return n % 2 === 1 ? a[(n - 1) / 2]! : 0.5 * (a[n / 2 - 1]! + a[n / 2]!);
}

/**
 * The stated bound on the relative variance of one HBE table: with f_i = w_i e^{τ⟨q,k_i⟩} and
 * p_i the collision probability of (q, k_i),
 * Var/Z² ≤ (Σ_i f_i²/p_i² · Σ_j min(p_i, p_j)) / Z² − 1, since P(i, j both in q's cell) ≤
 * min(p_i, p_j). Computed in O(n log n) by sorting the p_i.
 *
 * @param query - Query of length d.
 * @param keys - Row-major keys, count·d.
 * @param count - Number of keys.
 * @param tau - Logit scale τ.
 * @param family - The family (its collision function is used; the draw itself is irrelevant).
 * @param logWeights - Optional ln w_i per key.
 * @returns The bound on Var(est)/Z² for one table (divide by L for a mean of L tables).
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { hbeRelativeVarianceBound, SimHash } from '@kv/lsh';
 * const keys = new Float32Array([1, 0, 0, 1]);
 * hbeRelativeVarianceBound(new Float32Array([1, 0]), keys, 2, 1, new SimHash(2, 2, new Rng(0)));
 * ```
 */
export function hbeRelativeVarianceBound(
  query: Float32Array,
  keys: Float32Array,
  count: number,
  tau: number,
  family: LshFamily,
  logWeights?: ArrayLike<number>,
): number {
  const d = query.length;
  const qNorm = Math.sqrt(dotUnit(d, query, 0, query, 0));
  const logits = new Float64Array(count);
  const p = new Float64Array(count);
  let m = -Infinity;
  for (let i = 0; i < count; i++) {
    const dot = dotUnit(d, keys, i * d, query, 0);
    const kn = Math.sqrt(dotUnit(d, keys, i * d, keys, i * d));
    logits[i] = tau * dot + (logWeights ? logWeights[i]! : 0);
    p[i] = family.collisionProbability(qNorm * kn > 0 ? dot / (qNorm * kn) : 0);
    if (logits[i]! > m) m = logits[i]!;
  }
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => p[a]! - p[b]!);
  // Σ_j min(p_i, p_j) = (sum of p_j below p_i) + p_i·(number at or above).
  const minSum = new Float64Array(count);
  let below = 0;
  for (let r = 0; r < count; r++) {
    const i = order[r]!;
    minSum[i] = below + p[i]! * (count - r);
    below += p[i]!;
  }
  let z = 0;
  let second = 0;
  for (let i = 0; i < count; i++) {
    const f = Math.exp(logits[i]! - m);
    z += f;
    second += ((f * f) / (p[i]! * p[i]!)) * minSum[i]!;
  }
  return second / (z * z) - 1;
}
