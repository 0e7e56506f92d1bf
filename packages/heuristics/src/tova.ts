import type { KernelSums, PolicyDefinition, PolicySpec } from '@kv/core';
import { EvictionCache } from './eviction-cache.js';

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
  /** @param spec - A validated spec with a budget. */
  constructor(spec: PolicySpec) {
    super(spec, { slotData: true });
  }

  /**
   * The token the last query attended to least (ties: the oldest).
   * @returns Its slot.
   */
  protected victim(): number {
    return this.lowestScoreSlot();
  }

  /**
   * A new token is unscored until a query sees it.
   * @param slot - Its slot.
   */
  protected override onStored(slot: number): void {
    this.slotData[slot] = Infinity;
  }

  /**
   * Exact attention over the kept tokens; the probabilities become the scores.
   * @param query - Validated query.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  protected override onSums(query: Float32Array, out: KernelSums): KernelSums {
    return this.store.sumsWithProbs(query, this.tau, out, this.slotData);
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
  params: [],
  budget: 'required',
  create: (spec) => new Tova(spec),
};
