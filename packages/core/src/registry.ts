import { validateBudget } from './budget.js';
import type { HeadCache, PolicyDefinition, PolicyRegistryLike, PolicySpec } from './contract.js';
import { InvalidBudgetError, InvalidParamsError, UnknownPolicyError } from './errors.js';
import { rejectUnknownParams } from './params.js';

/**
 * An explicit registry of policies. Nothing registers itself on import: users add the
 * definitions they installed (`registry.register(...heuristicPolicies)`), which keeps bundles
 * tree-shakeable and makes the set of available policies visible in code.
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * const registry = new PolicyRegistry().register(exactPolicy);
 * const cache = registry.create({ policy: 'exact', keyDim: 64, valueDim: 64 });
 * ```
 */
export class PolicyRegistry implements PolicyRegistryLike {
  private readonly byName = new Map<string, PolicyDefinition>();

  /**
   * Adds policy definitions.
   * @param definitions - Definitions to add.
   * @returns This registry, for chaining.
   * @throws {@link InvalidParamsError} when a name is already registered with another definition.
   */
  register(...definitions: readonly PolicyDefinition[]): this {
    for (const def of definitions) {
      const existing = this.byName.get(def.name);
      if (existing && existing !== def) {
        throw new InvalidParamsError(`a different policy named "${def.name}" is already registered`);
      }
      this.byName.set(def.name, def);
    }
    return this;
  }

  /**
   * Whether a policy is registered.
   * @param name - Policy name.
   * @returns `true` when registered.
   */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /**
   * The definition of a policy.
   * @param name - Policy name.
   * @returns The definition.
   * @throws {@link UnknownPolicyError} when not registered.
   */
  get(name: string): PolicyDefinition {
    const def = this.byName.get(name);
    if (!def) throw new UnknownPolicyError(name, [...this.byName.keys()]);
    return def;
  }

  /**
   * All registered definitions, sorted by name.
   * @returns The definitions.
   */
  list(): PolicyDefinition[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Validates a spec and creates the cache it describes.
   * @param spec - The spec.
   * @returns A new cache.
   * @throws {@link UnknownPolicyError} for an unregistered name; {@link InvalidParamsError} for bad
   *   dimensions, τ, seed or unknown parameters; {@link InvalidBudgetError} for a bad or missing budget.
   */
  create(spec: PolicySpec): HeadCache {
    const def = this.get(spec.policy);
    validateSpec(spec);
    rejectUnknownParams(spec, def.params);
    if (def.budget === 'required' && spec.budget === undefined) {
      throw new InvalidBudgetError(`${spec.policy} needs a budget: a token count, {tokens}, {ratio}, {bytes} or {fraction}`);
    }
    return def.create(spec, this);
  }
}

/**
 * Checks the policy-independent fields of a spec.
 *
 * @param spec - The spec.
 * @throws {@link InvalidParamsError} or {@link InvalidBudgetError} on a bad field.
 * @example
 * ```ts
 * import { validateSpec } from '@kv/core';
 * validateSpec({ policy: 'exact', keyDim: 64, valueDim: 64 });
 * ```
 */
export function validateSpec(spec: PolicySpec): void {
  if (typeof spec !== 'object' || spec === null) throw new InvalidParamsError('a policy spec must be an object');
  for (const field of ['keyDim', 'valueDim'] as const) {
    const v = spec[field];
    if (!Number.isInteger(v) || v < 1) throw new InvalidParamsError(`${field} is ${String(v)}, expected an integer >= 1`);
  }
  if (spec.tau !== undefined && !(Number.isFinite(spec.tau) && spec.tau > 0)) {
    throw new InvalidParamsError(`tau is ${String(spec.tau)}, expected a finite number > 0`);
  }
  if (spec.seed !== undefined && !Number.isSafeInteger(spec.seed)) {
    throw new InvalidParamsError(`seed is ${String(spec.seed)}, expected a safe integer`);
  }
  if (spec.budget !== undefined) validateBudget(spec.budget);
}
