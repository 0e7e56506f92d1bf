import { exactPolicy, type PolicyDefinition, type PolicyRegistry } from '@kv/core';

// Filled by createDefaultRegistry (registry.ts) with the package of each built-in definition, so
// this module does not load every policy package.
const FAMILY = new WeakMap<PolicyDefinition, string>([[exactPolicy, 'exact']]);

/**
 * Records the family of policy definitions (the package they come from).
 * @param family - The family name.
 * @param definitions - Its definitions.
 * @example
 * ```ts
 * import type { PolicyDefinition } from '@kv/core';
 * import { tagFamily } from '@kv/eval';
 * declare const myPolicies: PolicyDefinition[];
 * tagFamily('mine', myPolicies); // plots draw them in a panel of their own
 * ```
 */
export function tagFamily(family: string, definitions: readonly PolicyDefinition[]): void {
  for (const d of definitions) FAMILY.set(d, family);
}

/**
 * The family of every registered policy: the package whose policy array it comes from
 * (`heuristics`, `coreset`, `polynomial`, `lsh`, `hybrid`, `exact`, as tagged by
 * {@link createDefaultRegistry} or {@link tagFamily}), else `custom`. Plots draw one panel per family.
 *
 * @param registry - The registry of the run.
 * @returns Policy name → family.
 * @example
 * ```ts
 * import { createDefaultRegistry, policyFamilies } from '@kv/eval';
 * policyFamilies(createDefaultRegistry())['sliding-window']; // "heuristics"
 * ```
 */
export function policyFamilies(registry: PolicyRegistry): Record<string, string> {
  const out: Record<string, string> = {};
  for (const def of registry.list()) out[def.name] = FAMILY.get(def) ?? 'custom';
  return out;
}
