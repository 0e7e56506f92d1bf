import type { PolicyDefinition, PolicySpec } from '@kv/core';
import { ageScorer } from './eviction/age.js';
import { EvictionCache } from './eviction/eviction-cache.js';
import { evictionParams } from './eviction/params.js';

/**
 * Sliding window: keeps the last W tokens, W = the rows the budget allows (a token count, a
 * ratio of the tokens seen, or as many float32 rows as fit the bytes).
 *
 * @remarks
 * Guarantee: after every append the cache holds exactly the positions
 * `max(0, seen − W) … seen − 1`, and its answers are exact softmax attention over them. When
 * the budget covers the stream it equals exact attention. Keys are cached as given (post-RoPE),
 * so no re-rotation is involved. Each row holds its key, value and an Int32 position.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { slidingWindowPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(slidingWindowPolicy)
 *   .create({ policy: 'sliding-window', keyDim: 64, valueDim: 64, budget: { fraction: 1 / 8 } });
 * ```
 * @see Beltagy et al., Longformer (arXiv 2004.05150), local attention windows.
 */
export class SlidingWindow extends EvictionCache {
  /**
   * @param spec - A validated spec with a budget (the window).
   * @throws `InvalidParamsError` on a bad parameter (the shared eviction parameters included).
   */
  constructor(spec: PolicySpec) {
    super(spec, ageScorer());
  }
}

/**
 * Registry entry of {@link SlidingWindow} (`"sliding-window"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { slidingWindowPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(slidingWindowPolicy);
 * ```
 */
export const slidingWindowPolicy: PolicyDefinition = {
  name: 'sliding-window',
  summary: 'Keeps the last W tokens (W = the rows the budget allows); exact attention over them.',
  params: evictionParams(),
  budget: 'required',
  create: (spec) => new SlidingWindow(spec),
};
