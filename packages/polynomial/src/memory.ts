import { floorBytes, InvalidParamsError, type ParamInfo, type PolicySpec, requireFits } from '@kv/core';

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
 * The bytes a summary of fixed size may hold: the smallest bytes its budget will ever give (the
 * `bytes`, a fraction's `minBytes`, a token count's float32 rows), and never above `maxBytes`.
 */
export function summaryLimit(spec: PolicySpec, maxBytes: number): number {
  return Math.min(maxBytes, floorBytes(spec.budget, spec.keyDim, spec.valueDim));
}

/**
 * Refuses at creation a summary whose fixed state does not fit the smallest bytes its budget gives,
 * naming the smallest budget that fits (core's `requireFits`).
 * @throws `InvalidBudgetError` when it does not fit.
 */
export function requireSummaryFits(spec: PolicySpec, fixedBytes: number): void {
  requireFits(spec.policy, spec.budget, { fixed: fixedBytes, perRow: 0 }, spec.keyDim, spec.valueDim);
}

/**
 * The `strict` and `threshold` parameters of the certified policies: a part whose certificate
 * exceeds `threshold` answers from its fallback and counts it, unless `strict` (then it throws).
 */
export const fallbackParams: readonly ParamInfo[] = [
  {
    name: 'strict',
    type: 'boolean',
    default: false,
    description: 'Throw AssumptionViolatedError where the certificate fails, instead of answering from the counted fallback.',
  },
  {
    name: 'threshold',
    type: 'number',
    default: 1,
    description: 'A certificate (relative bound) above this falls back to the merged mean token (counted in describe()).',
  },
];
