/**
 * A per-query error certificate: a bound on the error of one answer of a polynomial cache,
 * computed from ||q||, the largest key distance to the expansion centre seen so far, the degree and
 * the number of tokens. No assumption on the data is needed: the bound holds for every stream, it
 * simply grows (and passes 1, where it says nothing) when ||q||·||k − c||·τ is large.
 *
 * With r = `relative`: |Ẑ − Z| ≤ r·Z, ||N̂ − N||₂ ≤ r·Z·max_i||v_i||, and the attention output
 * satisfies ||ô − o||₂ ≤ `output` = 2r·max||v||/(1 − r) (Infinity when r ≥ 1).
 *
 * The object is reused: the cache overwrites it at every query. Copy the fields to keep them.
 *
 * @remarks Math. Token i contributes e^{x_i}, x_i = <q, k_i>τ; the cache sums e^{<q,c>τ}·T_g(y_i) with
 * y_i = <q, k_i − c>τ, |y_i| ≤ ρ. Lagrange: |T_g(y) − e^y| ≤ e^y·|y|^{g+1}e^{|y|}/(g+1)!, so each term,
 * and hence Z and every N_j, is within relative error t = ρ^{g+1}e^ρ/(g+1)! (`truncation`). Float64
 * evaluation adds at most γ_K·n·Σ_ℓ ρ^ℓ/ℓ! while Z ≥ n·e^{−ρ}·e^{<q,c>τ} (`rounding`). With
 * r = t + rounding, ô − o = ((N̂ − N) − o(Ẑ − Z))/Ẑ gives ||ô − o|| ≤ 2r·max||v||/(1 − r) (`output`).
 * Multipole cells apply the same bound per cell (ρ_c = ||q||·R_c·τ) and report the largest.
 *
 * @example
 * ```ts
 * import { createKernelSums, PolicyRegistry } from '@kv/core';
 * import { type TaylorCache, polynomialPolicies } from '@kv/polynomial';
 * const cache = new PolicyRegistry().register(...polynomialPolicies)
 *   .create({ policy: 'taylor', keyDim: 2, valueDim: 1, params: { degree: 4, warmup: 0 } }) as TaylorCache;
 * cache.append(new Float32Array([0.5, 0]), new Float32Array([1]));
 * const cert = cache.sumsWithCertificate(new Float32Array([1, 1]), createKernelSums(1));
 * cert.relative; // (0.5·√2·τ)^5·e^{0.5·√2·τ}/5! + rounding
 * ```
 */
export class ErrorCertificate {
  /** The answer was computed exactly (warm-up tokens), so every bound is 0. */
  exact = false;
  /**
   * The certificate failed (bound above the policy's threshold, or a non-positive Z) and the answer
   * came from the fallback: the tokens merged into their mean (bounded: ||ô − o|| ≤ 2·max||v||).
   */
  fallback = false;
  /** Degree of the expansion. */
  degree = 0;
  /** ρ = ||q||·max_i||k_i − c||·τ for this query (the largest over cells for multipole). */
  rho = 0;
  /** Taylor truncation bound ρ^{g+1}e^{ρ}/(g+1)! (the largest over cells for multipole). */
  truncation = 0;
  /** Floating-point rounding bound (see {@link roundingBound}). */
  rounding = 0;
  /** r = truncation + rounding: the relative bound on Z and on the N terms. */
  relative = 0;
  /** Bound on ||ô − o||₂, the error of the attention output (Infinity when r ≥ 1; 2·max||v|| for a fallback). */
  output = 0;
  /** max_i ||v_i|| over the tokens seen. */
  maxValueNorm = 0;

  /** Clears every field (no answer yet). */
  clear(): void {
    this.exact = false;
    this.fallback = false;
    this.degree = 0;
    this.rho = this.truncation = this.rounding = this.relative = this.output = this.maxValueNorm = 0;
  }

  /**
   * Records an answer of the mean-token fallback: no relative bound, and the output bound of two
   * convex combinations of the values, 2·max||v||.
   * @param degree - Degree of the expansion that failed.
   * @param rho - Its ρ for this query.
   * @param maxValueNorm - max_i ||v_i||.
   */
  markFallback(degree: number, rho: number, maxValueNorm: number): void {
    this.exact = false;
    this.fallback = true;
    this.degree = degree;
    this.rho = rho;
    this.truncation = this.rounding = this.relative = Infinity;
    this.maxValueNorm = maxValueNorm;
    this.output = 2 * maxValueNorm;
  }

  /**
   * Copies the fields into a plain object (for logging or keeping past the next query).
   * @returns A snapshot.
   */
  toJSON(): CertificateSnapshot {
    return {
      exact: this.exact,
      fallback: this.fallback,
      degree: this.degree,
      rho: this.rho,
      truncation: this.truncation,
      rounding: this.rounding,
      relative: this.relative,
      output: this.output,
      maxValueNorm: this.maxValueNorm,
    };
  }
}

/**
 * A plain copy of an {@link ErrorCertificate}.
 * @example
 * ```ts
 * import { createKernelSums, PolicyRegistry } from '@kv/core';
 * import { type CertificateSnapshot, polynomialPolicies, type TaylorCache } from '@kv/polynomial';
 * const cache = new PolicyRegistry().register(...polynomialPolicies)
 *   .create({ policy: 'taylor', keyDim: 2, valueDim: 1, params: { degree: 4, warmup: 0 } }) as TaylorCache;
 * cache.append(new Float32Array([0.5, 0]), new Float32Array([1]));
 * const snapshot: CertificateSnapshot = cache.sumsWithCertificate(new Float32Array([1, 1]), createKernelSums(1)).toJSON();
 * JSON.stringify(snapshot); // {"exact":false,"fallback":false,"degree":4,...}
 * ```
 */
export interface CertificateSnapshot {
  /** See {@link ErrorCertificate.exact}. */
  readonly exact: boolean;
  /** See {@link ErrorCertificate.fallback}. */
  readonly fallback: boolean;
  /** See {@link ErrorCertificate.degree}. */
  readonly degree: number;
  /** See {@link ErrorCertificate.rho}. */
  readonly rho: number;
  /** See {@link ErrorCertificate.truncation}. */
  readonly truncation: number;
  /** See {@link ErrorCertificate.rounding}. */
  readonly rounding: number;
  /** See {@link ErrorCertificate.relative}. */
  readonly relative: number;
  /** See {@link ErrorCertificate.output}. */
  readonly output: number;
  /** See {@link ErrorCertificate.maxValueNorm}. */
  readonly maxValueNorm: number;
}
