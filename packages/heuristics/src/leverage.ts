import { integerParam, type PolicyDefinition, type PolicySpec, Rng } from '@kv/core';
import { EvictionCache } from './eviction/eviction-cache.js';
import { type EvictionDefaults, evictionParams } from './eviction/params.js';
import type { Scorer } from './eviction/scorer.js';

/**
 * Statistical leverage of each kept key among the kept keys: with X the centred keys (one row per
 * token, right-sketched by a seeded Gaussian Φ of `sketch` columns, scaled 1/√sketch, when
 * `sketch` < d),
 * leverage_i = x_iᵀ(XᵀX)⁻¹x_i, the diagonal of the hat matrix, through a Cholesky factor of the
 * Gram matrix (with a small jitter when it is singular). Scores are z-normalised, as kvpress.
 * Rows that point where no other row does have leverage near 1 and stay; rows in a crowded
 * direction share it and go. Query-free.
 *
 * @param keyDim - Key dimension d.
 * @param sketch - Sketch columns (0 or ≥ d: no sketch, exact leverage).
 * @param seed - Seed of the sketch (regenerated at every scoring, so nothing is held).
 * @returns A computed scorer (O(n·d·k + n·k²) per scoring).
 * @example
 * ```ts
 * import { leverageScorer } from '@kv/heuristics';
 * leverageScorer(64, 48, 1).queries; // false
 * ```
 * @see Chari & Van Durme, Compactor: Calibrated Query-Agnostic KV Cache Compression with Approximate Leverage Scores (arXiv 2507.08143).
 */
export function leverageScorer(keyDim: number, sketch: number, seed: number): Scorer {
  const sketched = sketch > 0 && sketch < keyDim;
  const k = sketched ? sketch : keyDim;
  const phi = new Float64Array(sketched ? keyDim * k : 0);
  const gram = new Float64Array(k * k);
  const chol = new Float64Array(k * k);
  const mean = new Float64Array(k);
  const row = new Float64Array(keyDim);
  const x = new Float64Array(k);
  let xs = new Float64Array(0);

  const project = (from: Float64Array, to: Float64Array, offset: number): void => {
    if (!sketched) {
      to.set(from, offset);
      return;
    }
    for (let c = 0; c < k; c++) {
      let acc = 0;
      for (let j = 0; j < keyDim; j++) acc += from[j]! * phi[j * k + c]!;
      to[offset + c] = acc;
    }
  };

  // L with LLᵀ = G + jitter·I; the jitter grows until the factorisation succeeds.
  const factor = (scale: number): void => {
    for (let jitter = 1e-6 * scale, tries = 0; tries < 12; tries++, jitter *= 10) {
      let ok = true;
      for (let i = 0; i < k && ok; i++) {
        for (let j = 0; j <= i; j++) {
          let acc = gram[i * k + j]! + (i === j ? jitter : 0);
          for (let p = 0; p < j; p++) acc -= chol[i * k + p]! * chol[j * k + p]!;
          if (i === j) {
            if (!(acc > 0)) {
              ok = false;
              break;
            }
            chol[i * k + i] = Math.sqrt(acc);
          } else chol[i * k + j] = acc / chol[j * k + j]!;
        }
      }
      if (ok) return;
    }
    chol.fill(0);
    for (let i = 0; i < k; i++) chol[i * k + i] = 1;
  };

  return {
    name: 'key leverage',
    columns: 0,
    probs: false,
    queries: false,
    live: false,
    nonNegative: false,
    fixedBytes: () => 0,
    score(view, out) {
      const n = view.count;
      const store = view.store;
      if (sketched) {
        const rng = new Rng(seed);
        const f = 1 / Math.sqrt(k);
        for (let i = 0; i < phi.length; i++) phi[i] = rng.gaussian() * f;
      }
      if (xs.length < n * k) xs = new Float64Array(Math.max(n * k, 2 * xs.length));
      mean.fill(0);
      for (let i = 0; i < n; i++) {
        store.readKey(i, row);
        project(row, xs, i * k);
        for (let c = 0; c < k; c++) mean[c] += xs[i * k + c]!;
      }
      for (let c = 0; c < k; c++) mean[c] /= Math.max(1, n);
      gram.fill(0);
      let trace = 0;
      for (let i = 0; i < n; i++) {
        const o = i * k;
        for (let a = 0; a < k; a++) xs[o + a] -= mean[a]!;
        for (let a = 0; a < k; a++) {
          const xa = xs[o + a]!;
          for (let b = 0; b <= a; b++) gram[a * k + b] += xa * xs[o + b]!;
        }
      }
      for (let a = 0; a < k; a++) trace += gram[a * k + a]!;
      factor(trace > 0 ? trace / k : 1);
      let sum = 0;
      let sq = 0;
      for (let i = 0; i < n; i++) {
        // ‖L⁻¹x_i‖² by forward substitution.
        let lev = 0;
        for (let a = 0; a < k; a++) {
          let acc = xs[i * k + a]!;
          for (let p = 0; p < a; p++) acc -= chol[a * k + p]! * x[p]!;
          x[a] = acc / chol[a * k + a]!;
          lev += x[a]! * x[a]!;
        }
        out[i] = lev;
        sum += lev;
        sq += lev * lev;
      }
      const m = sum / Math.max(1, n);
      const sd = Math.sqrt(Math.max(0, sq / Math.max(1, n) - m * m));
      const inv = 1 / Math.max(sd, 1e-6);
      for (let i = 0; i < n; i++) out[i] = (out[i]! - m) * inv;
      return out;
    },
  };
}

/**
 * Leverage's schedule: rescore once a sixteenth of the capacity has arrived since the last
 * scoring, so a scoring's O(n·d²) costs O(16·d²) per token whatever the context length.
 */
const LEVERAGE_DEFAULTS: EvictionDefaults = { everyRatio: 1 / 16 };

/**
 * Leverage-score eviction (Compactor's query-agnostic part): keeps the keys of largest
 * statistical leverage among the kept keys, those that span directions no other key covers.
 *
 * @remarks
 * As kvpress `LeverageScorePress` (centred keys, Cholesky solve, z-scores; its right Gaussian
 * sketch of 48 columns with `sketch: 48`, exact leverage by default, which costs little more at
 * d ≤ 128 and holds nothing), on the keys the cache holds, which are post-RoPE (the paper scores pre-RoPE
 * keys; a cache only sees rotated ones). Compactor blends this with a non-causal attention score
 * of the prompt, which needs the prompt's queries; that part is not included. Scoring costs
 * O(n·d·k + n·k²), so the cache rescores every `everyRatio` = 1/16 of its capacity by default
 * (tokens that arrive in between are kept until scored); the leverage of the kept keys moves by
 * about the share of rows that changed, so scores at most 1/16 stale rank nearly as fresh ones.
 * On the demo this cut the policy's time 8× (`every: 1` restores per-step scoring).
 * No approximation guarantee. Defining behaviour (tested): a key off the span of the others is
 * kept while keys repeating one direction go.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { leveragePolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(leveragePolicy)
 *   .create({ policy: 'leverage', keyDim: 64, valueDim: 64, budget: { fraction: 1 / 8 } });
 * ```
 * @see Chari & Van Durme, Compactor (arXiv 2507.08143).
 */
export class LeverageScore extends EvictionCache {
  /**
   * @param spec - A validated spec with a budget; `params.sketch` (0: exact) and the shared eviction parameters.
   * @throws `InvalidParamsError` on a bad parameter (the shared eviction parameters included).
   */
  constructor(spec: PolicySpec) {
    const sketch = integerParam(spec.params, 'sketch', { default: 0, min: 0 });
    super(spec, leverageScorer(spec.keyDim, sketch, spec.seed ?? 0), LEVERAGE_DEFAULTS);
  }
}

/**
 * Registry entry of {@link LeverageScore} (`"leverage"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { leveragePolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(leveragePolicy);
 * ```
 */
export const leveragePolicy: PolicyDefinition = {
  name: 'leverage',
  summary: 'Query-free: keeps the keys of largest (sketched) statistical leverage (Compactor).',
  params: [{ name: 'sketch', type: 'integer', default: 0, description: 'Gaussian sketch columns (0 or ≥ d: exact leverage).' }, ...evictionParams(LEVERAGE_DEFAULTS)],
  budget: 'required',
  create: (spec) => new LeverageScore(spec),
};
