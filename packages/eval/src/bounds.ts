import { InvalidParamsError } from '@kv/core';

/**
 * The sizes a bound is evaluated at.
 *
 * @example
 * ```ts
 * import type { BoundInputs } from '@kv/eval';
 * const p: BoundInputs = { n: 4096, d: 64, s: 64, epsilon: 0.1, r: 8 };
 * ```
 */
export interface BoundInputs {
  /** Stream length n. */
  readonly n: number;
  /** Key dimension d. */
  readonly d: number;
  /** Value dimension s. */
  readonly s: number;
  /** Target normalised error ε (algorithms.md §1). */
  readonly epsilon: number;
  /** Radius r: ||q||, ||k|| ≤ r. */
  readonly r: number;
  /** Logit scale τ (default 1/√d); ρ = r²τ. */
  readonly tau?: number;
}

/**
 * One space bound evaluated at given sizes.
 *
 * @example
 * ```ts
 * import { spaceBounds } from '@kv/eval';
 * spaceBounds({ n: 1024, d: 16, s: 16, epsilon: 0.1, r: 4 }).find((b) => b.id === 'taylor')?.words;
 * ```
 */
export interface SpaceBound {
  /** Stable identifier (`exact`, `balancekv`, `taylor`, `hybrid`, `uniform`, `haris-onak`, `balancekv-lower`). */
  readonly id: string;
  /** Display name with its source. */
  readonly name: string;
  /** Whether it is an achievable space (upper) or a space every algorithm needs (lower). */
  readonly kind: 'upper' | 'lower';
  /** The formula, constants included. */
  readonly formula: string;
  /** Space in 32-bit words (may be Infinity when it overflows a double). */
  readonly words: number;
  /** 4·words. */
  readonly bytes: number;
  /** words / (d + s): how many fp32 (k, v) rows that space would hold. */
  readonly tokens: number;
  /** Whether the constant in front is known; false means 1 was assumed (unverified). */
  readonly constantVerified: boolean;
  /** Caveats (regime, what it counts). */
  readonly note: string;
  /** For upper bounds: whether it exceeds the exact cache n·(d + s) (then exact is better). */
  readonly vacuous: boolean;
}

function check(name: string, v: number, integer: boolean): void {
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new InvalidParamsError(`${name} is ${v}, expected a ${integer ? 'positive integer' : 'number > 0'}`);
  }
}

/**
 * Binomial coefficient C(a + b, b) in floating point (Infinity past 1.8e308).
 * @param a - First part.
 * @param b - Second part.
 * @returns C(a+b, b).
 * @example
 * ```ts
 * import { binomial } from '@kv/eval';
 * binomial(2, 2); // C(4, 2) = 6
 * ```
 */
export function binomial(a: number, b: number): number {
  let c = 1;
  for (let i = 1; i <= b; i++) c = (c * (a + i)) / i;
  return c;
}

/**
 * ρ^{g+1}·e^{ρ}/(g+1)!, the relative error of the degree-g Taylor polynomial of e^x on |x| ≤ ρ
 * (algorithms.md §4), computed in log space.
 * @param rho - The logit bound ρ.
 * @param g - The degree.
 * @returns The bound.
 * @example
 * ```ts
 * import { taylorTail } from '@kv/eval';
 * taylorTail(1, 4); // e / 120
 * ```
 */
export function taylorTail(rho: number, g: number): number {
  let logFact = 0;
  for (let i = 2; i <= g + 1; i++) logFact += Math.log(i);
  return Math.exp((g + 1) * Math.log(rho) + rho - logFact);
}

/**
 * The smallest even degree g with {@link taylorTail}(ρ, g) ≤ ε (even degrees keep the truncated
 * series positive).
 * @param rho - The logit bound ρ.
 * @param epsilon - Target relative error.
 * @returns The degree.
 * @example
 * ```ts
 * import { taylorDegree } from '@kv/eval';
 * taylorDegree(1, 0.01); // 4
 * ```
 */
export function taylorDegree(rho: number, epsilon: number): number {
  let g = 0;
  while (taylorTail(rho, g) > epsilon && g < 10_000) g += 2;
  return g;
}

/**
 * The space each theorem promises, and the space lower bounds demand, at (n, d, s, ε, r).
 * Constants that are not stated in the sources are taken as 1 and flagged `constantVerified: false`.
 *
 * @param inputs - Sizes, target error and radius.
 * @returns Upper bounds (exact, BalanceKV, Taylor, hybrid, uniform sampling) then lower bounds
 *   (Haris–Onak, BalanceKV Thm 3.2).
 * @throws `InvalidParamsError` (from `@kv/core`) for non-positive sizes.
 * @remarks
 * - BalanceKV (arXiv 2502.07861, Thm 3.4): O(d√d·e^{2ρ}/ε) words; constant unverified.
 * - Taylor (algorithms.md §4): C(d+g, g)·(s+1) words with g the smallest even degree whose tail
 *   ρ^{g+1}e^ρ/(g+1)! ≤ ε; the count is exact for that g.
 * - Hybrid (arXiv 2606.07205): min over even t of C(d+t, t)(s+1) + d√d·e^{2ρ}·min(1, ρ^{t+1}/(t+1)!)/ε,
 *   moments up to t plus a coreset of the residual kernel; the coreset term is a reconstruction (unverified).
 * - Uniform sampling: (d+s)/ε² words (1/ε² tokens); constant unverified.
 * - Haris–Onak (COLT'25): exact attention needs Θ(n·d) words when d = Ω(log n) and Ω(d·e^d)
 *   when d = o(log n), combined as d·min(n, e^d); constant unverified; a bound for ε = 0.
 * - BalanceKV Thm 3.2: Ω(min{1/ε², d·e^{2ρ}}) words; constant unverified.
 * @example
 * ```ts
 * import { spaceBounds } from '@kv/eval';
 * for (const b of spaceBounds({ n: 4096, d: 64, s: 64, epsilon: 0.1, r: 8 })) console.log(b.id, b.bytes);
 * ```
 */
export function spaceBounds(inputs: BoundInputs): SpaceBound[] {
  const { n, d, s, epsilon: eps, r } = inputs;
  check('n', n, true);
  check('d', d, true);
  check('s', s, true);
  check('epsilon', eps, false);
  check('r', r, false);
  const tau = inputs.tau ?? 1 / Math.sqrt(d);
  check('tau', tau, false);
  const rho = r * r * tau;
  const exactWords = n * (d + s);
  const make = (b: Omit<SpaceBound, 'bytes' | 'tokens' | 'vacuous'>): SpaceBound => ({
    ...b,
    bytes: 4 * b.words,
    tokens: b.words / (d + s),
    vacuous: b.kind === 'upper' && b.words > exactWords,
  });
  const coreset = (d * Math.sqrt(d) * Math.exp(2 * rho)) / eps;
  const g = taylorDegree(rho, eps);
  let hybridWords = Infinity;
  let hybridT = 0;
  for (let t = 0; t <= g; t += 2) {
    // The tail bound exceeds the full kernel for small t; the residual is never larger than it.
    const w = binomial(d, t) * (s + 1) + coreset * Math.min(1, taylorTail(rho, t) / Math.exp(rho));
    if (w < hybridWords) {
      hybridWords = w;
      hybridT = t;
    }
  }
  return [
    make({ id: 'exact', name: 'Exact cache', kind: 'upper', formula: 'n·(d+s)', words: exactWords, constantVerified: true, note: 'every key and value in fp32' }),
    make({
      id: 'balancekv',
      name: 'BalanceKV (Thm 3.4)',
      kind: 'upper',
      formula: 'd·√d·e^{2ρ}/ε',
      words: coreset,
      constantVerified: false,
      note: `ρ = ${rho.toPrecision(3)}; constant taken as 1`,
    }),
    make({
      id: 'taylor',
      name: 'Taylor moments',
      kind: 'upper',
      formula: 'C(d+g, g)·(s+1), g = min even with ρ^{g+1}e^ρ/(g+1)! ≤ ε',
      words: binomial(d, g) * (s + 1),
      constantVerified: true,
      note: `g = ${g}`,
    }),
    make({
      id: 'hybrid',
      name: 'Hybrid moments + coreset',
      kind: 'upper',
      formula: 'min_t C(d+t, t)(s+1) + d√d·e^{2ρ}·min(1, ρ^{t+1}/(t+1)!)/ε',
      words: hybridWords,
      constantVerified: false,
      note: `best t = ${hybridT}; coreset term reconstructed (unverified)`,
    }),
    make({ id: 'uniform', name: 'Uniform sampling', kind: 'upper', formula: '(d+s)/ε²', words: (d + s) / (eps * eps), constantVerified: false, note: '1/ε² tokens; constant taken as 1' }),
    make({
      id: 'haris-onak',
      name: 'Haris–Onak (exact)',
      kind: 'lower',
      formula: 'd·min(n, e^d)',
      words: d * Math.min(n, Math.exp(d)),
      constantVerified: false,
      note: d >= Math.log(n) ? 'd ≥ ln n: Θ(n·d); for exact attention (ε = 0)' : 'd < ln n: Ω(d·e^d); for exact attention (ε = 0)',
    }),
    make({
      id: 'balancekv-lower',
      name: 'BalanceKV Thm 3.2 (lower)',
      kind: 'lower',
      formula: 'min(1/ε², d·e^{2ρ})',
      words: Math.min(1 / (eps * eps), d * Math.exp(2 * rho)),
      constantVerified: false,
      note: 'constant taken as 1',
    }),
  ];
}
