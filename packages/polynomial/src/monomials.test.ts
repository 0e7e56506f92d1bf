import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidParamsError } from '@kv/core';
import { monomialCount, monomialCountOfDegree, MonomialBasis, monomialFeatures, multiIndices } from './monomials.js';

function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

describe('monomial basis', () => {
  it('has C(d+ℓ−1, ℓ) monomials of each degree ℓ and C(d+g, g) in all', () => {
    for (const [d, g] of [[1, 5], [2, 4], [3, 6], [8, 4], [16, 3]] as const) {
      const basis = new MonomialBasis(d, g);
      expect(basis.size).toBe(binomial(d + g, g));
      expect(monomialCount(d, g)).toBe(basis.size);
      for (let l = 0; l <= g; l++) {
        expect(basis.blockStart(l + 1) - basis.blockStart(l)).toBe(binomial(d + l - 1, l));
        expect(monomialCountOfDegree(d, l)).toBe(binomial(d + l - 1, l));
      }
    }
  });

  it('enumerates every multi-index of degree ≤ g exactly once, in graded order', () => {
    const d = 4;
    const g = 5;
    const rows = multiIndices(d, g);
    const basis = new MonomialBasis(d, g);
    const seen = new Set<string>();
    for (let i = 0; i < basis.size; i++) {
      const alpha = Array.from(rows.subarray(i * d, i * d + d));
      const deg = alpha.reduce((a, b) => a + b, 0);
      expect(deg).toBeLessThanOrEqual(g);
      expect(i).toBeGreaterThanOrEqual(basis.blockStart(deg));
      expect(i).toBeLessThan(basis.blockStart(deg + 1));
      seen.add(alpha.join(','));
    }
    expect(seen.size).toBe(basis.size);
  });

  it('refuses a bad dimension or degree with InvalidParamsError', () => {
    expect(() => new MonomialBasis(0, 2)).toThrow(InvalidParamsError);
    expect(() => new MonomialBasis(3, 256)).toThrow(InvalidParamsError);
    expect(() => new MonomialBasis(2.5, 2)).toThrow(InvalidParamsError);
  });

  it('features reproduce <q,k>^ℓ/ℓ! for every ℓ ≤ g (property)', () => {
    const vec = (d: number) => fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: d, maxLength: d });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((d) => fc.tuple(fc.constant(d), fc.integer({ min: 0, max: 8 }), vec(d), vec(d))),
        ([d, g, q, k]) => {
          const basis = new MonomialBasis(d, g);
          const phi = monomialFeatures(basis, Float64Array.from(k), 'key', new Float64Array(basis.size));
          const psi = monomialFeatures(basis, Float64Array.from(q), 'query', new Float64Array(basis.size));
          let dot = 0;
          let absDot = 0;
          for (let j = 0; j < d; j++) {
            dot += q[j]! * k[j]!;
            absDot += Math.abs(q[j]! * k[j]!);
          }
          let fact = 1;
          for (let l = 0; l <= g; l++) {
            if (l > 0) fact *= l;
            let sum = 0;
            for (let i = basis.blockStart(l); i < basis.blockStart(l + 1); i++) sum += psi[i]! * phi[i]!;
            const want = dot ** l / fact;
            // Rounding scales with the sum of |terms|, (Σ|q_j k_j|)^ℓ/ℓ!.
            const tol = 1e-13 * (1 + absDot ** l / fact) * (l + 1);
            expect(Math.abs(sum - want)).toBeLessThanOrEqual(tol);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
