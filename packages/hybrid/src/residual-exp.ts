/** ln(n!) by summation (exact to rounding for the small n used here). */
function logFactorial(n: number): number {
  let s = 0;
  for (let i = 2; i <= n; i++) s += Math.log(i);
  return s;
}

/**
 * Sign of the Taylor tail exp_{>t}(x) = Σ_{ℓ>t} x^ℓ/ℓ!.
 *
 * @param x - The argument.
 * @param t - The truncation degree (≥ 0).
 * @returns +1, −1 or 0 (at x = 0).
 * @remarks By Lagrange, exp_{>t}(x) = e^ξ·x^{t+1}/(t+1)! for some ξ between 0 and x, so its sign is
 * that of x^{t+1}: positive for x > 0, (−1)^{t+1} for x < 0.
 * @example
 * ```ts
 * import { residualSign } from '@kv/hybrid';
 * residualSign(-0.5, 2); // −1
 * ```
 */
export function residualSign(x: number, t: number): number {
  if (x > 0) return 1;
  if (x === 0) return 0;
  return t % 2 === 1 ? 1 : -1;
}

/**
 * ln |exp_{>t}(x)|, with exp_{>t}(x) = Σ_{ℓ>t} x^ℓ/ℓ! = e^x − Σ_{ℓ≤t} x^ℓ/ℓ!, computed without
 * cancellation and without overflow for any finite x.
 *
 * @param x - The argument (a logit <q,k>τ).
 * @param t - The truncation degree (integer ≥ 0).
 * @returns ln |exp_{>t}(x)| (−Infinity at x = 0 or on underflow of the leading term's logarithm never:
 *   it is computed in log space).
 * @remarks Three regimes:
 * - x ≥ 0 and x ≤ 2(t+1) + 30, or x < 0 and |x| ≤ t+1: the tail series factored as
 *   x^{t+1}/(t+1)!·S, S = Σ_j x^j (t+1)!/(t+1+j)!. For x ≥ 0 every term is positive (no
 *   cancellation); for −(t+1) ≤ x < 0 the terms alternate and decrease from 1, so S ∈ (1 − |x|/(t+2), 1]
 *   is computed to a few ulps.
 * - x > 2(t+1) + 30: ln R = x + ln(1 − e^{−x}·T_t(x)), where e^{−x}T_t(x) is a Poisson CDF below
 *   e^{−30}, summed in log space.
 * - x < −(t+1): R = e^x − T_t(x) with T_t(x) = x^t/t!·F, F = Σ_j (1/x)^j t!/(t−j)! (terms decrease,
 *   F ∈ (0, 1]); e^x is then far below |T_t(x)|, so ln|R| = ln|T_t(x)| + log1p(∓e^{x − ln|T_t|}).
 * @example
 * ```ts
 * import { logAbsResidual } from '@kv/hybrid';
 * Math.exp(logAbsResidual(1e-3, 2)); // ≈ 1.667e-10 (= x³/6 + …), no cancellation
 * ```
 */
export function logAbsResidual(x: number, t: number): number {
  if (x === 0) return -Infinity;
  const t1 = t + 1;
  if ((x > 0 && x <= 2 * t1 + 30) || (x < 0 && -x <= t1)) {
    let term = 1;
    let sum = 1;
    for (let j = 1; j < 4096; j++) {
      term *= x / (t1 + j);
      sum += term;
      if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
    }
    return t1 * Math.log(Math.abs(x)) - logFactorial(t1) + Math.log(sum);
  }
  if (x > 0) {
    // e^{−x}·T_t(x) = Σ_{ℓ≤t} e^{ℓ ln x − x − ln ℓ!}, below e^{−30} here.
    let p = 0;
    let lf = 0;
    const lx = Math.log(x);
    for (let l = 0; l <= t; l++) {
      if (l > 0) lf += Math.log(l);
      p += Math.exp(l * lx - x - lf);
    }
    return x + Math.log1p(-p);
  }
  // x < −(t+1): T_t(x) = x^t/t!·F, F = Σ_{j≤t} (1/x)^j·t!/(t−j)!.
  let term = 1;
  let f = 1;
  for (let j = 1; j <= t; j++) {
    term *= (t - j + 1) / x;
    f += term;
  }
  const logT = t * Math.log(-x) - logFactorial(t) + Math.log(f);
  // sign(T_t(x)) = (−1)^t; R = e^x − T_t(x). Even t: R = −(|T| − e^x); odd t: R = |T| + e^x.
  const ratio = Math.exp(x - logT);
  return logT + Math.log1p(t % 2 === 0 ? -ratio : ratio);
}

/**
 * exp_{>t}(x) = Σ_{ℓ>t} x^ℓ/ℓ! as a plain number (may overflow to ±Infinity for x > 709; use
 * {@link logAbsResidual} and {@link residualSign} in hot paths).
 *
 * @param x - The argument.
 * @param t - The truncation degree (≥ 0).
 * @returns The tail of the exponential series.
 * @example
 * ```ts
 * import { residualExp } from '@kv/hybrid';
 * residualExp(1, 0); // e − 1
 * ```
 */
export function residualExp(x: number, t: number): number {
  const sign = residualSign(x, t);
  return sign === 0 ? 0 : sign * Math.exp(logAbsResidual(x, t));
}

/**
 * The bound on the squared feature norm of the residual kernel exp_{>t}(<k,k'>τ) for
 * ||k||²τ ≤ ρ: exp_{>t}(ρ) ≤ ρ^{t+1}e^{ρ}/(t+1)! (Lagrange).
 *
 * @param rho - ρ = r²τ ≥ 0.
 * @param t - The truncation degree.
 * @returns ρ^{t+1}e^{ρ}/(t+1)! (computed in log space).
 * @example
 * ```ts
 * import { residualNormBound } from '@kv/hybrid';
 * residualNormBound(1, 4); // e/120 ≈ 0.0227
 * ```
 */
export function residualNormBound(rho: number, t: number): number {
  if (rho <= 0) return 0;
  return Math.exp((t + 1) * Math.log(rho) + rho - logFactorial(t + 1));
}
