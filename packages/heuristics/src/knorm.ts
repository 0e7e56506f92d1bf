import { nrm2, type PolicyDefinition, type PolicySpec } from '@kv/core';
import { DROP_INCOMING, EvictionCache } from './eviction-cache.js';

/**
 * K-norm: keeps the tokens whose keys have the smallest L2 norm (kvpress `KnormPress` scores
 * −‖k‖₂; KVCache-Factory's L2Norm), applied online.
 *
 * @remarks
 * Guarantee: after every append the cache holds the `capacity` smallest-norm keys seen so far
 * (a fixed budget; ties keep the earlier token), because a full cache admits a token only by
 * evicting a larger norm. Query-agnostic, so it needs no attention scores (usable where only
 * K/V are visible). No approximation guarantee: it is a baseline.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { knormPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(knormPolicy)
 *   .create({ policy: 'knorm', keyDim: 64, valueDim: 64, budget: 256 });
 * ```
 * @see Devoto et al., A Simple and Effective L2 Norm-Based Strategy for KV Cache Compression (arXiv 2406.11430).
 */
export class KNorm extends EvictionCache {
  /** @param spec - A validated spec with a budget. */
  constructor(spec: PolicySpec) {
    super(spec, { slotData: true });
  }

  /**
   * The largest-norm kept key, or the arriving token when its norm is at least that large.
   * @param key - Arriving key.
   * @returns A slot or {@link DROP_INCOMING}.
   */
  protected victim(key: Float32Array): number {
    const norm = nrm2(key.length, key, 1, 0);
    const score = this.slotData;
    let best = -1;
    let bestNorm = -Infinity;
    for (let i = 0, n = this.store.count; i < n; i++) {
      if (score[i]! > bestNorm) {
        bestNorm = score[i]!;
        best = i;
      }
    }
    return best < 0 || norm >= bestNorm ? DROP_INCOMING : best;
  }

  /**
   * Records the key norm of the new slot.
   * @param slot - Its slot.
   * @param key - Its key.
   */
  protected override onStored(slot: number, key: Float32Array): void {
    this.slotData[slot] = nrm2(key.length, key, 1, 0);
  }
}

/**
 * Registry entry of {@link KNorm} (`"knorm"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { knormPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(knormPolicy);
 * ```
 */
export const knormPolicy: PolicyDefinition = {
  name: 'knorm',
  summary: 'Keeps the keys of smallest L2 norm (query-agnostic).',
  params: [],
  budget: 'required',
  create: (spec) => new KNorm(spec),
};
