import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssumptionViolatedError, InvalidBudgetError, InvalidParamsError, nrm2 } from '@kv/core';
import { createKernelSums, ExactCache, exactSums, inBall, onSphere, registry, Rng, sumsError } from '../test/helpers.js';
import { roundingBound, taylorDegreeFor, taylorRemainderBound } from './bounds.js';
import { monomialCount } from './monomials.js';
import type { TaylorCache } from './taylor.js';

const SLACK = 1e-12; // the exact reference's own Float64 rounding
const NEVER = 1e300; // a threshold no certificate reaches: the series always answers

function taylor(d: number, s: number, params: Record<string, unknown>, tau?: number): TaylorCache {
  return registry.create({ policy: 'taylor', keyDim: d, valueDim: s, params, ...(tau === undefined ? {} : { tau }) }) as TaylorCache;
}

describe('taylorDegreeFor and the remainder bound', () => {
  it('picks the smallest even degree whose bound is ≤ eps', () => {
    expect(taylorDegreeFor(1, 1e-3)).toBe(6);
    expect(taylorRemainderBound(1, 6)).toBeCloseTo(Math.E / 5040, 12);
    for (const rho of [0.25, 0.5, 1, 2, 4]) {
      for (const eps of [1e-2, 1e-4, 1e-8]) {
        const g = taylorDegreeFor(rho, eps);
        expect(g % 2).toBe(0);
        expect(taylorRemainderBound(rho, g)).toBeLessThanOrEqual(eps);
        if (g >= 2) expect(taylorRemainderBound(rho, g - 2)).toBeGreaterThan(eps);
      }
    }
    expect(taylorDegreeFor(1, 5e-3, { even: false })).toBe(5);
    expect(taylorDegreeFor(1, 5e-3)).toBe(6);
    expect(() => taylorDegreeFor(-1, 0.1)).toThrow(InvalidParamsError);
    expect(() => taylorDegreeFor(1, 2)).toThrow(InvalidParamsError);
    expect(() => taylorDegreeFor(50, 1e-12, { maxDegree: 10 })).toThrow(InvalidParamsError);
  });
});

describe('taylor guarantee (property tests inside the assumptions)', () => {
  it('attention error ≤ certificate ≤ a-priori bound for (ρ, g), denominator positive', () => {
    fc.assert(
      fc.property(
        fc.record({
          d: fc.integer({ min: 1, max: 5 }),
          s: fc.integer({ min: 1, max: 3 }),
          g: fc.constantFrom(2, 4, 6),
          rho: fc.double({ min: 0.1, max: 3, noNaN: true }),
          n: fc.integer({ min: 20, max: 120 }),
          warmup: fc.constantFrom(0, 4, 16),
          offset: fc.double({ min: 0, max: 3, noNaN: true }),
          seed: fc.integer({ min: 0, max: 1e6 }),
        }),
        ({ d, s, g, rho, n, warmup, offset, seed }) => {
          const rng = new Rng(seed);
          const tau = 1 / Math.sqrt(d);
          // Keys in a ball of radius 1 around an offset point p; the centre (a mean of keys, or p
          // itself when warmup = 0) lies in that ball, so ||k − c|| ≤ 2. Queries of norm ≤ rq give
          // ||q||·||k − c||·τ ≤ 2·rq·τ = ρ.
          const p = onSphere(rng, d, offset);
          const rq = rho / (2 * tau);
          const cache = taylor(d, s, { degree: g, warmup, threshold: NEVER }, tau);
          const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau });
          if (warmup === 0) {
            // No warm-up: the centre is the origin, so use keys in the unit ball (||k − 0|| ≤ 1 ≤ 2).
            p.fill(0);
          }
          const out = createKernelSums(s);
          for (let t = 0; t < n; t++) {
            const k = inBall(rng, d, 1, p);
            const v = rng.fillGaussian(new Float32Array(s));
            cache.append(k, v);
            exact.append(k, v);
            if (t % 7 !== 6 && t !== n - 1) continue;
            const q = inBall(rng, d, rq);
            const cert = cache.sumsWithCertificate(q, out);
            const want = exactSums(exact, q);
            const err = sumsError(out, want);
            expect(out.z).toBeGreaterThan(0);
            if (cert.exact) {
              expect(err.output).toBeLessThanOrEqual(1e-12);
              continue;
            }
            const tokens = t + 1;
            const apriori = taylorRemainderBound(rho, g);
            expect(cert.rho).toBeLessThanOrEqual(rho * (1 + 1e-9));
            expect(cert.truncation).toBeLessThanOrEqual(apriori * (1 + 1e-9));
            expect(cert.relative).toBeLessThanOrEqual(apriori * (1 + 1e-9) + roundingBound(tokens, monomialCount(d, g), g, rho));
            expect(err.z).toBeLessThanOrEqual(cert.relative + SLACK);
            expect(err.n).toBeLessThanOrEqual((cert.relative + SLACK) * cert.maxValueNorm);
            expect(err.output).toBeLessThanOrEqual(cert.output + SLACK);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the certificate is not vacuous: the error reaches a fair fraction of it at low degree', () => {
    // One token, query aligned against the key: the error is the full remainder of e^{-ρ}.
    const cache = taylor(1, 1, { degree: 2, warmup: 0, threshold: NEVER }, 1);
    cache.append(new Float32Array([1]), new Float32Array([1]));
    const out = createKernelSums(1);
    const cert = cache.sumsWithCertificate(new Float32Array([-1]), out);
    const zHat = out.z * Math.exp(out.m);
    const err = Math.abs(zHat / Math.exp(-1) - 1);
    expect(err).toBeLessThanOrEqual(cert.relative);
    expect(err).toBeGreaterThan(0.25 * cert.relative);
  });

  it('keeps the denominator positive with even degrees, even far outside the assumption', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom(2, 4, 6, 8),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 0, max: 1e6 }),
        (d, g, rho, seed) => {
          const rng = new Rng(seed);
          const cache = taylor(d, 1, { degree: g, warmup: 0, threshold: NEVER }, 1);
          for (let t = 0; t < 50; t++) cache.append(inBall(rng, d, 1), new Float32Array([1]));
          const out = createKernelSums(1);
          for (let i = 0; i < 5; i++) {
            cache.sums(onSphere(rng, d, rho), out);
            expect(out.z).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe('taylor outside the assumptions', () => {
  it('the certificate grows with ρ, still bounds the error, and passes 1 (output bound Infinity) when ρ is large', () => {
    const d = 3;
    const rng = new Rng(5);
    const cache = taylor(d, 2, { degree: 4, warmup: 8, threshold: NEVER }, 1);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: 2, tau: 1 });
    for (let t = 0; t < 200; t++) {
      const k = inBall(rng, d, 1);
      const v = rng.fillGaussian(new Float32Array(2));
      cache.append(k, v);
      exact.append(k, v);
    }
    const dir = onSphere(rng, d, 1);
    const out = createKernelSums(2);
    let previous = -1;
    let previousErr = -1;
    for (const scale of [0.25, 1, 4, 16]) {
      const q = dir.map((x) => x * scale) as Float32Array;
      const cert = cache.sumsWithCertificate(q, out);
      const err = sumsError(out, exactSums(exact, q));
      expect(cert.relative).toBeGreaterThan(previous);
      expect(err.z).toBeLessThanOrEqual(cert.relative + SLACK);
      expect(err.z).toBeGreaterThan(previousErr);
      previous = cert.relative;
      previousErr = err.z;
    }
    expect(previous).toBeGreaterThan(1);
    expect(cache.lastCertificate.output).toBe(Infinity);
  });

  it('strict mode throws AssumptionViolatedError beyond rho and leaves the cache unchanged', () => {
    const rng = new Rng(9);
    const a = taylor(2, 2, { degree: 4, warmup: 4, rho: 1, strict: true }, 1);
    const b = taylor(2, 2, { degree: 4, warmup: 4, rho: 1 }, 1);
    for (let t = 0; t < 30; t++) {
      const k = inBall(rng, 2, 1);
      const v = rng.fillGaussian(new Float32Array(2));
      a.append(k, v);
      b.append(k, v);
    }
    const big = onSphere(rng, 2, 10 / a.radius);
    expect(() => a.attend(big, new Float32Array(2))).toThrow(AssumptionViolatedError);
    expect(() => b.attend(big, new Float32Array(2))).not.toThrow();
    const small = onSphere(rng, 2, 0.9 / a.radius);
    const oa = a.attend(small, new Float32Array(2));
    const ob = b.attend(small, new Float32Array(2));
    expect(Array.from(oa)).toEqual(Array.from(ob));
    expect(a.seen).toBe(30);
  });
});

describe('taylor memory and configuration', () => {
  it('holds the same memory after 100 and after 100,000 tokens', () => {
    const rng = new Rng(2);
    const cache = taylor(2, 1, { degree: 4, warmup: 32 }, 1);
    const v = new Float32Array(1);
    let at100 = { bytes: 0, stored: 0 };
    for (let t = 0; t < 100_000; t++) {
      v[0] = rng.gaussian();
      cache.append(inBall(rng, 2, 1), v);
      if (t === 99) at100 = { bytes: cache.bytes, stored: cache.stored };
    }
    expect(cache.bytes).toBe(at100.bytes);
    expect(cache.stored).toBe(at100.stored);
    expect(cache.stored).toBe(Math.ceil(cache.bytes / (4 * 3)));
    const out = new Float32Array(1);
    cache.attend(new Float32Array([0.3, -0.2]), out);
    expect(Number.isFinite(out[0]!)).toBe(true);
  });

  it('answers exactly during the warm-up, then from moments about the warm-up mean', () => {
    const rng = new Rng(4);
    const cache = taylor(3, 2, { degree: 2, warmup: 10 }, 0.5);
    const exact = new ExactCache({ policy: 'exact', keyDim: 3, valueDim: 2, tau: 0.5 });
    const keys: Float32Array[] = [];
    const out = createKernelSums(2);
    for (let t = 0; t < 10; t++) {
      const k = inBall(rng, 3, 2);
      keys.push(k);
      const v = rng.fillGaussian(new Float32Array(2));
      cache.append(k, v);
      exact.append(k, v);
      const q = inBall(rng, 3, 2);
      const cert = cache.sumsWithCertificate(q, out);
      expect(cert.exact).toBe(t < 9);
      if (t < 9) expect(sumsError(out, exactSums(exact, q)).output).toBeLessThan(1e-12);
    }
    expect(cache.centred).toBe(true);
    const c = cache.centre();
    for (let j = 0; j < 3; j++) expect(c[j]).toBeCloseTo(keys.reduce((a, k) => a + k[j]!, 0) / 10, 12);
  });

  it('refuses odd degrees, configurations beyond maxBytes, and budgets below the fixed size', () => {
    expect(() => taylor(4, 4, { degree: 3 })).toThrow(InvalidParamsError);
    expect(() => taylor(4, 4, { degree: 3, allowOdd: true })).not.toThrow();
    expect(() => taylor(64, 64, { degree: 4 })).toThrow(/largest degree that fits is 2/);
    expect(taylor(64, 64, {}).degree).toBe(2); // derived 6, lowered to what fits maxBytes
    expect(() => taylor(8, 8, { degree: 4, maxBytes: 1000 })).toThrow(InvalidParamsError);
    expect(() => registry.create({ policy: 'taylor', keyDim: 8, valueDim: 8, budget: 64, params: { degree: 4 } })).toThrow(/smallest budget that fits/);
    expect(() => registry.create({ policy: 'taylor', keyDim: 8, valueDim: 8, budget: { ratio: 0.5 }, params: { degree: 4 } })).toThrow(InvalidBudgetError);
    const fits = registry.create({ policy: 'taylor', keyDim: 8, valueDim: 8, budget: { ratio: 0.5, min: 5000 }, params: { degree: 4 } });
    expect(fits.capacity).toBe(5000);
    expect(() => taylor(4, 4, { degree: 4, warmup: -1 })).toThrow(InvalidParamsError);
  });

  it('derives the degree from (rho, eps)', () => {
    expect(taylor(4, 4, { rho: 1, eps: 1e-3 }).degree).toBe(6);
    expect(taylor(4, 4, { rho: 0.5, eps: 1e-2 }).degree).toBe(taylorDegreeFor(0.5, 1e-2));
    expect(taylor(4, 4, {}).degree).toBe(6);
  });

  it('stays finite for keys and queries of norm 1e4 (scale tracking), with a certificate that says so', () => {
    const rng = new Rng(11);
    const cache = taylor(4, 2, { degree: 6, warmup: 4 });
    for (let t = 0; t < 40; t++) cache.append(onSphere(rng, 4, 1e4), rng.fillGaussian(new Float32Array(2)));
    const out = new Float32Array(2);
    cache.attend(onSphere(rng, 4, 1e4), out);
    expect(out.every(Number.isFinite)).toBe(true);
    expect(cache.lastCertificate.relative).toBeGreaterThan(1);
    expect(cache.lastCertificate.fallback).toBe(true);
    expect(nrm2(2, out, 1, 0)).toBeLessThan(1e6);
  });
});
