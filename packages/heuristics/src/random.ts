import { type PolicyDefinition, type PolicySpec, Rng } from '@kv/core';
import { EvictionCache } from './eviction/eviction-cache.js';
import { evictionParams } from './eviction/params.js';
import type { Scorer } from './eviction/scorer.js';

/**
 * A uniform random priority per token (Float32, one column), drawn from a seeded generator whose
 * state is saved with the cache; keeping the highest priorities keeps a uniform random subset.
 *
 * @param seed - Seed of the priorities.
 * @returns A live scorer.
 * @example
 * ```ts
 * import { randomPriorityScorer } from '@kv/heuristics';
 * randomPriorityScorer(7).name; // 'random priority'
 * ```
 */
export function randomPriorityScorer(seed: number): Scorer {
  let rng = new Rng(seed);
  // The priority drawn for an arriving token when the cache had to decide whether to keep it.
  let pendingPosition = -1;
  let pending = 0;
  const draw = (position: number): number => {
    if (pendingPosition === position) return pending;
    pendingPosition = position;
    pending = Math.fround(rng.uniform());
    return pending;
  };
  return {
    name: 'random priority',
    columns: 1,
    probs: false,
    queries: false,
    live: true,
    nonNegative: true,
    fixedBytes: () => 0,
    stored(view, slot, _key, _value, position) {
      view.column(0)[slot] = draw(position);
    },
    incoming: (_view, _key, _value, position) => draw(position),
    score: (view) => view.column(0),
    save: () => ({ scalars: { rng: rng.getState() }, arrays: {} }),
    load(r) {
      rng.setState(r.numbers('rng', 6));
      pendingPosition = -1;
    },
    reset() {
      rng = new Rng(seed);
      pendingPosition = -1;
    },
  };
}

/**
 * Random: a uniform random subset of the tokens seen, seeded by `spec.seed` (priority sampling:
 * each token draws a uniform priority, the cache keeps the highest).
 *
 * @remarks
 * Guarantee (fixed budget k, no sinks or recent window): after n ≥ k appends every token seen is
 * kept with probability exactly k/n, and the kept set is a uniform k-subset (the top k of n
 * i.i.d. priorities). With a growing budget (`{ratio}`, `{fraction}`) a sample cannot stay
 * uniform (the tokens dropped earlier are gone): the arriving token takes each new row, which
 * biases the sample towards recent tokens by at most the growth. No approximation guarantee: it
 * is the baseline that tells whether a policy's choices beat chance.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { randomPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(randomPolicy)
 *   .create({ policy: 'random', keyDim: 64, valueDim: 64, budget: 256, seed: 7 });
 * ```
 * @see Duffield, Lund, Thorup, Priority sampling for estimation of arbitrary subset sums (J. ACM 2007).
 */
export class RandomSubset extends EvictionCache {
  /**
   * @param spec - A validated spec with a budget; `seed` fixes the sample.
   * @throws `InvalidParamsError` on a bad parameter (the shared eviction parameters included).
   */
  constructor(spec: PolicySpec) {
    super(spec, randomPriorityScorer(spec.seed ?? 0));
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
  summary: 'A uniform random subset of the tokens seen (priority sampling, seeded).',
  params: evictionParams(),
  budget: 'required',
  create: (spec) => new RandomSubset(spec),
};
