import { InvalidParamsError, Rng } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CrossPolytope, createFamily, type FamilyOptions, SimHash, SphericalFilter } from './family.js';
import { crossPolytopeCollision, normalTail, sphericalFilterCollision } from './gaussian.js';

/** A random pair of unit vectors with inner product exactly c (up to float32 rounding). */
function pairWithCosine(rng: Rng, d: number, c: number): [Float32Array, Float32Array] {
  const x = rng.fillGaussian(new Float64Array(d));
  const z = rng.fillGaussian(new Float64Array(d));
  let nx = 0;
  for (const v of x) nx += v * v;
  nx = Math.sqrt(nx);
  for (let i = 0; i < d; i++) x[i]! /= nx;
  let proj = 0;
  for (let i = 0; i < d; i++) proj += z[i]! * x[i]!;
  let nz = 0;
  for (let i = 0; i < d; i++) {
    z[i]! -= proj * x[i]!;
    nz += z[i]! * z[i]!;
  }
  nz = Math.sqrt(nz);
  const s = Math.sqrt(1 - c * c);
  const y = new Float32Array(d);
  for (let i = 0; i < d; i++) y[i] = c * x[i]! + (s * z[i]!) / nz;
  return [Float32Array.from(x), y];
}

/**
 * Collision rate over `trials` independent draws of the function (and of the pair). Each trial is
 * an independent Bernoulli(p), so the rate is within 4.5 binomial standard deviations of p except
 * with probability < 1e-5 per check.
 */
function empiricalRate(options: FamilyOptions, d: number, c: number, trials: number, seed: number): number {
  const rng = new Rng(seed);
  let hits = 0;
  for (let t = 0; t < trials; t++) {
    const [x, y] = pairWithCosine(rng, d, c);
    const h = createFamily(d, options, rng);
    if (h.hash(x, 0) === h.hash(y, 0)) hits++;
  }
  return hits / trials;
}

function withinBinomial(rate: number, p: number, trials: number, modelError: number): void {
  const sd = Math.sqrt((p * (1 - p)) / trials);
  expect(Math.abs(rate - p)).toBeLessThanOrEqual(4.5 * sd + modelError + 1 / trials);
}

describe('collision-probability functions', () => {
  it('cross-polytope quadrature reduces to 1 − arccos(c)/π at m = 1 and to 1/(2m) at c = 0', () => {
    for (const c of [-0.9, -0.3, 0, 0.4, 0.95]) {
      expect(crossPolytopeCollision(c, 1)).toBeCloseTo(1 - Math.acos(c) / Math.PI, 6);
    }
    for (const m of [2, 8, 64]) expect(crossPolytopeCollision(0, m)).toBeCloseTo(1 / (2 * m), 6);
  });

  it('spherical-filter probability is 1 at c = 1, Φ̄(η)²-like at c = 0 for one filter, and increasing in c', () => {
    expect(sphericalFilterCollision(1, 1.2, 10)).toBe(1);
    const t = normalTail(1);
    // One filter, independent pair: both pass (t²) or both fail ((1−t)²).
    expect(sphericalFilterCollision(0, 1, 1)).toBeCloseTo(t * t + (1 - t) * (1 - t), 6);
    let last = 0;
    for (let c = -0.95; c <= 0.99; c += 0.05) {
      const p = sphericalFilterCollision(c, 1.5, 40);
      expect(p).toBeGreaterThanOrEqual(last - 1e-12);
      last = p;
    }
  });

  it('every family’s probability is monotone in the cosine and 1 at c = 1', () => {
    const rng = new Rng(5);
    for (const h of [new SimHash(8, 5, rng), new CrossPolytope(8, 2, rng, 8), new SphericalFilter(8, 2, rng, 1, 24)]) {
      expect(h.collisionProbability(1)).toBeCloseTo(1, 9);
      let last = 0;
      for (let c = -0.99; c <= 1; c += 0.01) {
        const p = h.collisionProbability(c);
        expect(p).toBeGreaterThanOrEqual(last - 1e-12);
        last = p;
      }
    }
  });
});

describe('empirical collision rates match the probability functions (binomial 4.5σ)', () => {
  const TRIALS = 1500;
  const cosine = fc.double({ min: -0.8, max: 0.97, noNaN: true });

  it('SimHash: (1 − θ/π)^k exactly', () => {
    fc.assert(
      fc.property(cosine, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 24 }), fc.nat(1e6), (c, k, d, seed) => {
        const opts: FamilyOptions = { kind: 'simhash', hashes: k };
        const p = new SimHash(d, k, new Rng(0)).collisionProbability(c);
        withinBinomial(empiricalRate(opts, d, c, TRIALS, seed), p, TRIALS, 1e-6);
      }),
      { numRuns: 8 },
    );
  });

  it('cross-polytope: quadrature table', () => {
    fc.assert(
      fc.property(cosine, fc.integer({ min: 1, max: 2 }), fc.constantFrom(4, 8, 16), fc.nat(1e6), (c, k, d, seed) => {
        const opts: FamilyOptions = { kind: 'cross-polytope', hashes: k, rows: d };
        const p = new CrossPolytope(d, k, new Rng(0), d).collisionProbability(c);
        withinBinomial(empiricalRate(opts, d, c, TRIALS, seed), p, TRIALS, 2e-3);
      }),
      { numRuns: 6 },
    );
  });

  it('spherical filters: Gaussian-tail formula, for several thresholds', () => {
    fc.assert(
      fc.property(cosine, fc.constantFrom(0.5, 1, 1.5), fc.integer({ min: 1, max: 2 }), fc.nat(1e6), (c, eta, k, seed) => {
        const F = 12;
        const opts: FamilyOptions = { kind: 'spherical-filter', hashes: k, threshold: eta, filters: F };
        const p = new SphericalFilter(12, k, new Rng(0), eta, F).collisionProbability(c);
        withinBinomial(empiricalRate(opts, 12, c, TRIALS, seed), p, TRIALS, 2e-3);
      }),
      { numRuns: 6 },
    );
  });
});

describe('family construction', () => {
  it('is deterministic per seed, scale invariant, and hashes into [0, buckets)', () => {
    fc.assert(
      fc.property(fc.constantFrom<FamilyOptions['kind']>('simhash', 'cross-polytope', 'spherical-filter'), fc.nat(1e6), (kind, seed) => {
        const a = createFamily(16, { kind, hashes: 2, rows: 8, filters: 10 }, new Rng(seed));
        const b = createFamily(16, { kind, hashes: 2, rows: 8, filters: 10 }, new Rng(seed));
        const x = new Rng(seed + 1).fillGaussian(new Float32Array(16));
        const big = x.map((v) => v * 1e4);
        const h = a.hash(x, 0);
        expect(b.hash(x, 0)).toBe(h);
        expect(a.hash(big, 0)).toBe(h);
        expect(h).toBeGreaterThanOrEqual(0);
        expect(h).toBeLessThan(a.buckets);
      }),
      { numRuns: 20 },
    );
  });

  it('rejects bad shapes with InvalidParamsError', () => {
    const rng = new Rng(1);
    expect(() => new SimHash(8, 32, rng)).toThrow(InvalidParamsError);
    expect(() => new SimHash(0, 3, rng)).toThrow(InvalidParamsError);
    expect(() => new CrossPolytope(8, 8, rng, 64)).toThrow(InvalidParamsError);
    expect(() => new SphericalFilter(8, 1, rng, -1)).toThrow(InvalidParamsError);
    expect(() => new SphericalFilter(8, 1, rng, 1, 0)).toThrow(InvalidParamsError);
    expect(() => createFamily(8, { kind: 'nope' as 'simhash', hashes: 1 }, rng)).toThrow(InvalidParamsError);
  });
});
