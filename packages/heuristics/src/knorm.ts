import { nrm2, type PolicyDefinition, type PolicySpec } from '@kv/core';
import { EvictionCache } from './eviction/eviction-cache.js';
import { evictionParams } from './eviction/params.js';
import type { Scorer } from './eviction/scorer.js';

/**
 * K-norm's score: −‖k‖₂ (Float32, one column), so the smallest-norm keys are kept; an arriving
 * key of larger norm than every kept one is not stored.
 *
 * @returns A live, query-free scorer.
 * @example
 * ```ts
 * import { keyNormScorer } from '@kv/heuristics';
 * keyNormScorer().queries; // false: usable where only keys and values are visible
 * ```
 */
export function keyNormScorer(): Scorer {
  const score = (key: Float32Array): number => Math.fround(-nrm2(key.length, key, 1, 0));
  return {
    name: 'key norm',
    columns: 1,
    probs: false,
    queries: false,
    live: true,
    nonNegative: false,
    fixedBytes: () => 0,
    stored(view, slot, key) {
      view.column(0)[slot] = score(key);
    },
    incoming: (_view, key) => score(key),
    score: (view) => view.column(0),
  };
}

/**
 * K-norm: keeps the tokens whose keys have the smallest L2 norm (kvpress `KnormPress` scores
 * −‖k‖₂; KVCache-Factory's L2Norm), applied online.
 *
 * @remarks
 * Guarantee: after every append the cache holds the `capacity` smallest-norm keys seen so far
 * (a fixed budget, no sinks or recent window; ties keep the earlier token), because a full cache
 * admits a token only by evicting a larger norm. Query-agnostic, so it needs no attention scores
 * (usable where only K/V are visible). No approximation guarantee: it is a baseline.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { knormPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(knormPolicy)
 *   .create({ policy: 'knorm', keyDim: 64, valueDim: 64, budget: 256 });
 * ```
 * @see Devoto et al., A Simple and Effective L2 Norm-Based Strategy for KV Cache Compression (arXiv 2406.11430).
 */
export class KNorm extends EvictionCache {
  /**
   * @param spec - A validated spec with a budget and the shared eviction parameters.
   * @throws `InvalidParamsError` on a bad parameter (the shared eviction parameters included).
   */
  constructor(spec: PolicySpec) {
    super(spec, keyNormScorer());
  }
}

/**
 * Registry entry of {@link KNorm} (`"knorm"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { knormPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(knormPolicy);
 * ```
 */
export const knormPolicy: PolicyDefinition = {
  name: 'knorm',
  summary: 'Keeps the keys of smallest L2 norm (query-agnostic).',
  params: evictionParams(),
  budget: 'required',
  create: (spec) => new KNorm(spec),
};
