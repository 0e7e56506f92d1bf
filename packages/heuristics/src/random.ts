import { type PolicyDefinition, type PolicySpec, Rng } from '@kv/core';
import { DROP_INCOMING, EvictionCache } from './eviction-cache.js';

/**
 * Random: a uniform random subset of the tokens seen, by reservoir sampling (Vitter's
 * Algorithm R, as core's `Reservoir`), seeded by `spec.seed`.
 *
 * @remarks
 * Guarantee (fixed budget k): after n ≥ k appends every token seen is kept with probability
 * exactly k/n, and the kept set is a uniform k-subset. With a ratio budget the capacity grows
 * with the stream and a growing reservoir cannot stay uniform (the tokens that were dropped
 * earlier are gone): the arriving token takes each new slot, which biases the sample towards
 * recent tokens by at most the growth. No approximation guarantee: it is the baseline that
 * tells whether a policy's choices beat chance.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { randomPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(randomPolicy)
 *   .create({ policy: 'random', keyDim: 64, valueDim: 64, budget: 256, seed: 7 });
 * ```
 * @see Vitter, Random Sampling with a Reservoir (ACM TOMS 1985).
 */
export class RandomSubset extends EvictionCache {
  private rng: Rng;

  /** @param spec - A validated spec with a budget; `seed` fixes the sample. */
  constructor(spec: PolicySpec) {
    super(spec);
    this.rng = new Rng(spec.seed ?? 0);
  }

  /**
   * Algorithm R: the token at position i replaces a uniform kept slot with probability k/(i+1).
   * @param _key - Arriving key (unused).
   * @param position - Its position i.
   * @returns A slot or {@link DROP_INCOMING}.
   */
  protected victim(_key: Float32Array, position: number): number {
    const j = this.rng.int(position + 1);
    return j < this.store.count ? j : DROP_INCOMING;
  }

  /** Forgets every token and restarts the random stream from the seed. */
  protected override onReset(): void {
    super.onReset();
    this.rng = new Rng(this.spec.seed ?? 0);
  }
}

/**
 * Registry entry of {@link RandomSubset} (`"random"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { randomPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(randomPolicy);
 * ```
 */
export const randomPolicy: PolicyDefinition = {
  name: 'random',
  summary: 'A uniform random subset of the tokens seen (reservoir sampling, seeded).',
  params: [],
  budget: 'required',
  create: (spec) => new RandomSubset(spec),
};
