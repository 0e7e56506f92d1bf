import { dotUnit, InvalidParamsError, type Rng } from '@kv/core';
import type { Halver, RowBatch } from '@kv/coreset';
import { logAbsResidual, residualSign } from './residual-exp.js';

/**
 * Options of {@link ResidualBalance}.
 *
 * @example
 * ```ts
 * import { ResidualBalance, type ResidualBalanceOptions } from '@kv/hybrid';
 * const options: ResidualBalanceOptions = { tau: 0.5, degree: 2, walkConstant: 1 };
 * const walk = new ResidualBalance(options);
 * ```
 */
export interface ResidualBalanceOptions {
  /** Logit scale τ. */
  readonly tau: number;
  /** Taylor degree t: the kernel is exp_{>t}(<k,k'>τ)·(<v,v'> + 1). */
  readonly degree: number;
  /**
   * Walk constant c: row j gets sign +1 with probability 1/2 − y/(2c) (y normalised by the largest
   * squared feature norm). The Alweiss–Liu–Sawhney analysis uses c = 30·ln(n/δ) (`walkConstant`
   * from `@kv/coreset`); smaller c balances harder (greedy beyond |y| > c).
   */
  readonly walkConstant: number;
}

/**
 * The kernelized self-balancing walk on the residual kernel
 * K((k,v),(k',v')) = exp_{>t}(<k,k'>τ)·(<v,v'> + 1), a PSD kernel (a sum of powers of a linear
 * kernel with positive coefficients, times a linear kernel plus a constant), so one signing balances
 * the numerator and the denominator of the residual part at once. Keeps the smaller sign class.
 *
 * @remarks
 * - Its feature norm² is exp_{>t}(||k||²τ)·(||v||² + 1) ≤ ρ^{t+1}e^{ρ}/(t+1)!·(||v||² + 1): the
 *   discrepancy, hence the coreset error, shrinks by that factor against the plain exponential kernel.
 * - Kernel entries are evaluated as sign·e^{ln|exp_{>t}| + ln w_i + ln w_j − 2 ln R} with R the
 *   largest weighted feature norm, so every normalised entry is ≤ 1 in size and nothing overflows.
 * - Failures (|y| > c) get the greedy sign and are counted in {@link ResidualBalance.failures}.
 * - Cost O(n²(d+s)) per halving, O(n) scratch.
 * @see Alweiss, Liu, Sawhney, "Discrepancy minimization via a self-balancing walk", STOC 2021.
 * @see Kochetkova et al., "Streaming Attention Approximation via Discrepancy Theory", arXiv 2502.07861 (Alg. 2).
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { RowBatch } from '@kv/coreset';
 * import { ResidualBalance } from '@kv/hybrid';
 * const batch = new RowBatch(2, 1, 8);
 * for (let i = 0; i < 8; i++) batch.push([Math.cos(i), Math.sin(i)], 0, [1], 0, i, 0);
 * new ResidualBalance({ tau: 1, degree: 2, walkConstant: 1 }).select(batch, new Rng(1), new Int32Array(8));
 * ```
 */
export class ResidualBalance implements Halver {
  /** Logit scale τ. */
  readonly tau: number;
  /** Taylor degree t. */
  readonly degree: number;
  /** Walk constant c. */
  readonly walkConstant: number;
  /** Rows signed greedily because |y| exceeded c. */
  failures = 0;
  /** Walks run. */
  walks = 0;
  private signs = new Int8Array(0);
  private rowLog = new Float64Array(0);

  /**
   * @param options - τ, t and c.
   * @throws `InvalidParamsError` (from `@kv/core`) for τ ≤ 0, a negative or non-integer t, or c ≤ 0.
   */
  constructor(options: ResidualBalanceOptions) {
    if (!(options.tau > 0) || !Number.isFinite(options.tau)) throw new InvalidParamsError(`tau is ${options.tau}, expected > 0`);
    if (!Number.isInteger(options.degree) || options.degree < 0) throw new InvalidParamsError(`degree is ${options.degree}, expected an integer >= 0`);
    if (!(options.walkConstant > 0) || !Number.isFinite(options.walkConstant)) {
      throw new InvalidParamsError(`walkConstant is ${options.walkConstant}, expected > 0`);
    }
    this.tau = options.tau;
    this.degree = options.degree;
    this.walkConstant = options.walkConstant;
  }

  /**
   * Signs the rows and keeps the smaller class.
   * @param batch - Rows to halve (unchanged).
   * @param rng - Source of randomness.
   * @param keep - Receives the kept row indices, ascending.
   * @returns The number of kept rows (≤ batch.count / 2).
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
    const keys = batch.keys;
    const values = batch.values;
    const tau = this.tau;
    const t = this.degree;
    let lnR = -Infinity;
    for (let i = 0; i < n; i++) {
      const lw = batch.levels[i]! * Math.LN2;
      rowLog[i] = lw;
      const kk = dotUnit(d, keys, i * d, keys, i * d) * tau;
      const vv = s > 0 ? dotUnit(s, values, i * s, values, i * s) : 0;
      const a = lw + 0.5 * (logAbsResidual(kk, t) + Math.log1p(vv));
      if (a > lnR) lnR = a;
    }
    const c = this.walkConstant;
    this.walks++;
    for (let j = 0; j < n; j++) {
      let y = 0;
      if (lnR > -Infinity) {
        const base = rowLog[j]! - 2 * lnR;
        const jo = j * d;
        const jv = j * s;
        for (let i = 0, io = 0, iv = 0; i < j; i++, io += d, iv += s) {
          let kk = 0;
          for (let x = 0; x < d; x++) kk += keys[io + x]! * keys[jo + x]!;
          const arg = kk * tau;
          const sg = residualSign(arg, t);
          if (sg === 0) continue;
          let vv = 1;
          for (let x = 0; x < s; x++) vv += values[iv + x]! * values[jv + x]!;
          y += signs[i]! * sg * vv * Math.exp(logAbsResidual(arg, t) + rowLog[i]! + base);
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
