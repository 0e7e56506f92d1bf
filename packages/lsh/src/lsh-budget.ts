import { type Budget, floorBytes, requireFits, Rng } from '@kv/core';
import { createFamily, type FamilyOptions } from './family.js';
import { tableBytes } from './tables.js';

/**
 * The tables an LSH policy can afford at the smallest budget it will get: the requested count of
 * the requested family, with direct-addressed bucket heads when they take at most an eighth of
 * that budget (else a hash map per table), then halving the tables and then the concatenated
 * hashes until the fixed bytes (functions and heads), `otherFixed` bytes and `minRows` rows of
 * `rowBytes` plus their table links fit.
 *
 * @param policy - Policy name, for the error message.
 * @param budget - The policy's budget.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @param family - Family kind and shape.
 * @param tables - Requested tables.
 * @param otherFixed - Other fixed bytes (a pilot sample, a reservoir).
 * @param rowBytes - Bytes of one row besides its table links.
 * @param minRows - Rows that must fit.
 * @returns The tables, family and index kind that fit, and their costs.
 * @throws `InvalidBudgetError` (from `@kv/core`) naming the smallest budget that fits when even
 *   one table of one hash does not; `InvalidParamsError` for a bad family shape.
 * @example
 * ```ts
 * import { fitTables } from '@kv/lsh';
 * fitTables('lsh-heavy', { bytes: 8192 }, 16, 16, { kind: 'simhash', hashes: 8 }, 8, 0, 132, 4).tables; // 8
 * ```
 */
export function fitTables(
  policy: string,
  budget: Budget | undefined,
  d: number,
  s: number,
  family: FamilyOptions,
  tables: number,
  otherFixed: number,
  rowBytes: number,
  minRows: number,
): {
  /** Tables that fit. */
  tables: number;
  /** The family, with the hashes that fit. */
  family: FamilyOptions;
  /** Whether bucket heads are direct-addressed. */
  direct: boolean;
  /** Fixed bytes of the tables. */
  fixed: number;
  /** Bytes per item of the tables. */
  perItem: number;
} {
  const floor = floorBytes(budget, d, s);
  let L = tables;
  let fam = family;
  const cost = () => {
    const cells = createFamily(d, fam, new Rng(0)).buckets;
    const direct = cells <= 1 << 16 && 8 * cells * L <= floor / 8;
    const one = tableBytes(d, 1, fam, new Rng(0), direct);
    return { direct, fixed: L * one.fixed, perItem: L * one.perItem };
  };
  let c = cost();
  const fits = () => c.fixed + otherFixed + minRows * (rowBytes + c.perItem) <= floor;
  while (!fits() && (L > 1 || fam.hashes > 1)) {
    if (L > 1) L = Math.max(1, Math.floor(L / 2));
    else fam = { ...fam, hashes: Math.max(1, Math.floor(fam.hashes / 2)) };
    c = cost();
  }
  requireFits(policy, budget, { fixed: c.fixed + otherFixed, perRow: rowBytes + c.perItem }, d, s, minRows);
  return { tables: L, family: fam, ...c };
}

/**
 * The most bytes a budget will ever allow: the bytes of a fixed budget, Infinity for one that
 * grows with the stream.
 *
 * @param budget - The budget.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @returns The bytes (Infinity when unbounded).
 * @example
 * ```ts
 * import { maxBudgetBytes } from '@kv/lsh';
 * maxBudgetBytes({ bytes: 4096 }, 8, 8); // 4096
 * maxBudgetBytes({ fraction: 0.25 }, 8, 8); // Infinity
 * ```
 */
export function maxBudgetBytes(budget: Budget | undefined, d: number, s: number): number {
  if (budget === undefined) return Infinity;
  if (typeof budget === 'number' || 'tokens' in budget || 'bytes' in budget) return floorBytes(budget, d, s);
  return Infinity;
}
