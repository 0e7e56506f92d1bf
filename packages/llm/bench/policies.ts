import { exactPolicy, type PolicyChoice, PolicyRegistry } from '@kv/core';
import { coresetPolicies } from '@kv/coreset';
import { heuristicPolicies } from '@kv/heuristics';
import { lshPolicies } from '@kv/lsh';
import { polynomialPolicies } from '@kv/polynomial';

/**
 * The policies the benchmark compares (every policy package @kv/eval registers by default, except
 * exact, which is the reference), with the registry that builds them. BENCH_POLICIES=a,b narrows it.
 */
export function benchPolicies(): { registry: PolicyRegistry; choices: (PolicyChoice & { label: string })[] } {
  const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies, ...coresetPolicies, ...polynomialPolicies, ...lshPolicies);
  const only = process.env.BENCH_POLICIES?.split(',').map((s) => s.trim());
  const choices = registry
    .list()
    .filter((d) => d.name !== 'exact' && (!only || only.includes(d.name)))
    .map((d) => ({ policy: d.name, label: d.name }));
  return { registry, choices };
}
