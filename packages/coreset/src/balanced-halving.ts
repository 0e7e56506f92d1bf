import { dotUnit, InvalidParamsError, type Rng } from '@kv/core';
import type { Halver, RowBatch } from './row-batch.js';

/**
 * Options of {@link BalancedHalving}.
 *
 * @example
 * ```ts
 * import { BalancedHalving, type BalancedHalvingOptions } from '@kv/coreset';
 * const options: BalancedHalvingOptions = { tau: 1 / Math.sqrt(64), gamma: 4, centre: true };
 * const walk = new BalancedHalving(options);
 * ```
 */
export interface BalancedHalvingOptions {
  /** Logit scale τ of the walk's kernel (the released code's temp/√d). */
  readonly tau: number;
  /** Step size γ of the sign probability 1/2 − γ·Σ K_ij η_j (default 4). */
  readonly gamma?: number;
  /** Constant added to <v_i, v_j> in the kernel (default 0.025). */
  readonly valueConstant?: number;
  /** Centre the keys of each batch before the kernel (default true). */
  readonly centre?: boolean;
}

// Caps the kernel exponent: beyond e^80 the unclipped probability 1/2 − γy is saturated anyway,
// and the cap keeps sums of 128 entries finite for keys of any norm.
const MAX_EXPONENT = 80;
// Batches up to this size precompute their Gram matrices (2·512²·8 B = 4 MiB at most); larger
// ones compute inner products on the fly so scratch memory stays O(n·d).
const GRAM_MAX_ROWS = 512;

// Strict lower triangle of the Gram matrix of n rows of length d: out[i·n + j] = <a_i, a_j>, j < i.
// Rows are taken two by two so each loaded element feeds two products (the walk's whole cost).
function lowerGram(n: number, d: number, a: Float32Array, out: Float64Array): void {
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const a0 = i * d;
    const a1 = a0 + d;
    for (let j = 0; j < i; j += 2) {
      const b0 = j * d;
      const b1 = b0 + d;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let x = 0; x < d; x++) {
        const p = a[a0 + x]!;
        const q = a[a1 + x]!;
        const u = a[b0 + x]!;
        const v = a[b1 + x]!;
        s00 += p * u;
        s01 += p * v;
        s10 += q * u;
        s11 += q * v;
      }
      out[i * n + j] = s00;
      out[i * n + j + 1] = s01;
      out[(i + 1) * n + j] = s10;
      out[(i + 1) * n + j + 1] = s11;
    }
    out[(i + 1) * n + i] = dotUnit(d, a, a1, a, a0);
  }
  if (i < n) for (let j = 0; j < i; j++) out[i * n + j] = dotUnit(d, a, i * d, a, j * d);
}

/**
 * The halving of BalanceKV's released code (`balanced_walk`): a self-balancing walk on
 * block-centred keys with kernel K_ij = w_i w_j·e^{<k̃_i,k̃_j>τ}·(<v_i,v_j> + 0.025), sign +1 with
 * the unclipped probability 1/2 − γ·Σ_{j<i} K_ij η_j (γ = 4; the first row's sign is a fair coin),
 * then an *exact* halving: the + class is kept, evened out to ⌊n/2⌋ rows with random rows of the
 * larger class.
 *
 * @remarks
 * - Centring is exact for attention: a shift μ common to a batch multiplies every kernel term of
 *   the batch by e^{<q,μ>τ}, so balancing centred keys balances the original ones (algorithms.md §2.3).
 * - Weights w_i = 2^{ℓ_i − max ℓ} (relative, so a batch of equal weights uses the released kernel).
 * - Every kept row doubles its weight, so weights always sum to the tokens they stand for. The
 *   released code instead keeps the rows after the cut point at weight 1 in the numerator while its
 *   decode bias counts them twice in the denominator; we use one consistent weight.
 * - Unbiased: the released code fixes the first sign to +1; with γ = 4 unclipped the later signs
 *   are then usually a deterministic function of it, so the same rows are always kept (a 2-row
 *   batch always keeps its second row). A fair first coin makes the signing symmetric under a
 *   global flip, and the exact halving with it, so every row is kept with probability exactly 1/2
 *   and the doubled half is an unbiased estimate of the batch.
 * - No theorem: γ and the constant are the released code's tuned values.
 * - Working memory: for batches of ≤ 512 rows, two n×n Gram scratch matrices (2·128²·8 B =
 *   256 KiB at the default block; larger batches compute inner products on the fly), held by the
 *   halver and not counted in a cache's `bytes`.
 * @see ksheth96/BalanceKV, `src/balanced_walk.py::balanced_walk`.
 * @example
 * ```ts
 * import { BalancedHalving, RowBatch } from '@kv/coreset';
 * import { Rng } from '@kv/core';
 * const batch = new RowBatch(2, 1, 8);
 * for (let i = 0; i < 8; i++) batch.push([Math.cos(i), Math.sin(i)], 0, [1], 0, i, 0);
 * new BalancedHalving({ tau: 1 }).select(batch, new Rng(3), new Int32Array(8)); // 4
 * ```
 */
export class BalancedHalving implements Halver {
  /** Logit scale τ. */
  readonly tau: number;
  /** Step size γ. */
  readonly gamma: number;
  /** Constant added to value inner products. */
  readonly valueConstant: number;
  /** Whether batches are centred. */
  readonly centre: boolean;
  private signs = new Int8Array(0);
  private weights = new Float64Array(0);
  private centred = new Float32Array(0);
  private mean = new Float64Array(0);
  private keyGram = new Float64Array(0);
  private valueGram = new Float64Array(0);

  /**
   * @param options - τ, γ, the value constant and centring.
   * @throws `InvalidParamsError` when τ ≤ 0, γ < 0 or the constant < 0.
   */
  constructor(options: BalancedHalvingOptions) {
    if (!(options.tau > 0) || !Number.isFinite(options.tau)) throw new InvalidParamsError(`tau is ${options.tau}, expected > 0`);
    this.tau = options.tau;
    this.gamma = options.gamma ?? 4;
    this.valueConstant = options.valueConstant ?? 0.025;
    this.centre = options.centre ?? true;
    if (!(this.gamma >= 0) || !Number.isFinite(this.gamma)) throw new InvalidParamsError(`gamma is ${this.gamma}, expected >= 0`);
    if (!(this.valueConstant >= 0) || !Number.isFinite(this.valueConstant)) {
      throw new InvalidParamsError(`valueConstant is ${this.valueConstant}, expected >= 0`);
    }
  }

  /**
   * Signs the rows with the walk and keeps exactly ⌊n/2⌋ of them.
   * @param batch - Rows to halve (unchanged; at least 2 rows).
   * @param rng - Source of randomness.
   * @param keep - Receives the kept row indices, ascending.
   * @returns ⌊n/2⌋ (for odd n the doubled weights then fall one row short of the batch's total,
   *   which is why {@link MergeAndReduce} sets an odd row aside before halving).
   */
  select(batch: RowBatch, rng: Rng, keep: Int32Array): number {
    const n = batch.count;
    const d = batch.d;
    const s = batch.s;
    if (this.signs.length < n) {
      const cap = Math.max(n, this.signs.length * 2);
      this.signs = new Int8Array(cap);
      this.weights = new Float64Array(cap);
      this.centred = new Float32Array(cap * d);
    }
    if (this.mean.length !== d) this.mean = new Float64Array(d);
    const useGram = n <= GRAM_MAX_ROWS;
    if (useGram && this.keyGram.length < n * n) {
      this.keyGram = new Float64Array(n * n);
      this.valueGram = new Float64Array(n * n);
    }
    const signs = this.signs;
    const w = this.weights;
    const kc = this.centred;
    const mean = this.mean;
    mean.fill(0);
    const keys = batch.keys;
    if (this.centre) for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += keys[i * d + j]!;
    for (let j = 0; j < d; j++) mean[j] /= n;
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) kc[i * d + j] = keys[i * d + j]! - mean[j]!;
    let top = -Infinity;
    for (let i = 0; i < n; i++) top = Math.max(top, batch.levels[i]!);
    for (let i = 0; i < n; i++) w[i] = Math.pow(2, batch.levels[i]! - top);
    const values = batch.values;
    const tau = this.tau;
    const gamma = this.gamma;
    const k0 = this.valueConstant;
    const kg = this.keyGram;
    const vg = this.valueGram;
    if (useGram) {
      lowerGram(n, d, kc, kg);
      if (s > 0) lowerGram(n, s, values, vg);
    }
    // A random first sign makes the signing symmetric under a global flip, so every row is kept
    // with probability exactly 1/2: the halving is unbiased even when the walk is deterministic.
    signs[0] = rng.uniform() < 0.5 ? 1 : -1;
    for (let i = 1; i < n; i++) {
      let y = 0;
      const row = i * n;
      for (let j = 0; j < i; j++) {
        const kk = useGram ? kg[row + j]! : dotUnit(d, kc, i * d, kc, j * d);
        const e = Math.exp(Math.min(MAX_EXPONENT, tau * kk));
        const vv = s > 0 ? (useGram ? vg[row + j]! : dotUnit(s, values, i * s, values, j * s)) : 1;
        y += signs[j]! * w[j]! * e * (vv + k0);
      }
      y *= w[i]!;
      signs[i] = rng.uniform() < 0.5 - gamma * y ? 1 : -1;
    }
    // Exact halving: keep the + class (a fair choice, by the first coin's symmetry), evened out to
    // ⌊n/2⌋ rows with uniformly random rows of the larger class, so every row is kept with
    // probability 1/2. (Keeping every row after the point where one class reaches n/2, as the
    // cut rule did, keeps the last rows of every batch.)
    const target = Math.floor(n / 2);
    let plus = 0;
    for (let i = 0; i < n; i++) if (signs[i]! > 0) plus++;
    // Move |plus − target| random rows across, from the class that has too many.
    let excess = plus - target;
    const from = excess > 0 ? 1 : -1;
    let pool = excess > 0 ? plus : n - plus;
    for (let i = 0; i < n && excess !== 0; i++) {
      if (signs[i] !== from) continue;
      if (rng.uniform() * pool < Math.abs(excess)) {
        signs[i] = -from as 1 | -1;
        excess -= from;
      }
      pool--;
    }
    let kept = 0;
    for (let i = 0; i < n; i++) if (signs[i]! > 0) keep[kept++] = i;
    return kept;
  }
}
