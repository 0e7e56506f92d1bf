import { integerParam, type PolicyDefinition, type PolicySpec } from '@kv/core';
import { EvictionCache } from './eviction/eviction-cache.js';
import { slotsByPosition } from './eviction/order.js';
import { evictionParams } from './eviction/params.js';
import type { Scorer, ScoreView } from './eviction/scorer.js';

/**
 * LagKV's score: the kept tokens after the sinks, in position order, are cut into partitions of
 * `lag`; each partition is scored against the *next* one (its lag reference): per channel, a
 * token's key and value are min-max normalised by the reference's range, and the token's score
 * is the standard deviation of that over channels, softmaxed within the partition (keys and
 * values averaged), then turned into its rank within the partition divided by `lag`. The last
 * partition and the remainder have no reference and are kept (`+Infinity`); with fewer than
 * two partitions the oldest goes first. Query-free.
 *
 * @param lag - Partition size.
 * @param sinks - Positions excluded from the partitions (the cache's sinks).
 * @returns A computed scorer (O(n·(d + s)) per scoring, nothing held per row).
 * @example
 * ```ts
 * import { lagScorer } from '@kv/heuristics';
 * lagScorer(32, 4).queries; // false
 * ```
 * @see Liang et al., LagKV: Lag-Relative Information of the KV Cache Tells Which Tokens Are Important (arXiv 2504.04704).
 */
export function lagScorer(lag: number, sinks: number): Scorer {
  let order = new Int32Array(0);
  let lo = new Float64Array(0);
  let hi = new Float64Array(0);
  let row = new Float64Array(0);
  let part = new Float64Array(0);
  let partStd = new Float64Array(0);
  let rankScratch = new Int32Array(0);

  // Softmax over the partition of the std of each token's normalised row, added into part[].
  const partitionScores = (view: ScoreView, start: number, values: boolean, weight: number): void => {
    const dim = values ? view.valueDim : view.keyDim;
    const store = view.store;
    lo.fill(Infinity, 0, dim);
    hi.fill(-Infinity, 0, dim);
    for (let r = start + lag; r < start + 2 * lag; r++) {
      const slot = order[r]!;
      if (values) store.readValue(slot, row);
      else store.readKey(slot, row);
      for (let j = 0; j < dim; j++) {
        const x = row[j]!;
        if (x < lo[j]!) lo[j] = x;
        if (x > hi[j]!) hi[j] = x;
      }
    }
    let m = -Infinity;
    for (let r = 0; r < lag; r++) {
      const slot = order[start + r]!;
      if (values) store.readValue(slot, row);
      else store.readKey(slot, row);
      let sum = 0;
      let sq = 0;
      for (let j = 0; j < dim; j++) {
        const range = hi[j]! - lo[j]!;
        // A constant reference channel carries no lag information.
        const x = range > 0 ? (row[j]! - lo[j]!) / range : 0;
        sum += x;
        sq += x * x;
      }
      const mean = sum / dim;
      // Unbiased, as torch.std.
      const std = dim > 1 ? Math.sqrt(Math.max(0, (sq - dim * mean * mean) / (dim - 1))) : 0;
      partStd[r] = std;
      if (std > m) m = std;
    }
    let z = 0;
    for (let r = 0; r < lag; r++) z += Math.exp(partStd[r]! - m);
    for (let r = 0; r < lag; r++) part[r] += (weight * Math.exp(partStd[r]! - m)) / z;
  };

  return {
    name: 'lag-relative spread',
    columns: 0,
    probs: false,
    queries: false,
    live: false,
    nonNegative: true,
    fixedBytes: () => 0,
    score(view, out) {
      const n = view.count;
      order = slotsByPosition(view, order);
      const pos = view.store.positionOf;
      let first = 0;
      while (first < n && pos[order[first]!]! < sinks) first++;
      for (let r = 0; r < first; r++) out[order[r]!] = Infinity;
      const partitions = Math.floor((n - first) / lag);
      if (partitions < 2) {
        // No reference yet: the sliding part goes oldest first.
        for (let r = first; r < n; r++) out[order[r]!] = (r - first) / Math.max(1, n - first);
        return out;
      }
      const dim = Math.max(view.keyDim, view.valueDim);
      if (row.length < dim) {
        row = new Float64Array(dim);
        lo = new Float64Array(dim);
        hi = new Float64Array(dim);
      }
      if (part.length < lag) {
        part = new Float64Array(lag);
        partStd = new Float64Array(lag);
        rankScratch = new Int32Array(lag);
      }
      for (let p = 0; p < partitions - 1; p++) {
        const start = first + p * lag;
        part.fill(0, 0, lag);
        partitionScores(view, start, false, 0.5);
        partitionScores(view, start, true, 0.5);
        // Rank within the partition / lag (argsort of argsort), ties by position.
        const ranks = rankScratch.subarray(0, lag);
        for (let r = 0; r < lag; r++) ranks[r] = r;
        ranks.sort((a, b) => part[a]! - part[b]! || a - b);
        for (let k = 0; k < lag; k++) out[order[start + ranks[k]!]!] = k / lag;
      }
      for (let r = first + (partitions - 1) * lag; r < n; r++) out[order[r]!] = Infinity;
      return out;
    },
  };
}

/**
 * LagKV: query-free eviction by lag-relative information. Each partition of `lag` kept tokens is
 * compared with the next one; tokens whose normalised keys and values vary most across channels
 * (relative to what follows) are kept, ranked within their partition so every partition loses
 * alike; the newest partition and the sinks are kept.
 *
 * @remarks
 * Faithful to kvpress `LagKVPress` (`lag_size` 128, 4 sinks, no cross scoring), applied to the
 * kept tokens at every eviction (or every `every` steps). The newest one-to-two partitions are
 * never scored, so `lag` should be well below the capacity (on the 1K-token real traces, 16).
 * No approximation guarantee. Defining behaviour (tested): within a partition, a token whose key
 * stands out of the next partition's range is kept over tokens inside it.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { lagkvPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(lagkvPolicy)
 *   .create({ policy: 'lagkv', keyDim: 64, valueDim: 64, budget: { fraction: 1 / 8 }, params: { lag: 16 } });
 * ```
 * @see Liang et al., LagKV (arXiv 2504.04704).
 */
export class LagKV extends EvictionCache {
  /** Partition size. */
  readonly lag: number;

  /**
   * @param spec - A validated spec with a budget; `params.lag` (default 128) and the shared
   *   eviction parameters (4 sinks by default).
   * @throws `InvalidParamsError` on a bad parameter (the shared eviction parameters included).
   */
  constructor(spec: PolicySpec) {
    const lag = integerParam(spec.params, 'lag', { default: 128, min: 1 });
    const sinks = integerParam(spec.params, 'sinks', { default: 4, min: 0 });
    super(spec, lagScorer(lag, sinks), { sinks: 4 });
    this.lag = lag;
  }
}

/**
 * Registry entry of {@link LagKV} (`"lagkv"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { lagkvPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(lagkvPolicy);
 * ```
 */
export const lagkvPolicy: PolicyDefinition = {
  name: 'lagkv',
  summary: 'Query-free: keeps the tokens that stand out of the next partition of keys and values (LagKV).',
  params: [{ name: 'lag', type: 'integer', default: 128, description: 'Partition size (each scored against the next).' }, ...evictionParams({ sinks: 4 })],
  budget: 'required',
  create: (spec) => new LagKV(spec),
};
