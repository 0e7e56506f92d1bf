import type { PolicyDefinition, PolicySpec } from '@kv/core';
import { EvictionCache } from './eviction/eviction-cache.js';
import { evictionParams } from './eviction/params.js';
import type { Scorer } from './eviction/scorer.js';

/**
 * H2O's score: the attention probability every answered query paid to a token, summed over the
 * queries since it was stored (Float32, one column). New tokens start at 0.
 *
 * @returns A live scorer.
 * @example
 * ```ts
 * import { accumulatedAttentionScorer } from '@kv/heuristics';
 * accumulatedAttentionScorer().probs; // true: it reads every query's attention
 * ```
 */
export function accumulatedAttentionScorer(): Scorer {
  return {
    name: 'accumulated attention',
    columns: 1,
    probs: true,
    queries: true,
    live: true,
    nonNegative: true,
    fixedBytes: () => 0,
    stored(view, slot) {
      view.column(0)[slot] = 0;
    },
    observe(view, _query, probs) {
      const c = view.column(0);
      for (let i = 0, n = view.count; i < n; i++) c[i] += probs![i]!;
    },
    score: (view) => view.column(0),
  };
}

/**
 * H2O (heavy-hitter oracle): every answered query adds its attention probabilities to the score
 * of each kept token; the cache keeps the last R tokens plus the highest-scoring ("heavy
 * hitter") tokens of the rest, evicting the lowest score (ties: the oldest).
 *
 * @remarks
 * Faithful to `H2OKVCache_LayerWise(hh_size, recent_size)` (FMInference/H2O), with the eviction
 * done *before* the arriving token is stored, so `stored` never exceeds the budget. On the
 * append-then-attend stream the order is: append k_t (evicting, if full, the lowest score
 * accumulated through q_{t−1} among tokens outside the last R − 1 positions), then attend q_t
 * (which adds its probabilities to every kept token, k_t included). With capacity C and recent R
 * this makes exactly the decisions of the reference with cache size C − 1 and recent R − 1, and
 * attends over the same C tokens (the reference evicts right after attending; here that eviction
 * is deferred to the next append). R is `recent`, or `recentRatio` (default 0.5) of the capacity.
 * Scores are Float32 (4 bytes per row). The observation queries of `prefill` are not used.
 * No approximation guarantee: it is a baseline.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { h2oPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(h2oPolicy)
 *   .create({ policy: 'h2o', keyDim: 64, valueDim: 64, budget: 256, params: { recent: 128 } });
 * ```
 * @see Zhang et al., H2O: Heavy-Hitter Oracle for Efficient Generative Inference (arXiv 2306.14048).
 */
export class H2O extends EvictionCache {
  /**
   * @param spec - A validated spec with a budget; `params.recent` (integer ≥ 0) or
   *   `params.recentRatio` (in [0, 1], default 0.5), and the shared eviction parameters.
   * @throws An `InvalidParamsError` when both are given or one is out of range.
   */
  constructor(spec: PolicySpec) {
    super(spec, accumulatedAttentionScorer(), { recentRatio: 0.5 });
  }
}

/**
 * Registry entry of {@link H2O} (`"h2o"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { h2oPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(h2oPolicy);
 * ```
 */
export const h2oPolicy: PolicyDefinition = {
  name: 'h2o',
  summary: 'Heavy hitters by accumulated attention plus the last R tokens; evicts the lowest score.',
  params: evictionParams({ recentRatio: 0.5 }),
  budget: 'required',
  create: (spec) => new H2O(spec),
};
