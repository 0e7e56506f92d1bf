import {
  InvalidParamsError,
  integerParam,
  type KernelSums,
  numberParam,
  type PolicyDefinition,
  type PolicySpec,
} from '@kv/core';
import { EvictionCache } from './eviction-cache.js';

/**
 * H2O (heavy-hitter oracle): every answered query adds its attention probabilities to the score
 * of each kept token; the cache keeps the last R tokens plus the highest-scoring ("heavy
 * hitter") tokens of the rest, evicting the lowest score (ties: the oldest).
 *
 * @remarks
 * Faithful to `H2OKVCache_LayerWise(hh_size, recent_size)` (FMInference/H2O), with the eviction
 * done *before* the arriving token is stored, so `stored` never exceeds the budget. On the
 * append-then-attend stream the order is: append k_t (evicting, if full, the lowest score
 * accumulated through q_{t−1} among tokens outside the last R − 1 positions), then attend q_t
 * (which adds its probabilities to every kept token, k_t included). With capacity C and recent R
 * this makes exactly the decisions of the reference with cache size C − 1 and recent R − 1, and
 * attends over the same C tokens (the reference evicts right after attending; here that eviction
 * is deferred to the next append). New tokens start at score 0, so before any query arrives the
 * oldest non-recent token goes first. The observation queries of `prefill` are not used.
 * No approximation guarantee: it is a baseline.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { h2oPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(h2oPolicy)
 *   .create({ policy: 'h2o', keyDim: 64, valueDim: 64, budget: 256, params: { recent: 128 } });
 * ```
 * @see Zhang et al., H2O: Heavy-Hitter Oracle for Efficient Generative Inference (arXiv 2306.14048).
 */
export class H2O extends EvictionCache {
  /** Fixed number of protected recent tokens (undefined: derived from {@link H2O.recentRatio}). */
  readonly recent: number | undefined;
  /** Fraction of the capacity reserved for recent tokens when `recent` is not given. */
  readonly recentRatio: number;
  private probs: Float64Array;

  /**
   * @param spec - A validated spec with a budget; `params.recent` (integer ≥ 0) or
   *   `params.recentRatio` (in [0, 1], default 0.5).
   * @throws An {@link InvalidParamsError} when both are given or one is out of range.
   */
  constructor(spec: PolicySpec) {
    super(spec, { slotData: true });
    const p = spec.params;
    if (p?.['recent'] !== undefined && p['recentRatio'] !== undefined) {
      throw new InvalidParamsError('h2o takes "recent" or "recentRatio", not both');
    }
    this.recent = p?.['recent'] === undefined ? undefined : integerParam(p, 'recent', { min: 0 });
    this.recentRatio = numberParam(p, 'recentRatio', { default: 0.5, min: 0, max: 1 });
    this.probs = new Float64Array(this.store.allocated);
  }

  /** Per-slot probabilities scratch of the last query (working memory that grows with the cache). */
  override buffers(): readonly ArrayBufferView[] {
    return [...super.buffers(), this.probs];
  }

  /**
   * Number of protected recent tokens at a capacity.
   * @param capacity - Slots allowed.
   * @returns min(R, capacity).
   */
  recentAt(capacity: number): number {
    const r = this.recent ?? Math.round(this.recentRatio * capacity);
    return Math.min(r, capacity);
  }

  /**
   * The lowest accumulated score outside the protected recent positions.
   * @param _key - Arriving key (unused).
   * @param position - Position of the arriving token.
   * @returns A slot (one always qualifies: the cache is full and only R − 1 kept tokens are recent).
   */
  protected victim(_key: Float32Array, position: number): number {
    const r = this.recentAt(this.capacityAfter(position));
    return this.lowestScoreSlot(position - r);
  }

  /**
   * A new token starts with no accumulated attention.
   * @param slot - Its slot.
   */
  protected override onStored(slot: number): void {
    this.slotData[slot] = 0;
  }

  /**
   * Exact attention over the kept tokens; adds each token's probability to its score.
   * @param query - Validated query.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  protected override onSums(query: Float32Array, out: KernelSums): KernelSums {
    if (this.probs.length < this.store.count) this.probs = new Float64Array(this.store.allocated);
    this.store.sumsWithProbs(query, this.tau, out, this.probs);
    const score = this.slotData;
    const probs = this.probs;
    for (let i = 0, n = this.store.count; i < n; i++) score[i] += probs[i]!;
    return out;
  }
}

/**
 * Registry entry of {@link H2O} (`"h2o"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { h2oPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(h2oPolicy);
 * ```
 */
export const h2oPolicy: PolicyDefinition = {
  name: 'h2o',
  summary: 'Heavy hitters by accumulated attention plus the last R tokens; evicts the lowest score.',
  params: [
    { name: 'recent', type: 'integer', description: 'Protected recent tokens R (overrides recentRatio).' },
    { name: 'recentRatio', type: 'number', default: 0.5, description: 'R as a fraction of the capacity.' },
  ],
  budget: 'required',
  create: (spec) => new H2O(spec),
};
