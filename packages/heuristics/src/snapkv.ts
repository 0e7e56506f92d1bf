import { type Budget, choiceParam, dotUnit, type ParamInfo, integerParam, InvalidParamsError, type PolicyDefinition, type PolicySpec, UnsupportedError } from '@kv/core';
import { EvictionCache } from './eviction/eviction-cache.js';
import { evictionParams } from './eviction/params.js';
import type { Scorer } from './eviction/scorer.js';
import { selectTop } from './eviction/select.js';

/**
 * What SnapKV does with tokens appended after the prefill selection.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { type SnapKVAfter, snapkvPolicy } from '@kv/heuristics';
 * const after: SnapKVAfter = 'keep';
 * const cache = new PolicyRegistry().register(snapkvPolicy)
 *   .create({ policy: 'snapkv', keyDim: 64, valueDim: 64, budget: 256, params: { after } });
 * ```
 */
export type SnapKVAfter = 'keep' | 'window';

/**
 * SnapKV's score: the pooled observation-window attention of each prompt token, set by a scored
 * prefill (Float32, one column). Tokens stored otherwise are unscored: with `after: 'window'`
 * they go first (`-Infinity`, oldest first: a sliding window beside the frozen heavy hitters),
 * with `'keep'` last (`+Infinity`).
 *
 * @param after - What happens to tokens appended after the prefill.
 * @returns A live scorer.
 * @example
 * ```ts
 * import { pooledAttentionScorer } from '@kv/heuristics';
 * pooledAttentionScorer('keep').name; // 'pooled observation attention'
 * ```
 */
export function pooledAttentionScorer(after: SnapKVAfter): Scorer {
  const unscored = after === 'window' ? -Infinity : Infinity;
  return {
    name: 'pooled observation attention',
    columns: 1,
    probs: false,
    queries: false,
    live: true,
    nonNegative: true,
    fixedBytes: () => 0,
    stored(view, slot) {
      view.column(0)[slot] = unscored;
    },
    score: (view) => view.column(0),
  };
}

/** SnapKV's own parameters (PyramidKV shares them). */
export const snapkvParams = [
  { name: 'window', type: 'integer', default: 32, description: 'Observation window w; the last w prompt tokens are kept.' },
  { name: 'kernel', type: 'integer', default: 5, description: 'Average-pooling kernel size (odd).' },
  { name: 'after', type: 'string', default: 'window', description: "Tokens appended after prefill: 'window' or 'keep'." },
] as const satisfies readonly ParamInfo[];

/**
 * SnapKV: at prefill, scores every prompt token by the mean attention the observation queries
 * (the last w prompt positions, every query head of the GQA group) pay to it, smooths the scores
 * with a 1-D average pooling (kernel 5, zero padded, as `avg_pool1d(kernel, padding=k//2,
 * stride=1)`), and keeps the top `capacity − w` tokens of the prefix plus the last w tokens.
 *
 * @remarks
 * Faithful to `SnapKVCluster` (FasterDecoding/SnapKV) and KVCache-Factory: softmax per query over
 * the prompt keys it can see, mean over queries (the GQA group mean included, since
 * `ModelCache.prefill` passes the whole group's rows), pooling over the non-window prefix only,
 * top-k, window always kept. When the number of query rows is a multiple of `window` the rows
 * are read as token-major groups of the last `window` positions (the layout `ModelCache.prefill`
 * produces) and the causal mask is applied; otherwise every row sees every prompt key.
 * If the capacity is smaller than the window, only the last `capacity` tokens are kept.
 *
 * Tokens appended after the prefill (decode) are never scored (SnapKV compresses at prefill
 * only, and the reference lets the cache grow). Under a budget they are handled by `after`:
 * - `'window'` (default): the prefill's heavy hitters are frozen and everything else (the
 *   observation window and decoded tokens) is a sliding window over the remaining capacity;
 *   when no such token is left, the lowest-scored heavy hitter goes.
 * - `'keep'`: decoded tokens are kept: when the budget is full, the lowest-scored heavy hitter
 *   is evicted; once none is left, the oldest token goes.
 * Without a scored prefill (plain appends, or prefill without queries) there are no scores and
 * both settings behave as a sliding window. One scored prefill per cache, on an empty cache.
 * No approximation guarantee: it is a baseline.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { snapkvPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(snapkvPolicy)
 *   .create({ policy: 'snapkv', keyDim: 64, valueDim: 64, budget: 1024, params: { window: 32 } });
 * // cache.prefill(promptKeys, promptValues, lastWindowQueries);
 * ```
 * @see Li et al., SnapKV: LLM Knows What You are Looking for Before Generation (arXiv 2404.14469).
 */
export class SnapKV extends EvictionCache {
  /** Observation window w (and the number of last prompt tokens always kept). */
  readonly window: number;
  /** Average-pooling kernel size (odd). */
  readonly kernel: number;
  /** Handling of tokens appended after the prefill. */
  readonly after: SnapKVAfter;

  /**
   * @param spec - A validated spec with a budget; params `window` (default 32), `kernel`
   *   (odd, default 5), `after` (`'window'` or `'keep'`, default `'window'`), and the shared
   *   eviction parameters.
   * @param budget - The budget to hold to (default `spec.budget`).
   * @throws An `InvalidParamsError` on a bad parameter.
   */
  constructor(spec: PolicySpec, budget: Budget | undefined = spec.budget) {
    const after = choiceParam(spec.params, 'after', ['keep', 'window'] as const, 'window');
    super(spec, pooledAttentionScorer(after), {}, budget);
    this.window = integerParam(spec.params, 'window', { default: 32, min: 0 });
    this.kernel = integerParam(spec.params, 'kernel', { default: 5, min: 1 });
    if (this.kernel % 2 === 0) throw new InvalidParamsError(`parameter "kernel" is ${this.kernel}, expected an odd integer`);
    this.after = after;
  }

  /**
   * With observation queries: scores, pools and selects the prompt (SnapKV); without: appends.
   * @param keys - Row-major prompt keys.
   * @param values - Row-major prompt values.
   * @param count - Prompt length T.
   * @param firstPosition - Position of the first prompt token.
   * @param queries - Observation queries (rows of d), grouped token-major.
   * @throws An `UnsupportedError` for a scored prefill on a non-empty cache.
   */
  protected override onPrefill(
    keys: Float32Array,
    values: Float32Array,
    count: number,
    firstPosition: number,
    queries?: Float32Array,
  ): void {
    if (queries === undefined || queries.length === 0 || count === 0) {
      super.onPrefill(keys, values, count, firstPosition);
      return;
    }
    if (firstPosition !== 0) throw new UnsupportedError('snapkv accepts one scored prefill per cache, on an empty cache');
    const d = this.keyDim;
    const s = this.valueDim;
    const cap = this.capacityAt(firstPosition + count);
    const observed = Math.min(this.window, count);
    const kept = Math.min(observed, cap); // window tokens kept
    const prefix = count - kept;
    const scores = this.observationScores(keys, count, queries, observed, prefix);
    const pooled = this.avgPool(scores);
    const selected = selectTop(pooled, Math.min(prefix, cap - kept));
    this.reserveRows(Math.min(count, cap));
    for (let t = 0; t < count; t++) {
      if (t < prefix && !selected[t]) continue;
      const slot = this.storeSelected(keys, t * d, values, t * s, firstPosition + t);
      if (t < prefix) this.column(0)[slot] = Math.fround(pooled[t]!);
    }
  }

  private observationScores(
    keys: Float32Array,
    count: number,
    queries: Float32Array,
    observed: number,
    prefix: number,
  ): Float64Array {
    const d = this.keyDim;
    const rows = queries.length / d;
    const group = observed > 0 && rows % observed === 0 ? rows / observed : 0;
    const logits = new Float64Array(count);
    const acc = new Float64Array(prefix);
    for (let r = 0; r < rows; r++) {
      // Causal mask: row r is the query at prompt index count − observed + ⌊r / group⌋.
      const visible = group > 0 ? count - observed + Math.floor(r / group) + 1 : count;
      let m = -Infinity;
      for (let i = 0; i < visible; i++) {
        const l = this.tau * dotUnit(d, keys, i * d, queries, r * d);
        logits[i] = l;
        if (l > m) m = l;
      }
      let z = 0;
      for (let i = 0; i < visible; i++) z += Math.exp(logits[i]! - m);
      const inv = 1 / (z * rows);
      for (let i = 0; i < Math.min(prefix, visible); i++) acc[i] += Math.exp(logits[i]! - m) * inv;
    }
    return acc;
  }

  private avgPool(scores: Float64Array): Float64Array {
    const n = scores.length;
    const half = (this.kernel - 1) / 2;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = Math.max(0, i - half); j <= Math.min(n - 1, i + half); j++) sum += scores[j]!;
      out[i] = sum / this.kernel; // zero padding counted, as avg_pool1d's count_include_pad
    }
    return out;
  }
}

/**
 * Registry entry of {@link SnapKV} (`"snapkv"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { snapkvPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(snapkvPolicy);
 * ```
 */
export const snapkvPolicy: PolicyDefinition = {
  name: 'snapkv',
  summary: 'Prefill-time top-k by pooled observation-window attention plus the window (SnapKV).',
  params: [...snapkvParams, ...evictionParams()],
  budget: 'required',
  create: (spec) => new SnapKV(spec),
};
