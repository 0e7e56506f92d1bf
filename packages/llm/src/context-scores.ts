import type { HeadCache } from '@kv/core';
import type { KvzipOptions } from './kvzip.js';

/**
 * A head cache that ranks a prompt's tokens by KVzip scores, which only the model can compute:
 * `LlamaDecoder.prefill` runs KVzip's reconstruction passes (with the cache's `kvzip` options)
 * and hands each such head its scores before the head's own prefill.
 *
 * @example
 * ```ts
 * import type { ContextScoredHead } from '@kv/llm';
 * const seen: Float32Array[] = [];
 * const probe: ContextScoredHead = { kvzip: { chunk: 512 }, takeContextScores: (s) => void seen.push(s) };
 * ```
 */
export interface ContextScoredHead {
  /** How to score: the reconstruction prompt and chunk size. */
  readonly kvzip: KvzipOptions;
  /**
   * Receives the scores of the prompt about to be prefilled.
   * @param scores - One score per prompt position, in [0, 1] (a view: copy what you keep).
   */
  takeContextScores(scores: Float32Array): void;
}

/**
 * The KVzip options of a head cache that wants context scores, else undefined.
 * @param head - Any head cache.
 * @returns Its options.
 * @internal
 */
export function contextScoring(head: HeadCache): KvzipOptions | undefined {
  const h = head as Partial<ContextScoredHead>;
  return typeof h.takeContextScores === 'function' && typeof h.kvzip === 'object' && h.kvzip !== null ? h.kvzip : undefined;
}
