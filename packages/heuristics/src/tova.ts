import type { PolicyDefinition, PolicySpec } from '@kv/core';
import { EvictionCache } from './eviction/eviction-cache.js';
import { evictionParams } from './eviction/params.js';
import type { Scorer } from './eviction/scorer.js';

/**
 * TOVA's score: the attention probability the most recent query paid to a token (Float32, one
 * column); a token stored since is unscored (`+Infinity`) until a query sees it.
 *
 * @returns A live scorer.
 * @example
 * ```ts
 * import { lastAttentionScorer } from '@kv/heuristics';
 * lastAttentionScorer().live; // true
 * ```
 */
export function lastAttentionScorer(): Scorer {
  return {
    name: 'last attention',
    columns: 1,
    probs: true,
    queries: true,
    live: true,
    nonNegative: true,
    fixedBytes: () => 0,
    stored(view, slot) {
      view.column(0)[slot] = Infinity;
    },
    observe(view, _query, probs) {
      const c = view.column(0);
      for (let i = 0, n = view.count; i < n; i++) c[i] = probs![i]!;
    },
    score: (view) => view.column(0),
  };
}

/**
 * TOVA (token omission via attention): once over budget, evicts the token the most recent query
 * attended to least.
 *
 * @remarks
 * Scores are the attention probabilities of the last answered query (not accumulated). The
 * eviction happens when the next token is appended, before it is stored, so `stored` never
 * exceeds the budget: append k_t (evicting, if full, the token q_{t−1} attended to least), then
 * attend q_t. With capacity C this makes exactly the decisions of the reference TOVA with cache
 * size C − 1 (which attends over C − 1 kept tokens plus the new one, then evicts the least
 * attended); the reference evicts right after attending, this cache at the next append. A token
 * appended since the last query has no score yet and is evicted only if no scored token remains
 * (then the oldest goes), so prefill without queries degrades to a sliding window.
 * No approximation guarantee: it is a baseline.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { tovaPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(tovaPolicy)
 *   .create({ policy: 'tova', keyDim: 64, valueDim: 64, budget: 256 });
 * ```
 * @see Oren et al., Transformers are Multi-State RNNs (arXiv 2401.06104).
 */
export class Tova extends EvictionCache {
  /**
   * @param spec - A validated spec with a budget and the shared eviction parameters.
   * @throws `InvalidParamsError` on a bad parameter (the shared eviction parameters included).
   */
  constructor(spec: PolicySpec) {
    super(spec, lastAttentionScorer());
  }
}

/**
 * Registry entry of {@link Tova} (`"tova"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { tovaPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(tovaPolicy);
 * ```
 */
export const tovaPolicy: PolicyDefinition = {
  name: 'tova',
  summary: 'Evicts the token the most recent query attended to least, once over budget.',
  params: evictionParams(),
  budget: 'required',
  create: (spec) => new Tova(spec),
};
