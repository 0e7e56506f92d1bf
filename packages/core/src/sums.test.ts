import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKernelSums, type KernelSums, logNormalizer, mergeSums, sumsFromLogits, sumsToOutput } from './sums.js';

const EPS = 2 ** -53;
const part = fc.record({
  logits: fc.float64Array({ minLength: 1, maxLength: 12, min: -2000, max: 2000, noNaN: true, noDefaultInfinity: true }),
  seed: fc.integer(),
});

function sumsOf(logits: Float64Array, values: Float32Array, s: number): KernelSums {
  return sumsFromLogits(logits.length, logits, 0, values, s, 0, createKernelSums(s));
}

function valuesFor(n: number, s: number, seed: number): Float32Array {
  const v = new Float32Array(n * s);
  for (let i = 0; i < v.length; i++) v[i] = Math.sin(seed + i * 1.7);
  return v;
}

describe('log-scaled kernel sums', () => {
  it('merging disjoint parts equals the sums of their union, in any order', () => {
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 4 }), (parts, s) => {
        const allLogits = Float64Array.from(parts.flatMap((p) => [...p.logits]));
        const allValues = Float32Array.from(parts.flatMap((p) => [...valuesFor(p.logits.length, s, p.seed)]));
        const whole = sumsOf(allLogits, allValues, s);
        const pieces = parts.map((p) => sumsOf(p.logits, valuesFor(p.logits.length, s, p.seed), s));
        const forward = pieces.reduce((acc, p) => mergeSums(acc, p), createKernelSums(s));
        const backward = [...pieces].reverse().reduce((acc, p) => mergeSums(acc, p), createKernelSums(s));
        for (const merged of [forward, backward]) {
          expect(merged.m).toBe(whole.m);
          // Each term is rescaled at most once per merge: error ≤ (k+2)·n·eps·Σ|terms| with Σ|w_i| = z.
          const bound = (parts.length + 2) * allLogits.length * 4 * EPS;
          expect(Math.abs(merged.z - whole.z)).toBeLessThanOrEqual(bound * whole.z);
          for (let j = 0; j < s; j++) expect(Math.abs(merged.n[j]! - whole.n[j]!)).toBeLessThanOrEqual(bound * whole.z);
        }
      }),
    );
  });

  it('the empty sum is the identity of merge', () => {
    const a = sumsOf(new Float64Array([1, 2]), new Float32Array([3, 4]), 1);
    const copy = { m: a.m, z: a.z, n: Float64Array.from(a.n) };
    mergeSums(a, createKernelSums(1));
    expect(a).toEqual(copy);
    expect(mergeSums(createKernelSums(1), a)).toEqual(copy);
  });

  it('handles logits of 1e4 without overflow and gives N/Z', () => {
    const sums = sumsOf(new Float64Array([1e4, 1e4 - Math.log(3)]), new Float32Array([1, 5]), 1);
    expect(sums.m).toBe(1e4);
    const out = sumsToOutput(sums, new Float64Array(1));
    expect(Math.abs(out[0]! - (1 * 0.75 + 5 * 0.25))).toBeLessThan(1e-12);
    expect(Math.abs(logNormalizer(sums) - (1e4 + Math.log(4 / 3)))).toBeLessThan(1e-9);
  });

  it('records unnormalised weights on request', () => {
    const probs = new Float64Array(2);
    sumsFromLogits(2, new Float64Array([0, -Math.log(2)]), 0, new Float32Array([1, 1]), 1, 0, createKernelSums(1), probs);
    expect(probs[0]).toBe(1);
    expect(Math.abs(probs[1]! - 0.5)).toBeLessThan(1e-15);
  });
});
