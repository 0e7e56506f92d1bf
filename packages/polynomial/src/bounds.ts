import { InvalidParamsError } from '@kv/core';

/** ln(n!) by summation (exact to rounding for the small n used here). */
export function logFactorial(n: number): number {
  let s = 0;
  for (let i = 2; i <= n; i++) s += Math.log(i);
  return s;
}

/**
 * The a-priori relative error of the degree-g Taylor polynomial of e^x on |x| ≤ ρ:
 * ρ^{g+1}·e^{ρ}/(g+1)!.
 *
 * @param rho - Logit radius ρ ≥ 0 (a bound on ||q||·||k − c||·τ).
 * @param g - Degree.
 * @returns The bound (computed in log space, so large ρ gives Infinity rather than NaN).
 * @remarks Lagrange: e^x − T_g(x) = e^ξ x^{g+1}/(g+1)! for some ξ between 0 and x. Dividing by
 * e^x, |1 − T_g(x)e^{−x}| ≤ e^{ξ−x}|x|^{g+1}/(g+1)! and ξ − x ≤ |x|, so each token's term
 * e^{<q,k>τ} is reproduced within that relative error, and so are Z and every N_j term by term.
 * @example
 * ```ts
 * import { taylorRemainderBound } from '@kv/polynomial';
 * taylorRemainderBound(1, 6); // e/7! ≈ 5.4e-4
 * ```
 */
export function taylorRemainderBound(rho: number, g: number): number {
  if (rho <= 0) return 0;
  return Math.exp((g + 1) * Math.log(rho) + rho - logFactorial(g + 1));
}

/**
 * Options of {@link taylorDegreeFor}.
 * @example
 * ```ts
 * import { type DegreeOptions, taylorDegreeFor } from '@kv/polynomial';
 * const options: DegreeOptions = { even: false, maxDegree: 32 };
 * taylorDegreeFor(1, 1e-3, options); // 6, the smallest g with e/(g+1)! ≤ 1e-3
 * ```
 */
export interface DegreeOptions {
  /** Round up to an even degree (default true: the truncated series is then positive). */
  readonly even?: boolean;
  /** Largest degree to consider (default 255). */
  readonly maxDegree?: number;
}

/**
 * The smallest degree g whose Taylor remainder bound ρ^{g+1}e^{ρ}/(g+1)! is at most ε.
 *
 * @param rho - Logit radius ρ > 0.
 * @param eps - Target relative error ε in (0, 1).
 * @param options - Evenness and a degree cap.
 * @returns The degree (even by default).
 * @throws `InvalidParamsError` when ρ or ε is out of range or no degree up to the cap suffices.
 * @remarks Grows like e²ρ + ln(1/ε) (algorithms.md §4); Aggarwal–Alman show
 * Θ(max{B, log(1/δ)/log(log(1/δ)/B)}) is necessary for any polynomial on [0, B].
 * @example
 * ```ts
 * import { taylorDegreeFor } from '@kv/polynomial';
 * taylorDegreeFor(1, 1e-3); // 6
 * ```
 */
export function taylorDegreeFor(rho: number, eps: number, options: DegreeOptions = {}): number {
  if (!(rho > 0 && Number.isFinite(rho))) throw new InvalidParamsError(`rho is ${rho}, expected a finite number > 0`);
  if (!(eps > 0 && eps < 1)) throw new InvalidParamsError(`eps is ${eps}, expected a number in (0, 1)`);
  const even = options.even ?? true;
  const cap = options.maxDegree ?? 255;
  for (let g = 0; g <= cap; g++) {
    if (even && g % 2 === 1) continue;
    if (taylorRemainderBound(rho, g) <= eps) return g;
  }
  throw new InvalidParamsError(`no degree ≤ ${cap} reaches eps = ${eps} at rho = ${rho}`);
}

/**
 * Σ_{ℓ ≤ g} ρ^ℓ/ℓ!, the truncated series with absolute values (bounds the size of the terms a
 * query sums, which is what floating-point rounding is proportional to).
 *
 * @param rho - Logit radius ρ ≥ 0.
 * @param g - Degree.
 * @returns The sum.
 * @example
 * ```ts
 * import { truncatedExp } from '@kv/polynomial';
 * truncatedExp(1, 2); // 2.5
 * ```
 */
export function truncatedExp(rho: number, g: number): number {
  let term = 1;
  let sum = 1;
  for (let l = 1; l <= g; l++) {
    term *= rho / l;
    sum += term;
  }
  return sum;
}

/**
 * A bound on the relative rounding error of a Float64 moment evaluation: with n tokens summed into
 * each moment and D monomials summed per query, γ_K = K·u/(1 − K·u) for K = n + D + 4g + 16 and
 * u = 2^{−53}, times Σ_ℓ ρ^ℓ/ℓ! (the size of the terms) over e^{−ρ} (the smallest a term can be).
 *
 * @param tokens - Tokens summed into the moments.
 * @param monomials - Monomials per query (the basis size D).
 * @param g - Degree.
 * @param rho - Logit radius of this query.
 * @returns The bound on |fl(Ẑ) − Ẑ|/Z (and on the N terms relative to Z·max||v||).
 * @remarks Standard summation analysis (Higham, Accuracy and Stability, §3.1): each moment is a
 * sum of n products of at most 2g+2 roundings, a query sums D products; so the computed value is
 * within γ_K Σ_i Σ_ℓ |x_i|^ℓ/ℓ! ≤ γ_K·n·E_g(ρ) of the exact polynomial, and Z ≥ n·e^{−ρ}.
 * @example
 * ```ts
 * import { roundingBound } from '@kv/polynomial';
 * roundingBound(1000, 495, 4, 1) < 1e-11; // true
 * ```
 */
export function roundingBound(tokens: number, monomials: number, g: number, rho: number): number {
  const k = (tokens + monomials + 4 * g + 16) * 2 ** -53;
  const gamma = k / (1 - k);
  return gamma * truncatedExp(rho, g) * Math.exp(rho);
}

/**
 * A bound on the attention output error ||ô − o||₂ implied by relative errors of the kernel sums:
 * if |Ẑ − Z| ≤ r·Z and ||N̂ − N|| ≤ r·Z·max||v||, then ||ô − o|| ≤ 2r·max||v||/(1 − r).
 *
 * @param relative - r, the relative bound on Z and the N terms.
 * @param maxValueNorm - max_i ||v_i||.
 * @returns The bound (Infinity when r ≥ 1).
 * @remarks ô − o = ((N̂ − N) − o(Ẑ − Z))/Ẑ, ||o|| ≤ max||v|| (o is a convex combination of the
 * values) and Ẑ ≥ (1 − r)Z.
 * @example
 * ```ts
 * import { outputBound } from '@kv/polynomial';
 * outputBound(0.01, 1); // ≈ 0.0202
 * ```
 */
export function outputBound(relative: number, maxValueNorm: number): number {
  if (!(relative < 1)) return Infinity;
  return (2 * relative * maxValueNorm) / (1 - relative);
}
