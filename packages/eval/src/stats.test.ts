import { describe, expect, it } from 'vitest';
import { quantileSorted, summarize } from './stats.js';

describe('summaries', () => {
  it('matches hand-computed quantiles (linear interpolation, numpy default)', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0.9)).toBeCloseTo(3.7, 12); // position 2.7
    expect(quantileSorted([7], 0.9)).toBe(7);
    expect(Number.isNaN(quantileSorted([], 0.5))).toBe(true);
    const s = summarize([10, 0, 9, 1, 8, 2, 7, 3, 6, 4, 5]);
    expect(s).toEqual({ median: 5, p90: 9, max: 10, mean: 5 });
  });

  it('keeps Infinity as the max and does not reorder the input', () => {
    const input = [3, Infinity, 1];
    const s = summarize(input);
    expect(s.max).toBe(Infinity);
    expect(s.median).toBe(3);
    expect(input).toEqual([3, Infinity, 1]);
    expect(Number.isNaN(summarize([]).median)).toBe(true);
  });
});
