import { type Budget, capacityRows, floorBytes, partBudget } from '@kv/core';

/**
 * The fewest rows of `rowBytes` bytes a budget will ever allow (at the start of the stream): the
 * token count, a ratio's `min`, or the floor bytes of a byte budget divided by the row size.
 *
 * @param budget - A validated budget (undefined: unbounded).
 * @param rowBytes - Bytes of one row.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @returns The row floor (Infinity when unbounded).
 * @example
 * ```ts
 * import { budgetFloorRows } from '@kv/coreset';
 * budgetFloorRows({ fraction: 1 / 8, minBytes: 16512 }, 516, 64, 64); // 32
 * budgetFloorRows(100, 516, 64, 64); // 100
 * ```
 */
export function budgetFloorRows(budget: Budget | undefined, rowBytes: number, d: number, s: number): number {
  if (budget === undefined) return Infinity;
  if (typeof budget === 'number') return budget;
  if ('tokens' in budget) return budget.tokens;
  if ('ratio' in budget) return budget.min ?? 1;
  return Math.floor(floorBytes(budget, d, s) / rowBytes);
}

/**
 * Sinks and window that fit a row floor with room for `middleMin` middle rows: the requested
 * sizes when they fit, else both scaled down by the same factor (so a budget of a handful of
 * tokens still gets a middle).
 *
 * @param floor - Rows the budget always allows.
 * @param sink - Requested sinks.
 * @param window - Requested window.
 * @param middleMin - Rows the middle needs at least.
 * @returns The sizes and whether they were shrunk.
 * @example
 * ```ts
 * import { fitEdges } from '@kv/coreset';
 * fitEdges(32, 32, 32, 8); // { sink: 12, window: 12, shrunk: true }
 * ```
 */
export function fitEdges(
  floor: number,
  sink: number,
  window: number,
  middleMin: number,
): {
  /** Sinks to keep. */
  sink: number;
  /** Window to keep. */
  window: number;
  /** Whether the requested sizes were scaled down. */
  shrunk: boolean;
} {
  if (sink + window + middleMin <= floor) return { sink, window, shrunk: false };
  const room = Math.max(0, floor - middleMin);
  const f = sink + window > 0 ? room / (sink + window) : 0;
  return { sink: Math.floor(sink * f), window: Math.floor(window * f), shrunk: true };
}

/**
 * The budget left for a middle once `edgeRows` exact rows of `edgeRowBytes` are reserved, and the
 * rows of `middleRowBytes` it allows after `seen` tokens of the whole stream (core's
 * `partBudget` and `capacityRows`, with the middle seeing the stream minus the edges).
 *
 * @param budget - The policy's budget (undefined: unbounded).
 * @param edgeRows - Reserved exact rows.
 * @param edgeRowBytes - Bytes of one of them.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @param fixedBytes - Further bytes held whatever the rows (a precision's residual rings), taken
 *   from byte budgets before the middle's rows (default 0).
 * @returns A function from `seen` and the middle row size to the middle's row capacity.
 * @example
 * ```ts
 * import { middleCapacity } from '@kv/coreset';
 * const rows = middleCapacity({ bytes: 65536 }, 8, 516, 64, 64);
 * rows(1000, 520); // (65536 − 8·516) / 520 = 118
 * ```
  * @throws `InvalidBudgetError` (from `@kv/core`) when a fixed budget leaves nothing for the middle.
 */
export function middleCapacity(
  budget: Budget | undefined,
  edgeRows: number,
  edgeRowBytes: number,
  d: number,
  s: number,
  fixedBytes = 0,
): (seen: number, middleRowBytes: number) => number {
  if (budget === undefined) return () => Infinity;
  const part = partBudget(budget, { reservedRows: edgeRows, reservedRowBytes: edgeRowBytes, seenShift: edgeRows }, d, s);
  return (seen, middleRowBytes) => capacityRows(part, Math.max(0, seen - edgeRows), { fixed: fixedBytes, perRow: middleRowBytes }, d, s);
}

/**
 * Relative inclusion rates for sampling a stream whose capacity grows (a `{fraction}` or `{ratio}`
 * budget): a flat start (the budget's floor) followed by a linear growth. Tokens that arrive
 * while the capacity is flat share the rate it affords at the end of the flat part; later tokens
 * get 1.5 times the marginal rate of the growth, rising as (1 + j/16)^{1/4} (at most twice) with j
 * the index since the growth began. A priority sample's threshold can only fall, so with one rate it would stay at
 * the rate of its tightest, noisiest moment (a median 30–56% of the budget filled at 1/16–1/4 in
 * the decode protocol); these rates fill 94–99% of it. Fixed budgets get rate 1 for every token
 * (a plain uniform sample). The rates depend only on the token's index, so the sample stays
 * unbiased; later tokens are a little more likely to be kept.
 *
 * @param capacity - Rows the sample may hold once `count` of its tokens have arrived (deterministic).
 * @returns The rate of the sample's token of index i (0-based), in (0, 1].
 * @example
 * ```ts
 * import { samplingRates } from '@kv/coreset';
 * const rate = samplingRates((count) => Math.max(16, Math.floor(count / 8)));
 * rate(10); // 16/135: the flat part holds 16 rows until 136 tokens have arrived
 * rate(135); // 0.1875: 1.5 times the marginal rate of count/8
 * rate(1000); // 0.375: twice that, later on
 * ```
 */
export function samplingRates(capacity: (count: number) => number): (index: number) => number {
  const far = 2 ** 31 - 1;
  const slope = (capacity(far) - capacity(2 ** 30)) / (far - 2 ** 30);
  if (!(slope > 0)) return () => 1;
  const k0 = capacity(1);
  let lo = 1;
  let hi = far;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (capacity(mid) > k0) hi = mid;
    else lo = mid + 1;
  }
  const end = lo - 1;
  const flat = end > 0 ? Math.max(1e-9, Math.min(1, k0 / end)) : 1;
  const growth = 1.5 * slope;
  return (index) => (index < end ? flat : Math.min(1, growth * Math.min(2, Math.pow(1 + (index - end) / 16, 0.25))));
}

/**
 * A store's slot limit for `rows` rows of `rowBytes` bytes: the rows when their bytes can be
 * reserved as one resizable buffer (at most 2 GiB), else unbounded (the store then grows by
 * copying as rows arrive). A `SlotStore` reserves its whole limit as a resizable buffer's maximum
 * length, which engines cap (4 GiB in V8), so a huge budget must not become a huge limit.
 *
 * @param rows - Rows the budget allows.
 * @param rowBytes - Bytes per row.
 * @returns The limit to pass as `maxSlots`.
 * @example
 * ```ts
 * import { storeLimit } from '@kv/coreset';
 * storeLimit(1000, 516); // 1000
 * storeLimit(1e9, 516); // Infinity
 * ```
 */
export function storeLimit(rows: number, rowBytes: number): number {
  return rows * rowBytes <= 2 ** 31 ? rows : Infinity;
}
