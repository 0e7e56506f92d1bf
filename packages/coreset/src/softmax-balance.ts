import { dotUnit, InvalidParamsError, type Rng } from '@kv/core';
import type { Halver, RowBatch } from './row-batch.js';

/**
 * Options of {@link SoftmaxBalance}.
 *
 * @example
 * ```ts
 * import { SoftmaxBalance, type SoftmaxBalanceOptions } from '@kv/coreset';
 * const options: SoftmaxBalanceOptions = { tau: 0.5, delta: 0.01, unitValues: true };
 * const denominatorWalk = new SoftmaxBalance(options);
 * ```
 */
export interface SoftmaxBalanceOptions {
  /** Logit scale τ of the exponential kernel e^{<k,k'>τ}. */
  readonly tau: number;
  /** Failure probability δ of one walk, in c = 30·ln(n/δ) (default 0.01). */
  readonly delta?: number;
  /** Denominator variant: treat every value as the scalar 1 (default false; forced when s = 0). */
  readonly unitValues?: boolean;
}

/**
 * The walk constant c = 30·ln(n/δ) of the self-balancing walk (Alweiss–Liu–Sawhney).
 *
 * @param n - Number of vectors the walk signs.
 * @param delta - Failure probability δ ∈ (0, 1).
 * @returns c.
 * @example
 * ```ts
 * import { walkConstant } from '@kv/coreset';
 * walkConstant(128, 0.01); // ≈ 283
 * ```
 */
export function walkConstant(n: number, delta: number): number {
  return 30 * Math.log(Math.max(n, 2) / delta);
}

/**
 * Inputs of {@link softmaxBalanceBound}.
 *
 * @example
 * ```ts
 * import { softmaxBalanceBound, type SoftmaxBalanceBoundInput } from '@kv/coreset';
 * const input: SoftmaxBalanceBoundInput = { n: 64, s: 1, delta: 0.01, tailDelta: 0.01, tau: 0.5, queryNorm: 1, featureRadius: 2 };
 * softmaxBalanceBound(input);
 * ```
 */
export interface SoftmaxBalanceBoundInput {
  /** Number of rows the walk signed. */
  readonly n: number;
  /** Value dimension s (1 for the denominator). */
  readonly s: number;
  /** Walk failure probability δ used in c. */
  readonly delta: number;
  /** Probability δ' that the bound may fail for the fixed query (tail event). */
  readonly tailDelta: number;
  /** Logit scale τ. */
  readonly tau: number;
  /** ||q||. */
  readonly queryNorm: number;
  /** R = max_i w_i·e^{||k_i||²τ/2}·||v_i|| (||v_i|| = 1 for the denominator). */
  readonly featureRadius: number;
}

/**
 * The discrepancy bound of one {@link SoftmaxBalance} halving for a fixed query q: w.p. ≥ 1−δ−δ'
 * the walk does not fail and ||Σ_i η_i w_i e^{<k_i,q>τ} v_i||₂ ≤ √s·λ·R·e^{||q||²τ/2}, with
 * λ = √(2c·ln(2s/δ')). The kept class, doubled, then differs from the whole by at most this.
 *
 * @param input - Sizes, probabilities, τ, ||q|| and the feature radius R.
 * @returns The bound.
 * @remarks The walk's state after any prefix is c-subgaussian (Alweiss–Liu–Sawhney; we read this as
 * a moment generating function of at most e^{c||θ||²/2}: a different constant there rescales λ by
 * its square root, and measured errors stay far below this bound), so for the feature vector of the query,
 * φ(q)⊗e_j with norm e^{||q||²τ/2}, each coordinate exceeds λ·R·e^{||q||²τ/2} with probability at most
 * 2e^{−λ²/(2c)} = δ'/s; a union bound over the s coordinates gives the ℓ₂ bound.
 * @see BalanceKV, arXiv 2502.07861, Alg. 2 and its discrepancy lemma.
 * @example
 * ```ts
 * import { softmaxBalanceBound } from '@kv/coreset';
 * softmaxBalanceBound({ n: 64, s: 1, delta: 0.01, tailDelta: 0.01, tau: 0.5, queryNorm: 1, featureRadius: 2 });
 * ```
 */
export function softmaxBalanceBound(input: SoftmaxBalanceBoundInput): number {
  const c = walkConstant(input.n, input.delta);
  const lambda = Math.sqrt(2 * c * Math.log((2 * input.s) / input.tailDelta));
  return Math.sqrt(input.s) * lambda * input.featureRadius * Math.exp((input.queryNorm * input.queryNorm * input.tau) / 2);
}

/**
 * SoftmaxBalance (BalanceKV Alg. 2): the kernelized self-balancing walk on weighted (key, value)
 * rows with feature φ(k, v) = φ_exp(k) ⊗ v, <φ(k,v), φ(k',v')> = e^{<k,k'>τ}·<v,v'>. Row j gets
 * sign +1 with probability 1/2 − y/(2cR²), y = Σ_{i<j} η_i w_i w_j <φ_i, φ_j>; the smaller sign
 * class is kept and its weights double.
 *
 * @remarks
 * - Normalisation: R = max_i w_i·e^{||k_i||²τ/2}·||v_i|| is computed from the batch, and every
 *   kernel entry is evaluated as e^{τ<k_i,k_j> + ln w_i + ln w_j − 2 ln R}·<v_i,v_j>, whose exponent
 *   is ≤ 0 (Cauchy–Schwarz), so no norm overflows.
 * - Failure: when |y| > cR² (c = 30·ln(n/δ)) the walk has failed; this happens with probability
 *   ≤ δ. Instead of aborting, the row gets the sign that shrinks |y| (greedy) and
 *   {@link SoftmaxBalance.failures} counts it, so callers can see that the guarantee was void.
 * - Guarantee: {@link softmaxBalanceBound}. Cost O(n²(d+s)) per halving (Gram rows on the fly,
 *   O(n) scratch).
 * - Denominator variant: `unitValues` (or s = 0) uses v ≡ 1.
 * @see Alweiss, Liu, Sawhney, "Discrepancy minimization via a self-balancing walk", STOC 2021.
 * @see Kochetkova, Sheth, Han, Zandieh, Kapralov, "Streaming Attention Approximation via Discrepancy Theory", arXiv 2502.07861.
 * @example
 * ```ts
 * import { RowBatch, SoftmaxBalance } from '@kv/coreset';
 * import { Rng } from '@kv/core';
 * const batch = new RowBatch(2, 1, 8);
 * for (let i = 0; i < 8; i++) batch.push([Math.cos(i), Math.sin(i)], 0, [1], 0, i, 0);
 * const keep = new Int32Array(8);
 * const kept = new SoftmaxBalance({ tau: 1 }).select(batch, new Rng(3), keep); // ≤ 4 rows
 * ```
 */
export class SoftmaxBalance implements Halver {
  /** Logit scale τ. */
  readonly tau: number;
  /** Walk failure probability δ. */
  readonly delta: number;
  /** Whether values are treated as 1 (denominator variant). */
  readonly unitValues: boolean;
  /** Walk failures seen so far (|y| > cR²). */
  failures = 0;
  /** Walks run so far. */
  walks = 0;
  private signs = new Int8Array(0);
  private rowLog = new Float64Array(0);

  /**
   * @param options - τ, δ and the denominator switch.
   * @throws `InvalidParamsError` when τ ≤ 0 or δ ∉ (0, 1).
   */
  constructor(options: SoftmaxBalanceOptions) {
    if (!(options.tau > 0) || !Number.isFinite(options.tau)) throw new InvalidParamsError(`tau is ${options.tau}, expected > 0`);
    const delta = options.delta ?? 0.01;
    if (!(delta > 0 && delta < 1)) throw new InvalidParamsError(`delta is ${delta}, expected in (0, 1)`);
    this.tau = options.tau;
    this.delta = delta;
    this.unitValues = options.unitValues ?? false;
  }

  /**
   * Signs the rows with the walk and keeps the smaller class.
   * @param batch - Rows to halve (unchanged).
   * @param rng - Source of randomness.
   * @param keep - Receives the kept row indices, ascending.
   * @returns The size of the kept class (≤ batch.count / 2).
   */
  select(batch: RowBatch, rng: Rng, keep: Int32Array): number {
    const n = batch.count;
    if (this.signs.length < n) {
      this.signs = new Int8Array(Math.max(n, this.signs.length * 2));
      this.rowLog = new Float64Array(this.signs.length);
    }
    const signs = this.signs;
    const rowLog = this.rowLog;
    const d = batch.d;
    const s = batch.s;
    const unit = this.unitValues || s === 0;
    const keys = batch.keys;
    const values = batch.values;
    const tau = this.tau;
    let lnR = -Infinity;
    for (let i = 0; i < n; i++) {
      const lw = batch.levels[i]! * Math.LN2;
      rowLog[i] = lw;
      const kk = dotUnit(d, keys, i * d, keys, i * d);
      const vv = unit ? 1 : dotUnit(s, values, i * s, values, i * s);
      const a = lw + (tau * kk) / 2 + 0.5 * Math.log(vv);
      if (a > lnR) lnR = a;
    }
    const c = walkConstant(n, this.delta);
    this.walks++;
    for (let j = 0; j < n; j++) {
      let y = 0;
      if (lnR > -Infinity) {
        const base = rowLog[j]! - 2 * lnR;
        const jo = j * d;
        const jv = j * s;
        // Inlined dot products: this O(n²) loop is the whole cost of a halving.
        for (let i = 0, io = 0, iv = 0; i < j; i++, io += d, iv += s) {
          let kk = 0;
          for (let x = 0; x < d; x++) kk += keys[io + x]! * keys[jo + x]!;
          let g = Math.exp(tau * kk + rowLog[i]! + base);
          if (!unit) {
            let vv = 0;
            for (let x = 0; x < s; x++) vv += values[iv + x]! * values[jv + x]!;
            g *= vv;
          }
          y += signs[i]! * g;
        }
      }
      if (Math.abs(y) > c) {
        this.failures++;
        signs[j] = y > 0 ? -1 : 1;
      } else {
        signs[j] = rng.uniform() < 0.5 - y / (2 * c) ? 1 : -1;
      }
    }
    let plus = 0;
    for (let i = 0; i < n; i++) if (signs[i]! > 0) plus++;
    const keepSign = plus <= n - plus ? 1 : -1;
    let kept = 0;
    for (let i = 0; i < n; i++) if (signs[i] === keepSign) keep[kept++] = i;
    return kept;
  }
}
