import type { Scorer } from './scorer.js';

/**
 * The age rule: evict the oldest candidate (no scores). Sliding window and StreamingLLM are this
 * rule with no sinks and with sinks.
 *
 * @returns A scorer (stateless).
 * @example
 * ```ts
 * import { ageScorer } from '@kv/heuristics';
 * ageScorer().byAge; // true
 * ```
 */
export function ageScorer(): Scorer {
  return {
    name: 'age',
    columns: 0,
    probs: false,
    queries: false,
    live: true,
    nonNegative: false,
    byAge: true,
    fixedBytes: () => 0,
    score: (_view, out) => out,
  };
}
