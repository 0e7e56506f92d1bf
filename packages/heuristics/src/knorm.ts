import { integerParam, nrm2, type PolicyDefinition, type PolicySpec } from '@kv/core';
import { EvictionCache } from './eviction/eviction-cache.js';
import { evictionParams } from './eviction/params.js';
import { roundSignificand } from './eviction/round-score.js';
import type { Scorer } from './eviction/scorer.js';

/** Significand bits K-norm keeps of a key norm by default: float16's 10. */
const KNORM_SCORE_BITS = 10;

/**
 * K-norm's score: −‖k‖₂ rounded to `bits` significand bits (Float32, one column), so the
 * smallest-norm keys are kept; an arriving key of larger norm than every kept one is not stored.
 *
 * @remarks
 * The rounding makes the choice a property of the model rather than of the engine: keys are
 * produced to the precision of the engine that computes them (float16 models store 10
 * significand bits; two float32 engines agree on a key norm to about 1e-5 relative on the tiny
 * model), so norms closer than that are ties, and are treated as ties (the oldest goes) instead of
 * being split by rounding noise. In layer 0 a post-RoPE key's norm depends on its token only, so
 * every occurrence of a byte ties exactly in exact arithmetic. 10 bits (a grid step of 2⁻¹⁰ of the
 * norm) is float16's significand: far coarser than the engines' disagreement, finer than the
 * spread of norms that carries the ranking.
 *
 * @param bits - Significand bits kept (default 10; 23: plain Float32 norms).
 * @returns A live, query-free scorer.
 * @example
 * ```ts
 * import { keyNormScorer } from '@kv/heuristics';
 * keyNormScorer().queries; // false: usable where only keys and values are visible
 * ```
 */
export function keyNormScorer(bits: number = KNORM_SCORE_BITS): Scorer {
  const score = (key: Float32Array): number => roundSignificand(-nrm2(key.length, key, 1, 0), bits);
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
 * Guarantee: after every append the cache holds the `capacity` smallest-norm keys seen so far,
 * norms compared at `scoreBits` significand bits (a fixed budget, no sinks or recent window; ties
 * keep the newer token, as every eviction policy's ties evict the oldest), because a full cache
 * admits a token only by evicting a larger or equal norm. The rounding makes two engines that
 * compute the same model's keys agree on the choice (see {@link keyNormScorer}). Query-agnostic, so it needs no attention scores
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
   * @param spec - A validated spec with a budget, `params.scoreBits` (10) and the shared eviction parameters.
   * @throws `InvalidParamsError` on a bad parameter (the shared eviction parameters included).
   */
  constructor(spec: PolicySpec) {
    super(spec, keyNormScorer(integerParam(spec.params, 'scoreBits', { default: KNORM_SCORE_BITS, min: 0, max: 23 })));
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
  params: [
    { name: 'scoreBits', type: 'integer', default: KNORM_SCORE_BITS, description: 'Significand bits of the key norms compared (closer norms tie; the oldest goes). 23: plain float32.' },
    ...evictionParams(),
  ],
  budget: 'required',
  create: (spec) => new KNorm(spec),
};
