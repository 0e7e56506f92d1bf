import { budgetCapacity, InvalidBudgetError, InvalidParamsError, type ParamInfo, type PolicySpec } from '@kv/core';

/**
 * Default memory limit of one cache: 256 MiB (the `maxBytes` parameter of every policy here).
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { DEFAULT_MAX_BYTES, multipolePolicy } from '@kv/polynomial';
 * // Raise the limit for a large multipole configuration.
 * new PolicyRegistry().register(multipolePolicy)
 *   .create({ policy: 'multipole', keyDim: 8, valueDim: 8, params: { maxBytes: 2 * DEFAULT_MAX_BYTES } });
 * ```
 */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** The `maxBytes` parameter every policy of this package accepts. */
export const maxBytesParam: ParamInfo = {
  name: 'maxBytes',
  type: 'integer',
  default: DEFAULT_MAX_BYTES,
  description: 'Refuse (InvalidParamsError) configurations whose arrays would exceed this many bytes.',
};

/** Formats a byte count for messages. */
export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/** Token-equivalents of a summary of `bytes` bytes: ceil(bytes / (4·(d+s))). */
export function tokenEquivalents(bytes: number, d: number, s: number): number {
  return Math.ceil(bytes / (4 * (d + s)));
}

/**
 * Refuses a configuration whose arrays exceed `maxBytes`.
 * @throws `InvalidParamsError` with the size, the limit and `hint`.
 */
export function checkMemoryLimit(policy: string, bytes: number, maxBytes: number, hint: string): void {
  if (bytes > maxBytes) {
    throw new InvalidParamsError(
      `${policy} needs ${formatBytes(bytes)} (${bytes} bytes), above maxBytes = ${formatBytes(maxBytes)}; ${hint}`,
    );
  }
}

/**
 * The size of these summaries does not depend on the number of tokens, so a budget must allow
 * `stored` from the first token on: a token budget below it, or a ratio budget whose `min` is
 * below it, is refused at construction.
 * @throws `InvalidBudgetError` when the budget cannot hold the summary.
 */
export function checkBudgetHolds(spec: PolicySpec, stored: number, hint: string): void {
  const budget = spec.budget;
  if (budget === undefined) return;
  const capacity = budgetCapacity(budget, 1);
  if (stored > capacity) {
    throw new InvalidBudgetError(
      `${spec.policy} keeps a summary of fixed size ${stored} token-equivalents (bytes / (4·(d+s))), ` +
        `but the budget allows ${capacity} at the first token; raise the budget (or a ratio budget's min) or ${hint}`,
    );
  }
}
