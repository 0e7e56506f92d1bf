import { InvalidParamsError } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { binomial, spaceBounds, taylorDegree, taylorTail } from './bounds.js';

describe('space bounds', () => {
  it('binomial, Taylor tail and degree match hand computations', () => {
    expect(binomial(2, 2)).toBe(6);
    expect(binomial(64, 0)).toBe(1);
    expect(binomial(3, 4)).toBe(35);
    expect(taylorTail(1, 4)).toBeCloseTo(Math.E / 120, 14);
    expect(taylorTail(2, 2)).toBeCloseTo((8 * Math.exp(2)) / 6, 12);
    // ρ = 1: g = 2 gives e/6 ≈ 0.45, g = 4 gives e/120 ≈ 0.023, g = 6 gives e/5040 ≈ 5.4e-4.
    expect(taylorDegree(1, 0.01)).toBe(6);
    expect(taylorDegree(1, 0.05)).toBe(4);
  });

  it('evaluates each theorem at (n, d, s, ε, r)', () => {
    const n = 1000;
    const d = 16;
    const s = 8;
    const eps = 0.1;
    const r = 2; // τ = 1/4, ρ = 1
    const b = Object.fromEntries(spaceBounds({ n, d, s, epsilon: eps, r }).map((x) => [x.id, x]));
    expect(b['exact']!.words).toBe(n * (d + s));
    expect(b['exact']!.bytes).toBe(4 * n * (d + s));
    expect(b['balancekv']!.words).toBeCloseTo((d * 4 * Math.exp(2)) / eps, 6);
    expect(b['balancekv']!.constantVerified).toBe(false);
    // ρ = 1, ε = 0.1: e/120 ≤ 0.1 < e/6, so g = 4 and C(20, 4) = 4845 monomials.
    expect(b['taylor']!.words).toBe(4845 * (s + 1));
    expect(b['taylor']!.vacuous).toBe(true);
    expect(b['uniform']!.words).toBeCloseTo((d + s) / (eps * eps), 9);
    expect(b['haris-onak']!.words).toBe(d * n); // e^16 > 1000
    expect(b['balancekv-lower']!.words).toBeCloseTo(Math.min(100, d * Math.exp(2)), 9);
    expect(b['balancekv-lower']!.kind).toBe('lower');
    // The hybrid is never worse than pure coreset (t = 0) nor pure moments (t = g, tail ≤ ε).
    expect(b['hybrid']!.words).toBeLessThanOrEqual(b['balancekv']!.words + (s + 1));
    expect(b['hybrid']!.words).toBeLessThanOrEqual(b['taylor']!.words + b['balancekv']!.words * taylorTail(1, 4) / Math.E);
    const small = Object.fromEntries(spaceBounds({ n: 10_000_000, d: 4, s: 4, epsilon: eps, r: 1 }).map((x) => [x.id, x]));
    expect(small['haris-onak']!.words).toBeCloseTo(4 * Math.exp(4), 9); // d < ln n: d·e^d
  });

  it('rejects non-positive inputs', () => {
    expect(() => spaceBounds({ n: 0, d: 4, s: 4, epsilon: 0.1, r: 1 })).toThrow(InvalidParamsError);
    expect(() => spaceBounds({ n: 10, d: 4, s: 4, epsilon: 0, r: 1 })).toThrow(InvalidParamsError);
    expect(() => spaceBounds({ n: 10, d: 4.5, s: 4, epsilon: 0.1, r: 1 })).toThrow(InvalidParamsError);
    expect(() => spaceBounds({ n: 10, d: 4, s: 4, epsilon: 0.1, r: Number.NaN })).toThrow(InvalidParamsError);
  });
});
