import {
  type Budget,
  type HeadCache,
  InvalidParamsError,
  mixSeed,
  type PolicyChoice,
  type PolicyRegistryLike,
  type PolicySpec,
} from '@kv/core';

/**
 * Reads a nested policy choice parameter (`{ policy, params?, budget?, seed? }`).
 *
 * @param params - The parent spec's params.
 * @param name - Parameter name.
 * @returns The choice.
 * @throws `InvalidParamsError` (from `@kv/core`) when it is not an object with a string `policy`.
 * @example
 * ```ts
 * import { choiceParamOf } from '@kv/hybrid';
 * choiceParamOf({ middle: { policy: 'exact' } }, 'middle'); // { policy: 'exact' }
 * ```
 */
export function choiceParamOf(params: Readonly<Record<string, unknown>> | undefined, name: string): PolicyChoice {
  const raw = params?.[name];
  if (typeof raw !== 'object' || raw === null || typeof (raw as { policy?: unknown }).policy !== 'string') {
    throw new InvalidParamsError(`parameter "${name}" is ${JSON.stringify(raw)}, expected a policy choice {policy, params?, budget?}`);
  }
  return raw as PolicyChoice;
}

/**
 * Builds a sub-cache of a combinator: same dimensions and τ as the parent, a seed derived from the
 * parent's seed and the part's index, and the given fallback budget when the choice has none.
 *
 * @param registry - Registry that knows the sub-policy.
 * @param parent - The combinator's spec.
 * @param choice - The sub-policy choice.
 * @param index - Index of the part (decorrelates seeds).
 * @param fallbackBudget - Budget to use when `choice.budget` is absent.
 * @returns The sub-cache.
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { createPart } from '@kv/hybrid';
 * const reg = new PolicyRegistry().register(exactPolicy);
 * createPart(reg, { policy: 'tiered', keyDim: 4, valueDim: 4 }, { policy: 'exact' }, 0, undefined);
 * ```
 */
export function createPart(
  registry: PolicyRegistryLike,
  parent: PolicySpec,
  choice: PolicyChoice,
  index: number,
  fallbackBudget: Budget | undefined,
): HeadCache {
  const budget = choice.budget ?? fallbackBudget;
  return registry.create({
    ...choice,
    keyDim: parent.keyDim,
    valueDim: parent.valueDim,
    tau: parent.tau ?? 1 / Math.sqrt(parent.keyDim),
    seed: choice.seed ?? mixSeed(parent.seed ?? 0, index + 1),
    ...(budget !== undefined ? { budget } : {}),
  });
}
