import type { Budget, ByteCost } from './contract.js';
import { InvalidBudgetError } from './errors.js';

/** Bytes of one float32 key/value row: what the exact cache holds per token. */
const fp32Row = (d: number, s: number): number => 4 * (d + s);

/**
 * Checks a budget's shape and range.
 *
 * @param budget - The budget to check.
 * @throws {@link InvalidBudgetError} when it is not a positive integer token count, a ratio or
 *   fraction in (0, 1], or a positive integer byte count, or has fields of the wrong type.
 * @example
 * ```ts
 * import { validateBudget } from '@kv/core';
 * validateBudget({ ratio: 0.25 });
 * validateBudget({ fraction: 1 / 8, minBytes: 4096 });
 * ```
 */
export function validateBudget(budget: Budget): void {
  if (typeof budget === 'number') {
    if (!Number.isSafeInteger(budget) || budget < 1) {
      throw new InvalidBudgetError(`budget is ${budget}, expected an integer token count >= 1`);
    }
    return;
  }
  if (typeof budget !== 'object' || budget === null || Array.isArray(budget)) {
    throw new InvalidBudgetError(`budget is ${JSON.stringify(budget) ?? String(budget)}, expected a token count, {tokens}, {ratio}, {bytes} or {fraction}`);
  }
  const keys = Object.keys(budget);
  const allow = (kind: string, fields: readonly string[]): void => {
    const extra = keys.filter((k) => !fields.includes(k));
    if (extra.length > 0) {
      throw new InvalidBudgetError(`a {${kind}} budget has no field ${extra.map((k) => `"${k}"`).join(', ')}; its fields are ${fields.join(', ')}`);
    }
  };
  if ('tokens' in budget) {
    allow('tokens', ['tokens']);
    if (!Number.isSafeInteger(budget.tokens) || budget.tokens < 1) {
      throw new InvalidBudgetError(`budget tokens is ${String(budget.tokens)}, expected an integer >= 1`);
    }
    return;
  }
  if ('ratio' in budget) {
    allow('ratio', ['ratio', 'min']);
    const { ratio, min } = budget;
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1)) {
      throw new InvalidBudgetError(`budget ratio is ${String(ratio)}, expected a number in (0, 1]`);
    }
    if (min !== undefined && (!Number.isSafeInteger(min) || min < 1)) {
      throw new InvalidBudgetError(`budget min is ${String(min)}, expected an integer >= 1`);
    }
    return;
  }
  if ('bytes' in budget) {
    allow('bytes', ['bytes']);
    if (!Number.isSafeInteger(budget.bytes) || budget.bytes < 1) {
      throw new InvalidBudgetError(`budget bytes is ${String(budget.bytes)}, expected an integer >= 1`);
    }
    return;
  }
  if ('fraction' in budget) {
    allow('fraction', ['fraction', 'minBytes', 'offsetBytes']);
    const { fraction, minBytes, offsetBytes } = budget;
    if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) {
      throw new InvalidBudgetError(`budget fraction is ${String(fraction)}, expected a number in (0, 1]`);
    }
    if (minBytes !== undefined && (!Number.isSafeInteger(minBytes) || minBytes < 0)) {
      throw new InvalidBudgetError(`budget minBytes is ${String(minBytes)}, expected an integer >= 0`);
    }
    if (offsetBytes !== undefined && !Number.isSafeInteger(offsetBytes)) {
      throw new InvalidBudgetError(`budget offsetBytes is ${String(offsetBytes)}, expected an integer`);
    }
    return;
  }
  throw new InvalidBudgetError(`budget ${JSON.stringify(budget)} has none of "tokens", "ratio", "bytes", "fraction"`);
}

/**
 * Whether a budget counts bytes (`{bytes}`, `{fraction}`) rather than token slots.
 *
 * @param budget - A validated budget or undefined.
 * @returns True for byte budgets.
 * @example
 * ```ts
 * import { isByteBudget } from '@kv/core';
 * isByteBudget({ fraction: 0.25 }); // true
 * isByteBudget(64); // false
 * ```
 */
export function isByteBudget(
  budget: Budget | undefined,
): budget is
  | {
      /** Bytes held at most. */
      bytes: number;
    }
  | {
      /** Fraction of the float32 bytes of the tokens seen. */
      fraction: number;
      /** Never fewer bytes than this. */
      minBytes?: number;
      /** Bytes added on top. */
      offsetBytes?: number;
    } {
  return typeof budget === 'object' && budget !== null && ('bytes' in budget || 'fraction' in budget);
}

/**
 * The bytes a budget allows after `seen` tokens. Token budgets count token-equivalents of
 * float32 rows (`tokens · 4·(d+s)`), so summaries that keep no rows can be held to them too.
 *
 * @param budget - A validated budget (undefined: unbounded).
 * @param seen - Tokens seen so far.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @returns The byte budget (Infinity when unbounded; may be 0).
 * @example
 * ```ts
 * import { budgetBytes } from '@kv/core';
 * budgetBytes({ fraction: 0.25 }, 1000, 64, 64); // 128000
 * budgetBytes({ bytes: 4096 }, 1000, 64, 64); // 4096
 * ```
 */
export function budgetBytes(budget: Budget | undefined, seen: number, d: number, s: number): number {
  if (budget === undefined) return Infinity;
  if (typeof budget === 'number') return budget * fp32Row(d, s);
  if ('tokens' in budget) return budget.tokens * fp32Row(d, s);
  if ('ratio' in budget) return Math.max(budget.min ?? 1, Math.ceil(budget.ratio * seen)) * fp32Row(d, s);
  if ('bytes' in budget) return budget.bytes;
  const b = Math.floor(budget.fraction * fp32Row(d, s) * seen) + (budget.offsetBytes ?? 0);
  return Math.max(budget.minBytes ?? 0, b, 0);
}

/**
 * The rows a policy of cost `cost` may keep after `seen` tokens: the token count for token
 * budgets, `floor((bytes − fixed) / perRow)` for byte budgets (at least 0). A summary
 * (`perRow = 0`) gets Infinity when its fixed part fits, 0 otherwise.
 *
 * @param budget - A validated budget (undefined: unbounded).
 * @param seen - Tokens seen so far.
 * @param cost - What the policy holds per row and in fixed state.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @returns The row capacity (Infinity when unbounded).
 * @example
 * ```ts
 * import { capacityRows } from '@kv/core';
 * capacityRows({ bytes: 10_000 }, 0, { fixed: 0, perRow: 516 }, 64, 64); // 19
 * capacityRows({ ratio: 0.25 }, 1000, { fixed: 0, perRow: 516 }, 64, 64); // 250
 * ```
 */
export function capacityRows(budget: Budget | undefined, seen: number, cost: ByteCost, d: number, s: number): number {
  if (budget === undefined) return Infinity;
  if (typeof budget === 'number') return budget;
  if ('tokens' in budget) return budget.tokens;
  if ('ratio' in budget) return Math.max(budget.min ?? 1, Math.ceil(budget.ratio * seen));
  const free = budgetBytes(budget, seen, d, s) - cost.fixed;
  if (cost.perRow <= 0) return free >= 0 ? Infinity : 0;
  return Math.max(0, Math.floor(free / cost.perRow));
}

/**
 * The most rows a budget will ever allow (for sizing stores once): the token count or
 * `floor((bytes − fixed) / perRow)`; Infinity for budgets that grow with the stream.
 *
 * @param budget - A validated budget (undefined: unbounded).
 * @param cost - The policy's cost.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @returns The largest row capacity (Infinity when it grows without bound).
 * @example
 * ```ts
 * import { maxRows } from '@kv/core';
 * maxRows({ bytes: 10_000 }, { fixed: 0, perRow: 516 }, 64, 64); // 19
 * maxRows({ fraction: 0.25 }, { fixed: 0, perRow: 516 }, 64, 64); // Infinity
 * ```
 */
export function maxRows(budget: Budget | undefined, cost: ByteCost, d: number, s: number): number {
  if (budget === undefined) return Infinity;
  if (typeof budget === 'number' || 'tokens' in budget || 'bytes' in budget) return capacityRows(budget, 0, cost, d, s);
  return Infinity;
}

/**
 * The smallest bytes a budget will ever allow (at `seen = 0`): what a summary of fixed size must
 * fit into. Token budgets count float32 token-equivalents; a ratio counts its `min` slots.
 *
 * @param budget - A validated budget (undefined: unbounded).
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @returns The floor in bytes (Infinity when unbounded).
 * @example
 * ```ts
 * import { floorBytes } from '@kv/core';
 * floorBytes({ fraction: 0.125, minBytes: 8192 }, 64, 64); // 8192
 * floorBytes({ bytes: 4096 }, 64, 64); // 4096
 * ```
 */
export function floorBytes(budget: Budget | undefined, d: number, s: number): number {
  return budgetBytes(budget, 0, d, s);
}

/**
 * Throws unless a policy's fixed part and `minRows` rows fit the smallest bytes the budget will
 * give; the message names the smallest budget that fits.
 *
 * @param policy - Policy name, for the message.
 * @param budget - A validated budget (undefined: always fits).
 * @param cost - The policy's cost.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @param minRows - Rows the policy needs besides its fixed part (default 0).
 * @throws {@link InvalidBudgetError} when it does not fit.
 * @example
 * ```ts
 * import { requireFits } from '@kv/core';
 * requireFits('taylor', { bytes: 1 << 20 }, { fixed: 70_000, perRow: 0 }, 64, 64);
 * ```
 */
export function requireFits(policy: string, budget: Budget | undefined, cost: ByteCost, d: number, s: number, minRows = 0): void {
  const need = cost.fixed + minRows * cost.perRow;
  const have = floorBytes(budget, d, s);
  if (need <= have) return;
  const form = isByteBudget(budget) && 'fraction' in budget
    ? `{ fraction: ${budget.fraction}, minBytes: ${need} } or { bytes: ${need} }`
    : isByteBudget(budget)
      ? `{ bytes: ${need} }`
      : `${Math.ceil(need / fp32Row(d, s))} tokens or { bytes: ${need} }`;
  throw new InvalidBudgetError(
    `${policy} needs at least ${need} bytes (fixed ${cost.fixed}${minRows > 0 ? ` + ${minRows} rows of ${cost.perRow}` : ''}) but the budget ${JSON.stringify(budget)} starts at ${have}; the smallest budget that fits is ${form}`,
  );
}

/**
 * What the parts of a combinator have for themselves once it keeps `reservedRows` rows of
 * `reservedRowBytes` bytes each (sinks, a window) out of its budget, split evenly over `parts`.
 * `seenShift` is how many fewer tokens a part sees than the combinator (a tiered middle sees
 * the stream minus sinks and window), so a fraction stays a fraction of the combinator's stream.
 * Parts that split the stream between them (routing) keep the fraction, since their seen counts
 * add up to the stream; parts that each see every token (`everyToken`) share it.
 *
 * @param budget - The combinator's budget (undefined: none).
 * @param options - Reserved rows and their bytes, number of parts, and the part's seen shift.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @returns The budget of one part (undefined when the combinator has none).
 * @throws {@link InvalidBudgetError} when a fixed budget leaves nothing for a part.
 * @example
 * ```ts
 * import { partBudget } from '@kv/core';
 * partBudget(100, { reservedRows: 36, reservedRowBytes: 516, parts: 2 }, 64, 64); // 32
 * partBudget({ bytes: 65536 }, { reservedRows: 36, reservedRowBytes: 516 }, 64, 64); // { bytes: 46960 }
 * ```
 */
export function partBudget(
  budget: Budget | undefined,
  options: { readonly reservedRows: number; readonly reservedRowBytes: number; readonly parts?: number; readonly seenShift?: number; readonly everyToken?: boolean },
  d: number,
  s: number,
): Budget | undefined {
  if (budget === undefined) return undefined;
  const parts = options.parts ?? 1;
  const reservedBytes = options.reservedRows * options.reservedRowBytes;
  if (typeof budget === 'number' || 'tokens' in budget) {
    const tokens = typeof budget === 'number' ? budget : budget.tokens;
    const share = Math.floor((tokens - options.reservedRows) / parts);
    if (share < 1) {
      throw new InvalidBudgetError(`budget ${tokens} leaves ${tokens - options.reservedRows} slots for ${parts} part(s) after ${options.reservedRows} reserved`);
    }
    return share;
  }
  if ('ratio' in budget) return budget;
  if ('bytes' in budget) {
    const share = Math.floor((budget.bytes - reservedBytes) / parts);
    if (share < 1) {
      throw new InvalidBudgetError(`budget of ${budget.bytes} bytes leaves ${budget.bytes - reservedBytes} for ${parts} part(s) after ${reservedBytes} reserved (${options.reservedRows} rows); the smallest budget that fits is { bytes: ${reservedBytes + parts} }`);
    }
    return { bytes: share };
  }
  // A part seeing seen − shift tokens gets f·row·(seen − shift + shift) − reserved, split.
  const shift = options.seenShift ?? 0;
  const offset = Math.floor(budget.fraction * fp32Row(d, s) * shift) + (budget.offsetBytes ?? 0) - reservedBytes;
  const out: { fraction: number; minBytes?: number; offsetBytes?: number } = {
    fraction: options.everyToken ? budget.fraction / parts : budget.fraction,
    offsetBytes: Math.floor(offset / parts),
  };
  if (budget.minBytes !== undefined) out.minBytes = Math.max(0, Math.floor((budget.minBytes - reservedBytes) / parts));
  return out;
}
