import { checkFloat32Rows, checkFloat32Vector, choiceParam, type PolicyDefinition, type PolicySpec } from '@kv/core';
import { EvictionCache } from './eviction/eviction-cache.js';
import { evictionParams } from './eviction/params.js';
import type { Scorer } from './eviction/scorer.js';

/**
 * Scores computed outside the cache (by a model pass, as KVzip's context reconstruction), one per
 * token, given with the tokens; tokens appended without one are unscored: kept over every scored
 * token (`after: 'keep'`) or evicted first, oldest first (`'window'`).
 *
 * @param after - What happens to tokens appended without a score.
 * @returns A live scorer (one Float32 column) and the setter of the next stored token's score.
 * @example
 * ```ts
 * import { givenScorer } from '@kv/heuristics';
 * givenScorer('keep').name; // 'given scores'
 * ```
 */
export function givenScorer(after: 'keep' | 'window'): Scorer & {
  /** Sets the score of the next stored token (null: unscored). */
  setPending(score: number | null): void;
} {
  const unscored = after === 'keep' ? Infinity : -Infinity;
  // The score of the token being placed, while a scored prefill streams.
  let pending: number | null = null;
  const current = (): number => (pending === null ? unscored : pending);
  return Object.assign(
    {
      name: 'given scores',
      columns: 1,
      probs: false,
      queries: false,
      live: true,
      nonNegative: true,
      fixedBytes: () => 0,
      stored(view, slot) {
        view.column(0)[slot] = current();
      },
      incoming: () => current(),
      score: (view) => view.column(0),
    } satisfies Scorer,
    {
      setPending(score: number | null): void {
        pending = score === null ? null : Math.fround(score);
      },
    },
  );
}

/**
 * Eviction by scores given from outside: the hook through which a model-level method (KVzip in
 * `@kv/llm`, which scores each context token by how much the model needs it to reconstruct the
 * context) plugs into the shared eviction machinery, with every wrapper it offers (sinks and
 * recent window, AdaKV pools, CriticalKV weighting, chunks, precision).
 *
 * @remarks
 * `prefillScored(keys, values, scores)` streams the tokens in with their scores (higher = keep;
 * attention masses for CriticalKV and AdaKV pools). With no recent window, the cache then holds
 * exactly the `capacity` highest-scored tokens (up to ties), and in an AdaKV pool the
 * layer's highest-scored tokens across its heads (KVzip's head-level budgets), because a token
 * enters only by evicting a lower score. Tokens appended afterwards (decoding) are unscored:
 * `after: 'keep'` (default) keeps them and gives up the lowest-scored context first, `'window'`
 * slides them past the frozen context. Without scored prefills it is a sliding window.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { type ScoredEviction, scoredPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(scoredPolicy)
 *   .create({ policy: 'scored', keyDim: 2, valueDim: 1, budget: 2 }) as ScoredEviction;
 * cache.prefillScored(new Float32Array([1, 0, 0, 1, 1, 1]), new Float32Array([1, 2, 3]), new Float32Array([0.9, 0.1, 0.5]));
 * cache.positions(); // positions 0 and 2 are kept
 * ```
 * @see Kim et al., KVzip: Query-Agnostic KV Cache Compression with Context Reconstruction (arXiv 2505.23416).
 */
export class ScoredEviction extends EvictionCache {
  private readonly given: ReturnType<typeof givenScorer>;
  private scores: Float32Array | null = null;

  /**
   * @param spec - A validated spec with a budget; `params.after` (`'keep'`) and the shared eviction parameters.
   * @throws `InvalidParamsError` on a bad parameter (the shared eviction parameters included).
   */
  constructor(spec: PolicySpec) {
    const given = givenScorer(choiceParam(spec.params, 'after', ['keep', 'window'] as const, 'keep'));
    super(spec, given);
    this.given = given;
  }

  /**
   * Appends tokens with their scores.
   * @param keys - Row-major keys, count·d.
   * @param values - Row-major values, count·s.
   * @param scores - One finite score per token (higher = keep).
   * @throws `DimensionMismatchError`, `NonFiniteInputError` or `InvalidInputError` on bad input
   *   (nothing changes then).
   */
  prefillScored(keys: Float32Array, values: Float32Array, scores: Float32Array): void {
    const count = checkFloat32Rows('keys', keys, this.keyDim);
    checkFloat32Vector('scores', scores, count);
    this.scores = scores;
    try {
      this.prefill(keys, values);
    } finally {
      this.scores = null;
      this.given.setPending(null);
    }
  }

  protected override onPrefill(keys: Float32Array, values: Float32Array, count: number, firstPosition: number, queries?: Float32Array): void {
    const scores = this.scores;
    if (scores === null) {
      super.onPrefill(keys, values, count, firstPosition, queries);
      return;
    }
    const d = this.keyDim;
    const s = this.valueDim;
    for (let i = 0; i < count; i++) {
      this.given.setPending(scores[i]!);
      this.onAppend(keys.subarray(i * d, (i + 1) * d), values.subarray(i * s, (i + 1) * s), firstPosition + i);
    }
  }
}

/**
 * Registry entry of {@link ScoredEviction} (`"scored"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { scoredPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(scoredPolicy);
 * ```
 */
export const scoredPolicy: PolicyDefinition = {
  name: 'scored',
  summary: 'Keeps the tokens of highest given score (the hook for model-computed scores such as KVzip).',
  params: [{ name: 'after', type: 'string', default: 'keep', description: "Tokens appended without a score: 'keep' or 'window'." }, ...evictionParams()],
  budget: 'required',
  create: (spec) => new ScoredEviction(spec),
};
