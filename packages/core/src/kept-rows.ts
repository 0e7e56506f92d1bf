import { InvalidInputError, UnsupportedError } from './errors.js';

/**
 * Anything that reads its kept rows decoded to float32, as `HeadCache.keptRows` does: a
 * {@link SlotStore}, a token-keeping cache.
 *
 * @example
 * ```ts
 * import { type KeptRowSource, SlotStore } from '@kv/core';
 * const source: KeptRowSource = new SlotStore(4, 4, { precision: 'int8' });
 * source.keptRows(new Float32Array(0), new Float32Array(0), 0, 0); // 0 rows kept
 * ```
 */
export interface KeptRowSource {
  /**
   * Reads kept rows [start, end) decoded to float32.
   * @param keys - Receives (end − start)·d floats.
   * @param values - Receives (end − start)·s floats.
   * @param start - First row (default 0).
   * @param end - One past the last row (default: every kept row).
   * @returns The number of rows kept.
   */
  keptRows(keys: Float32Array, values: Float32Array, start?: number, end?: number): number;
}

/**
 * Checks the arguments of a {@link KeptRowSource.keptRows} call against `count` kept rows, before
 * anything is written.
 *
 * @param count - Rows kept.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @param keys - The keys' destination.
 * @param values - The values' destination.
 * @param start - First row asked for (default 0).
 * @param end - One past the last (default count).
 * @returns The range, defaults resolved.
 * @throws {@link InvalidInputError} for a range outside [0, count], destinations that are not
 *   Float32Arrays or are too short.
 * @example
 * ```ts
 * import { checkRowRange } from '@kv/core';
 * checkRowRange(10, 2, 2, new Float32Array(20), new Float32Array(20)); // { start: 0, end: 10 }
 * ```
 */
export function checkRowRange(
  count: number,
  d: number,
  s: number,
  keys: Float32Array,
  values: Float32Array,
  start = 0,
  end = count,
): {
  /** First row to copy. */
  start: number;
  /** One past the last row to copy. */
  end: number;
} {
  if (!(keys instanceof Float32Array) || !(values instanceof Float32Array)) throw new InvalidInputError('keptRows: keys and values must be Float32Arrays');
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > count) {
    throw new InvalidInputError(`keptRows: range [${start}, ${end}) is outside the ${count} kept rows`);
  }
  const n = end - start;
  if (keys.length < n * d || values.length < n * s) {
    throw new InvalidInputError(`keptRows: ${n} rows need ${n * d} key and ${n * s} value floats, got ${keys.length} and ${values.length}`);
  }
  return { start, end };
}

const EMPTY = new Float32Array(0);

/**
 * Reads rows [start, end) of the concatenation of several parts (a combinator's stores and
 * sub-caches, in the order of its `positions()`), decoded to float32. Parts that are `null` or
 * empty caches hold no rows.
 *
 * @param parts - The parts, in order; a sub-cache without `keptRows` (a summary) is refused.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @param keys - Receives (end − start)·d floats.
 * @param values - Receives (end − start)·s floats.
 * @param start - First row (default 0).
 * @param end - One past the last row (default: every row of every part).
 * @returns The number of rows the parts keep together.
 * @throws {@link UnsupportedError} when a part keeps no rows it can read (a summary);
 *   {@link InvalidInputError} for a bad range or destination (nothing is written).
 * @example
 * ```ts
 * import { readKeptRows, SlotStore } from '@kv/core';
 * const a = new SlotStore(1, 1);
 * const b = new SlotStore(1, 1, { precision: 'f16' });
 * a.push(new Float32Array([1]), 0, new Float32Array([2]), 0, 0, 0);
 * b.push(new Float32Array([3]), 0, new Float32Array([4]), 0, 1, 0);
 * const keys = new Float32Array(2);
 * readKeptRows([a, b], 1, 1, keys, new Float32Array(2)); // 2; keys = [1, 3]
 * ```
 */
export function readKeptRows(
  parts: readonly (KeptRowSource | { keptRows?: KeptRowSource['keptRows'] } | null)[],
  d: number,
  s: number,
  keys: Float32Array,
  values: Float32Array,
  start?: number,
  end?: number,
): number {
  let total = 0;
  const counts: number[] = [];
  for (const part of parts) {
    if (part === null) {
      counts.push(0);
      continue;
    }
    if (typeof part.keptRows !== 'function') throw new UnsupportedError('keptRows: a part of this cache keeps no rows it can read (a summary)');
    const n = part.keptRows(EMPTY, EMPTY, 0, 0);
    counts.push(n);
    total += n;
  }
  const range = checkRowRange(total, d, s, keys, values, start, end);
  let first = 0;
  let at = 0;
  for (let p = 0; p < parts.length; p++) {
    const n = counts[p]!;
    const lo = Math.max(range.start, first);
    const hi = Math.min(range.end, first + n);
    if (hi > lo) {
      parts[p]!.keptRows!(keys.subarray(at * d, (at + hi - lo) * d), values.subarray(at * s, (at + hi - lo) * s), lo - first, hi - first);
      at += hi - lo;
    }
    first += n;
  }
  return total;
}
