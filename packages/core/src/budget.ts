import type { Budget, PolicySpec } from './contract.js';
import { InvalidBudgetError } from './errors.js';

/**
 * Checks a budget's shape and range.
 *
 * @param budget - The budget to check.
 * @throws {@link InvalidBudgetError} when it is not a positive integer token count or a ratio in (0, 1].
 * @example
 * ```ts
 * import { validateBudget } from '@kv/core';
 * validateBudget({ ratio: 0.25 });
 * ```
 */
export function validateBudget(budget: Budget): void {
  if (typeof budget === 'number') {
    if (!Number.isInteger(budget) || budget < 1) {
      throw new InvalidBudgetError(`budget is ${budget}, expected an integer token count >= 1`);
    }
    return;
  }
  if (typeof budget !== 'object' || budget === null) {
    throw new InvalidBudgetError(`budget is ${String(budget)}, expected a token count, {tokens} or {ratio}`);
  }
  if ('tokens' in budget) {
    validateBudget(budget.tokens);
    return;
  }
  if ('ratio' in budget) {
    const { ratio, min } = budget;
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1)) {
      throw new InvalidBudgetError(`budget ratio is ${String(ratio)}, expected a number in (0, 1]`);
    }
    if (min !== undefined && (!Number.isInteger(min) || min < 1)) {
      throw new InvalidBudgetError(`budget min is ${String(min)}, expected an integer >= 1`);
    }
    return;
  }
  throw new InvalidBudgetError(`budget ${JSON.stringify(budget)} has neither "tokens" nor "ratio"`);
}

/**
 * The slot capacity a budget allows after `seen` tokens.
 *
 * @param budget - A validated budget (undefined means unbounded).
 * @param seen - Tokens seen so far.
 * @returns The capacity in token-equivalents (Infinity when unbounded).
 * @example
 * ```ts
 * import { budgetCapacity } from '@kv/core';
 * budgetCapacity({ ratio: 0.25 }, 1000); // 250
 * budgetCapacity(64, 1000); // 64
 * ```
 */
export function budgetCapacity(budget: Budget | undefined, seen: number): number {
  if (budget === undefined) return Infinity;
  if (typeof budget === 'number') return budget;
  if ('tokens' in budget) return budget.tokens;
  return Math.max(budget.min ?? 1, Math.ceil(budget.ratio * seen));
}

/**
 * The budget of a spec as a fixed token count, for policies that need one.
 *
 * @param spec - A policy spec.
 * @param policy - Policy name, for the error message.
 * @returns The token count.
 * @throws {@link InvalidBudgetError} when the spec has no budget or a ratio budget.
 * @example
 * ```ts
 * import { fixedBudget } from '@kv/core';
 * fixedBudget({ policy: 'x', keyDim: 4, valueDim: 4, budget: 32 }, 'x'); // 32
 * ```
 */
export function fixedBudget(spec: PolicySpec, policy: string): number {
  const b = spec.budget;
  if (b === undefined) throw new InvalidBudgetError(`${policy} needs a budget`);
  if (typeof b === 'number') return b;
  if ('tokens' in b) return b.tokens;
  throw new InvalidBudgetError(`${policy} needs a fixed token budget, got a ratio`);
}
