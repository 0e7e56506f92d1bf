import {
  fixedBudget,
  integerParam,
  InvalidBudgetError,
  type InvalidParamsError,
  type PolicyDefinition,
  type PolicySpec,
} from '@kv/core';
import { DROP_INCOMING, EvictionCache } from './eviction-cache.js';

/**
 * StreamingLLM: the first S tokens (attention sinks) plus the last W tokens; budget = S + W.
 *
 * @remarks
 * Guarantee: positions `0 … S−1` are never evicted once stored, and the rest of the cache is the
 * most recent tokens, as `StartRecentKVCache(start_size, recent_size)` in mit-han-lab/streaming-llm.
 * Keys are cached as given; the reference re-applies RoPE with in-cache positions
 * (`pos_shift`), which a model integration must do itself if it caches pre-RoPE keys.
 * With a ratio budget the capacity can be smaller than S early in the stream: an arriving token
 * that finds the cache full of sinks is then not stored (a stored sink is never evicted).
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
  /** Number of attention sinks S. */
  readonly sinks: number;

  /**
   * @param spec - A validated spec with a budget; `params.sinks` (default 4).
   * @throws An {@link InvalidParamsError} for a bad `sinks`; {@link InvalidBudgetError} when a fixed
   *   budget leaves no room for a window (budget ≤ sinks).
   */
  constructor(spec: PolicySpec) {
    super(spec);
    this.sinks = integerParam(spec.params, 'sinks', { default: 4, min: 0 });
    const b = spec.budget;
    if (b !== undefined && (typeof b === 'number' || 'tokens' in b)) {
      const tokens = fixedBudget(spec, 'streaming-llm');
      if (tokens <= this.sinks) {
        throw new InvalidBudgetError(`streaming-llm budget is ${tokens}, expected more than sinks (${this.sinks})`);
      }
    }
  }

  /**
   * The oldest non-sink token, or the arriving one when only sinks are kept.
   * @returns A slot or {@link DROP_INCOMING}.
   */
  protected victim(): number {
    const slot = this.oldestSlot(this.sinks);
    return slot < 0 ? DROP_INCOMING : slot;
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
  summary: 'First S attention sinks plus the last W tokens (budget = S + W); sinks are never evicted.',
  params: [{ name: 'sinks', type: 'integer', default: 4, description: 'Number of initial tokens kept forever (S).' }],
  budget: 'required',
  create: (spec) => new StreamingLlm(spec),
};
