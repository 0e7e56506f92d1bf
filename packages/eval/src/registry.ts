import { coresetPolicies } from '@kv/coreset';
import { exactPolicy, PolicyRegistry } from '@kv/core';
import { heuristicPolicies } from '@kv/heuristics';
import { hybridPolicies } from '@kv/hybrid';
import { lshPolicies } from '@kv/lsh';
import { polynomialPolicies } from '@kv/polynomial';
import { tagFamily } from './report/families.js';

tagFamily('heuristics', heuristicPolicies);
tagFamily('coreset', coresetPolicies);
tagFamily('polynomial', polynomialPolicies);
tagFamily('lsh', lshPolicies);
tagFamily('hybrid', hybridPolicies);

/**
 * The registry `kv-eval` uses: core's exact reference plus the policy arrays of every policy
 * package `@kv/eval` depends on. This is the one place to add a package's policy array.
 *
 * @returns A new registry.
 * @throws `InvalidParamsError` (from `@kv/core`) if two packages register different policies under
 *   one name.
 * @example
 * ```ts
 * import { createDefaultRegistry } from '@kv/eval';
 * createDefaultRegistry().list().map((p) => p.name);
 * ```
 */
export function createDefaultRegistry(): PolicyRegistry {
  // cannot throw: the packages' policy names are distinct
  return new PolicyRegistry().register(exactPolicy, ...heuristicPolicies, ...coresetPolicies, ...polynomialPolicies, ...lshPolicies, ...hybridPolicies);
}
