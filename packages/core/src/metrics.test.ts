import { describe, expect, it } from 'vitest';
import { ExactCache } from './exact.js';
import { compareToExact, compressionRatio, cosineSimilarity, maxAbsError, normalizedError, relativeError } from './metrics.js';

describe('metrics', () => {
  it('match hand-computed cases', () => {
    expect(relativeError([3, 4], [0, 0])).toBe(Infinity);
    expect(relativeError([0, 0], [0, 0])).toBe(0);
    expect(relativeError([1, 1], [1, 0])).toBe(1);
    expect(cosineSimilarity([1, 0], [1, 1])).toBeCloseTo(Math.SQRT1_2, 15);
    expect(cosineSimilarity([0, 0], [1, 1])).toBe(0);
    expect(maxAbsError([1, -2], [1.5, 2])).toBe(4);
    expect(normalizedError([3, 4], [0, 0], 0.5, 2)).toBe(5);
  });

  it('compareToExact computes every error from an exact cache of the same stream', () => {
    // Two tokens with equal logits: output is the mean of the values, softmax norm 1/√2.
    const exact = new ExactCache({ policy: 'exact', keyDim: 1, valueDim: 2 });
    exact.append(new Float32Array([0]), new Float32Array([2, 0]));
    exact.append(new Float32Array([0]), new Float32Array([0, 2]));
    const m = compareToExact(exact, new Float32Array([1]), [1, 2]);
    expect(m.relative).toBeCloseTo(1 / Math.SQRT2, 12);
    expect(m.maxAbs).toBe(1);
    expect(m.normalized).toBeCloseTo(1 / (Math.SQRT1_2 * Math.sqrt(8)), 12);
    expect(m.cosine).toBeCloseTo(3 / (Math.SQRT2 * Math.sqrt(5)), 12);
  });

  it('compression ratio compares with fp32 storage of every token seen', () => {
    expect(compressionRatio({ seen: 100, keyDim: 4, valueDim: 4, bytes: 800 })).toBe(4);
    expect(compressionRatio({ seen: 0, keyDim: 4, valueDim: 4, bytes: 0 })).toBe(0);
  });
});
