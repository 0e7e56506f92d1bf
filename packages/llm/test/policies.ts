import { exactPolicy, type PolicyChoice, PolicyRegistry } from '@kv/core';
import { coresetPolicies } from '@kv/coreset';
import { heuristicPolicies } from '@kv/heuristics';
import { lshPolicies } from '@kv/lsh';
import { polynomialPolicies } from '@kv/polynomial';

/** The registry the tests use: core's exact plus every policy package @kv/eval registers by default. */
export function testRegistry(): PolicyRegistry {
  return new PolicyRegistry().register(exactPolicy, ...heuristicPolicies, ...coresetPolicies, ...polynomialPolicies, ...lshPolicies);
}

/**
 * Every token-keeping policy with a budget of at least `n` tokens: each keeps every token of an
 * n-token text, so the model must match the full-cache model. Estimators and summaries (subgen,
 * lsh-heavy, lsh-multirate, performer, taylor, multipole, kivi, balancekv) approximate attention
 * or need budgets far above a short test text, so they are not in this list.
 */
export function wideOpenPolicies(n: number): PolicyChoice[] {
  const keeping = [...heuristicPolicies.filter((p) => p.budget === 'required').map((p) => p.name), 'uniform'];
  // PyramidKV's budget is a per-layer average and deeper layers get less; beta = 1 flattens the
  // pyramid so every layer gets the average.
  return [{ policy: 'exact' }, ...keeping.map((policy) => (policy === 'pyramidkv' ? { policy, params: { beta: 1 }, budget: Math.max(n, 33) } : { policy, budget: n }))];
}
