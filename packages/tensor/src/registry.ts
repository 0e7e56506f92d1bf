import { InvalidBudgetError, type PolicySpec, rejectUnknownParams, UnknownPolicyError, validateSpec } from '@kv/core';
import type { TensorCacheDefinition, TensorHeadCache } from './contract.js';
import { fourCacheDefinition } from './four-cache.js';
import { taylorCacheDefinition } from './taylor-cache.js';
import { twoCacheDefinition } from './two-cache.js';

/**
 * Every tensor cache layout of this package, as a list of definitions (name → factory): the exact
 * four-cache and two-cache, and the compressed Taylor-moment cache. Nothing registers itself on
 * import; pass this list (or a subset) to {@link createTensorCache}.
 *
 * @example
 * ```ts
 * import { tensorCaches } from '@kv/tensor';
 * tensorCaches.map((c) => c.name); // ['tensor-four-cache', 'tensor-two-cache', 'tensor-taylor']
 * ```
 */
export const tensorCaches: readonly TensorCacheDefinition[] = [fourCacheDefinition, twoCacheDefinition, taylorCacheDefinition];

/**
 * Validates a spec as core's registry does (dimensions, τ, seed, budget shape, unknown parameters,
 * required budget) and creates the tensor cache it names.
 *
 * @param spec - The spec; `spec.policy` names a definition in `definitions`.
 * @param definitions - The layouts to choose from (default {@link tensorCaches}).
 * @returns A new cache.
 * @throws `UnknownPolicyError` for an unknown name; `InvalidParamsError`
 *   or `InvalidBudgetError` for a bad spec.
 * @example
 * ```ts
 * import { createTensorCache } from '@kv/tensor';
 * const cache = createTensorCache({ policy: 'tensor-two-cache', keyDim: 16, valueDim: 16 });
 * ```
 */
export function createTensorCache(
  spec: PolicySpec,
  definitions: readonly TensorCacheDefinition[] = tensorCaches,
): TensorHeadCache {
  const def = definitions.find((d) => d.name === spec?.policy);
  if (!def) throw new UnknownPolicyError(String(spec?.policy), definitions.map((d) => d.name));
  validateSpec(spec);
  rejectUnknownParams(spec, def.params);
  if (def.budget === 'required' && spec.budget === undefined) {
    throw new InvalidBudgetError(`${spec.policy} needs a budget (a token count or {ratio})`);
  }
  return def.create(spec);
}
