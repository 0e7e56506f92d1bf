import type { PolicyDefinition, PolicySpec } from '@kv/core';
import { EvictionCache } from './eviction-cache.js';

/**
 * Sliding window: keeps the last W tokens, W = the budget's capacity (a token count, or
 * `{ratio}` of the tokens seen).
 *
 * @remarks
 * Guarantee: after every append the cache holds exactly the positions
 * `max(0, seen − W) … seen − 1`, and its answers are exact softmax attention over them. When
 * the budget covers the stream it equals exact attention. Keys are cached as given (post-RoPE),
 * so no re-rotation is involved.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { slidingWindowPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(slidingWindowPolicy)
 *   .create({ policy: 'sliding-window', keyDim: 64, valueDim: 64, budget: 512 });
 * ```
 * @see Beltagy et al., Longformer (arXiv 2004.05150), local attention windows.
 */
export class SlidingWindow extends EvictionCache {
  /** @param spec - A validated spec with a budget (the window). */
  constructor(spec: PolicySpec) {
    super(spec);
  }

  /**
   * The oldest kept token.
   * @returns Its slot.
   */
  protected victim(): number {
    return this.oldestSlot();
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
  summary: 'Keeps the last W tokens (W = budget); exact attention over them.',
  params: [],
  budget: 'required',
  create: (spec) => new SlidingWindow(spec),
};
