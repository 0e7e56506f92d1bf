/**
 * Summary of a sample: median, 90th percentile, maximum and mean.
 *
 * @example
 * ```ts
 * import type { Summary } from '@kv/eval';
 * const s: Summary = { median: 0.1, p90: 0.3, max: 0.5, mean: 0.15 };
 * ```
 */
export interface Summary {
  /** 50th percentile. */
  median: number;
  /** 90th percentile. */
  p90: number;
  /** Largest value. */
  max: number;
  /** Arithmetic mean. */
  mean: number;
}

/**
 * The q-quantile of an ascending sample with linear interpolation between order statistics
 * (numpy's default `linear` method): position q·(n−1).
 *
 * @param sorted - Ascending values (not checked).
 * @param q - Quantile in [0, 1].
 * @returns The quantile (NaN for an empty sample).
 * @example
 * ```ts
 * import { quantileSorted } from '@kv/eval';
 * quantileSorted([1, 2, 3, 4], 0.5); // 2.5
 * ```
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const frac = pos - lo;
  // Exact positions skip the interpolation, so an Infinity neighbour does not turn 0·∞ into NaN.
  if (frac === 0) return sorted[lo]!;
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * frac;
}

/**
 * Median, p90, max and mean of a sample (NaN fields for an empty sample; Infinity propagates).
 *
 * @param values - The sample (not modified).
 * @returns The summary.
 * @example
 * ```ts
 * import { summarize } from '@kv/eval';
 * summarize([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).p90; // 9
 * ```
 */
export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return { median: NaN, p90: NaN, max: NaN, mean: NaN };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return { median: quantileSorted(sorted, 0.5), p90: quantileSorted(sorted, 0.9), max: sorted[n - 1]!, mean: sum / n };
}

/**
 * An error summarised over query times per head, then over heads: the headline `median` is the
 * median over heads of each head's median over its query times; `headMin`/`headMax` are the
 * spread of those per-head medians.
 *
 * @example
 * ```ts
 * import type { ErrorSummary } from '@kv/eval';
 * const e: ErrorSummary = { median: 0.05, p90: 0.09, max: 0.3, headMin: 0.01, headMax: 0.12 };
 * ```
 */
export interface ErrorSummary {
  /** Median over heads of the per-head median over query times. */
  median: number;
  /** Median over heads of the per-head 90th percentile over query times. */
  p90: number;
  /** Largest error at any query time of any head. */
  max: number;
  /** Smallest per-head median. */
  headMin: number;
  /** Largest per-head median. */
  headMax: number;
}

/**
 * Combines per-head summaries (over query times) into the two-level {@link ErrorSummary}.
 *
 * @param heads - One summary per head.
 * @returns The summary over heads (NaN fields when there is no head).
 * @example
 * ```ts
 * import { acrossHeads, summarize } from '@kv/eval';
 * acrossHeads([summarize([0.1, 0.2, 0.3]), summarize([0.5])]).median; // 0.35
 * ```
 */
export function acrossHeads(heads: readonly Summary[]): ErrorSummary {
  if (heads.length === 0) return { median: NaN, p90: NaN, max: NaN, headMin: NaN, headMax: NaN };
  const medians = Float64Array.from(heads, (h) => h.median).sort();
  const p90s = Float64Array.from(heads, (h) => h.p90).sort();
  let max = -Infinity;
  for (const h of heads) max = Math.max(max, h.max);
  return { median: quantileSorted(medians, 0.5), p90: quantileSorted(p90s, 0.5), max, headMin: medians[0]!, headMax: medians[medians.length - 1]! };
}
