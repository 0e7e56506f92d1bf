import type { PolicyDefinition, PolicySpec } from '@kv/core';
import { EvictionCache } from './eviction/eviction-cache.js';
import { evictionParams } from './eviction/params.js';
import type { Scorer } from './eviction/scorer.js';

/**
 * KeyDiff's score: −cos(k_i, a), with a the mean of the kept keys' unit vectors, so the keys most
 * aligned with the common direction go first and distinctive keys stay. Query-free: it reads
 * only the kept keys (two passes of O(n·d) per scoring, nothing held per row).
 *
 * @returns A computed scorer.
 * @example
 * ```ts
 * import { keyDiffScorer } from '@kv/heuristics';
 * keyDiffScorer().queries; // false
 * ```
 */
export function keyDiffScorer(): Scorer {
  let row = new Float64Array(0);
  let anchor = new Float64Array(0);
  let inverseNorm = new Float64Array(0);
  return {
    name: 'key diversity',
    columns: 0,
    probs: false,
    queries: false,
    live: false,
    nonNegative: false,
    fixedBytes: () => 0,
    score(view, out) {
      const n = view.count;
      const d = view.keyDim;
      const store = view.store;
      if (row.length !== d) {
        row = new Float64Array(d);
        anchor = new Float64Array(d);
      }
      if (inverseNorm.length < n) inverseNorm = new Float64Array(Math.max(n, 2 * inverseNorm.length));
      anchor.fill(0);
      for (let i = 0; i < n; i++) {
        store.readKey(i, row);
        let sq = 0;
        for (let j = 0; j < d; j++) sq += row[j]! * row[j]!;
        // A zero key has no direction: it counts for nothing in the anchor and scores 0.
        const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
        inverseNorm[i] = inv;
        for (let j = 0; j < d; j++) anchor[j] += row[j]! * inv;
      }
      let a2 = 0;
      for (let j = 0; j < d; j++) a2 += anchor[j]! * anchor[j]!;
      const inva = a2 > 0 ? 1 / Math.sqrt(a2) : 0;
      for (let i = 0; i < n; i++) out[i] = -store.keyDot(i, anchor) * inverseNorm[i]! * inva;
      return out;
    },
  };
}

/**
 * KeyDiff: evicts the keys most similar to the mean key direction (cosine to the mean of the
 * kept keys' unit vectors), keeping a diverse set of keys. Needs no queries and no attention
 * scores, so it runs where a decoder exposes only keys and values (an ONNX graph, transformers.js).
 *
 * @remarks
 * As kvpress `KeyDiffPress`: anchor = mean of the L2-normalised keys, score = −cos(k, anchor).
 * The paper processes the prompt block by block and evicts after each block; here every eviction
 * rescores the kept keys (or every `every` steps, `decoding(…)` for block-wise compression), so
 * the selection streams. Defaults: no sinks, no recent window (the paper's); on real attention a
 * few sinks and a recent window help (see the package README). No approximation guarantee.
 * Defining behaviour (tested): among keys of equal norm, the ones along the common direction go
 * and the outliers stay.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { keydiffPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(keydiffPolicy)
 *   .create({ policy: 'keydiff', keyDim: 64, valueDim: 64, budget: { fraction: 1 / 8 }, params: { sinks: 4, recent: 16 } });
 * ```
 * @see Park et al., KeyDiff: Key Similarity-Based KV Cache Eviction for Long-Context LLM Inference in Resource-Constrained Environments (arXiv 2504.15364).
 */
export class KeyDiff extends EvictionCache {
  /**
   * @param spec - A validated spec with a budget and the shared eviction parameters.
   * @throws `InvalidParamsError` on a bad parameter (the shared eviction parameters included).
   */
  constructor(spec: PolicySpec) {
    super(spec, keyDiffScorer());
  }
}

/**
 * Registry entry of {@link KeyDiff} (`"keydiff"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { keydiffPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(keydiffPolicy);
 * ```
 */
export const keydiffPolicy: PolicyDefinition = {
  name: 'keydiff',
  summary: 'Query-free: evicts the keys most aligned with the mean key direction (KeyDiff).',
  params: evictionParams(),
  budget: 'required',
  create: (spec) => new KeyDiff(spec),
};
