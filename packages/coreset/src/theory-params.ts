import { InvalidParamsError } from '@kv/core';
import { walkConstant } from './softmax-balance.js';

/**
 * Inputs of {@link deriveBalanceKVTheoryParameters}.
 *
 * @example
 * ```ts
 * import { type BalanceKVTheoryInput, deriveBalanceKVTheoryParameters } from '@kv/coreset';
 * const input: BalanceKVTheoryInput = { epsilon: 0.5, radius: 1, delta: 0.1, horizon: 4096, valueDim: 8, tau: 1 };
 * deriveBalanceKVTheoryParameters(input).blockSize;
 * ```
 */
export interface BalanceKVTheoryInput {
  /** Target normalised error ε ∈ (0, 1]. */
  readonly epsilon: number;
  /** Radius r: every key and query has ||·|| ≤ r. */
  readonly radius: number;
  /** Failure probability δ ∈ (0, 1) for one fixed query. */
  readonly delta: number;
  /** Largest stream length n the guarantee must cover. */
  readonly horizon: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /** Logit scale τ. */
  readonly tau: number;
}

/**
 * The quantities {@link deriveBalanceKVTheoryParameters} derives.
 *
 * @example
 * ```ts
 * import { type BalanceKVTheoryParameters, deriveBalanceKVTheoryParameters } from '@kv/coreset';
 * const p: BalanceKVTheoryParameters = deriveBalanceKVTheoryParameters({ epsilon: 0.5, radius: 1, delta: 0.1, horizon: 4096, valueDim: 8, tau: 1 });
 * p.levels; // ⌊log2(n/t)⌋ + 1
 * ```
 */
export interface BalanceKVTheoryParameters {
  /** Block size t of every MergeAndReduce instance (even). */
  readonly blockSize: number;
  /** ρ = r²τ, the largest logit. */
  readonly rho: number;
  /** Levels L = ⌊log2(n/t)⌋ + 1 a halving can happen at. */
  readonly levels: number;
  /** Upper bound H = 4⌈n/t⌉ on the halvings of all instances together. */
  readonly halvingsBound: number;
  /** Failure probability δ_w = δ/(2H) of each walk. */
  readonly walkDelta: number;
  /** Walk constant c = 30·ln(t/δ_w). */
  readonly walkConstant: number;
  /** Tail multiplier λ_N = √(2c·ln(4Hs/δ)) of the numerator walks. */
  readonly lambdaNumerator: number;
  /** Tail multiplier λ_Z = √(2c·ln(4H/δ)) of the denominator walk. */
  readonly lambdaDenominator: number;
  /** Error share ε_N = ε/(3+ε) of each numerator bucket (relative to n_b·e^{−ρ}·2^b). */
  readonly epsilonNumerator: number;
  /** Error share ε_Z = ε/(3+ε) of the denominator (relative to n·e^{−ρ} ≤ Z). */
  readonly epsilonDenominator: number;
}

/**
 * Derives BalanceKV's block size from (ε, r, d, δ) with explicit constants, so that the theorem's
 * guarantee ||z − Attn(q)|| ≤ ε·||softmax(Kq·τ)||₂·||V||_F holds w.p. ≥ 1−δ for a fixed query,
 * for every prefix of a stream of at most `horizon` tokens with ||k||, ||q|| ≤ r.
 *
 * @param input - ε, r, δ, horizon, s and τ.
 * @returns The derived parameters.
 * @throws `InvalidParamsError` when an input is out of range.
 * @remarks
 * Derivation (ρ = r²τ; buckets b hold values with 2^{b−1} ≤ ||v|| < 2^b, n_b tokens each):
 * 1. One halving of rows of weight w (a {@link SoftmaxBalance} walk, feature radius
 *    R ≤ w·e^{ρ/2}·2^b) errs by at most √s·λ·R·e^{||q||²τ/2} ≤ √s·λ·w·e^{ρ}·2^b
 *    ({@link softmaxBalanceBound}), each coordinate failing w.p. ≤ δ/(2Hs) and each walk w.p. ≤ δ_w.
 * 2. At weight 2^{ℓ−1} at most n_b/(t·2^{ℓ−1}) halvings happen, so summing over the L levels the
 *    bucket's error is ≤ L·(n_b/t)·√s·λ_N·e^{ρ}·2^b. Requiring ≤ ε_N·n_b·e^{−ρ}·2^b gives
 *    t ≥ L·√s·λ_N·e^{2ρ}/ε_N; the denominator (v ≡ 1, s = 1) likewise needs t ≥ L·λ_Z·e^{2ρ}/ε_Z.
 *    t is the smallest even integer meeting both (L, H and c depend on t; the requirement does
 *    not grow with t, so it is found by bisection).
 * 3. Z ≥ n·e^{−ρ}, so |Z̃ − Z| ≤ ε_Z·Z; Σ_b n_b·2^b ≤ 2Σ||v_i|| ≤ 2√n·||V||_F and
 *    ||softmax||₂ ≥ 1/√n, so ||Ñ − N||/Z ≤ 2ε_N·||softmax||₂·||V||_F; with ||Attn|| ≤ ||softmax||₂·||V||_F,
 *    the output error is ≤ (2ε_N + ε_Z)/(1 − ε_Z)·||softmax||₂·||V||_F, which equals ε for
 *    ε_N = ε_Z = ε/(3+ε).
 * 4. Union bound: at most H = 4⌈n/t⌉ halvings (2n/t per instance family), each with walk failure
 *    δ/(2H) and coordinate tails δ/(2Hs): total failure ≤ δ.
 * When the derived t exceeds the horizon it is capped just above it: no block ever fills, the cache
 * stays exact, and the guarantee holds trivially (compression does not pay off at that ε and ρ).
 * The paper states t = O(√s·e^{2ρ}/ε) up to logarithms; the constants here come from the ALS walk
 * (c = 30·ln(n/δ)) and are loose: in practice far smaller blocks meet ε (see `blockSize`).
 * @see BalanceKV, arXiv 2502.07861 (main theorem; Thm 3.4 for MergeAndReduce; Alg. 1).
 * @example
 * ```ts
 * import { deriveBalanceKVTheoryParameters } from '@kv/coreset';
 * deriveBalanceKVTheoryParameters({ epsilon: 0.5, radius: 1, delta: 0.1, horizon: 4096, valueDim: 1, tau: 0.1 }).blockSize;
 * ```
 */
export function deriveBalanceKVTheoryParameters(input: BalanceKVTheoryInput): BalanceKVTheoryParameters {
  const { epsilon, radius, delta, horizon, valueDim, tau } = input;
  if (!(epsilon > 0 && epsilon <= 1)) throw new InvalidParamsError(`epsilon is ${epsilon}, expected in (0, 1]`);
  if (!(radius > 0) || !Number.isFinite(radius)) throw new InvalidParamsError(`radius is ${radius}, expected > 0`);
  if (!(delta > 0 && delta < 1)) throw new InvalidParamsError(`delta is ${delta}, expected in (0, 1)`);
  if (!Number.isInteger(horizon) || horizon < 2) throw new InvalidParamsError(`horizon is ${horizon}, expected an integer >= 2`);
  const s = Math.max(1, valueDim);
  const rho = radius * radius * tau;
  const epsN = epsilon / (3 + epsilon);
  const epsZ = epsN;
  const at = (t: number): BalanceKVTheoryParameters & { need: number } => {
    const H = 4 * Math.ceil(horizon / t);
    const L = Math.max(1, Math.floor(Math.log2(horizon / t)) + 1);
    const walkDelta = delta / (2 * H);
    const c = walkConstant(t, walkDelta);
    const lamN = Math.sqrt(2 * c * Math.log((4 * H * s) / delta));
    const lamZ = Math.sqrt(2 * c * Math.log((4 * H) / delta));
    const need = L * Math.exp(2 * rho) * Math.max((Math.sqrt(s) * lamN) / epsN, lamZ / epsZ);
    return {
      blockSize: t,
      rho,
      levels: L,
      halvingsBound: H,
      walkDelta,
      walkConstant: c,
      lambdaNumerator: lamN,
      lambdaDenominator: lamZ,
      epsilonNumerator: epsN,
      epsilonDenominator: epsZ,
      need,
    };
  };
  // need(t) does not increase with t (t/δ_w = 8⌈n/t⌉t/δ stays within a factor 2, L and H fall),
  // so the smallest even t with need(t) ≤ t is found by bisection. Past the horizon no block
  // would ever fill: the cache is then exact, which meets any ε.
  const beyond = 2 * Math.ceil((horizon + 1) / 2);
  const ok = (t: number): boolean => at(t).need <= t;
  let chosen = beyond;
  if (ok(2)) chosen = 2;
  else if (ok(beyond - 2)) {
    let lo = 1; // 2·lo fails
    let hi = (beyond - 2) / 2; // 2·hi meets it
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (ok(2 * mid)) hi = mid;
      else lo = mid;
    }
    chosen = 2 * hi;
  }
  const { need: _need, ...out } = at(chosen);
  return out;
}

