import type { PolicyDefinition, PolicySpec } from '@kv/core';
import { ageScorer } from './eviction/age.js';
import { EvictionCache } from './eviction/eviction-cache.js';
import { evictionParams } from './eviction/params.js';

/**
 * StreamingLLM: the first S tokens (attention sinks) plus the most recent ones; the budget's rows
 * are S + W.
 *
 * @remarks
 * Guarantee: positions `0 … S'−1` are never evicted once stored, with S' = min(S, capacity − 1),
 * and the rest of the cache is the most recent tokens, as `StartRecentKVCache(start_size,
 * recent_size)` in mit-han-lab/streaming-llm. A budget of S rows or fewer keeps capacity − 1
 * sinks and one recent token (so a handful of rows works); under a growing budget (`{ratio}`,
 * `{fraction}`) tokens that arrived before the budget held a row are gone.
 * Keys are cached as given; the reference re-applies RoPE with in-cache positions
 * (`pos_shift`), which a model integration must do itself if it caches pre-RoPE keys.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { streamingLlmPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(streamingLlmPolicy)
 *   .create({ policy: 'streaming-llm', keyDim: 64, valueDim: 64, budget: 516, params: { sinks: 4 } });
 * ```
 * @see Xiao et al., Efficient Streaming Language Models with Attention Sinks (arXiv 2309.17453).
 */
export class StreamingLlm extends EvictionCache {
  /**
   * @param spec - A validated spec with a budget; `params.sinks` (default 4).
   * @throws `InvalidParamsError` on a bad parameter (the shared eviction parameters included).
   */
  constructor(spec: PolicySpec) {
    super(spec, ageScorer(), { sinks: 4 });
  }
}

/**
 * Registry entry of {@link StreamingLlm} (`"streaming-llm"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { streamingLlmPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(streamingLlmPolicy);
 * ```
 */
export const streamingLlmPolicy: PolicyDefinition = {
  name: 'streaming-llm',
  summary: 'First S attention sinks plus the most recent tokens; sinks are never evicted.',
  params: evictionParams({ sinks: 4 }),
  budget: 'required',
  create: (spec) => new StreamingLlm(spec),
};
