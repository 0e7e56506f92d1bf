import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidBudgetError, InvalidParamsError } from '@kv/core';
import { createKernelSums, ExactCache, exactSums, inBall, onSphere, registry, Rng, sumsError } from '../test/helpers.js';
import type { PerformerCache } from './performer.js';
import { drawFeatureMatrix, positiveRandomFeatures } from './random-features.js';

function performer(d: number, s: number, seed: number, params: Record<string, unknown>, tau?: number): PerformerCache {
  return registry.create({ policy: 'performer', keyDim: d, valueDim: s, seed, params, ...(tau === undefined ? {} : { tau }) }) as PerformerCache;
}

describe('positive random features', () => {
  it('draw rows that are orthogonal within a block when asked', () => {
    const d = 6;
    const W = drawFeatureMatrix(9, d, new Rng(1), true);
    for (let a = 0; a < d; a++) {
      for (let b = a + 1; b < d; b++) {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += W[a * d + j]! * W[b * d + j]!;
        expect(Math.abs(dot)).toBeLessThan(1e-10);
      }
    }
  });

  it('features are positive and their inner product is an unbiased kernel estimate (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.integer({ min: 0, max: 1e6 }), (d, orthogonal, seed) => {
        const rng = new Rng(seed);
        const q = inBall(rng, d, 1);
        const k = inBall(rng, d, 1);
        const tau = 0.7;
        let want = 0;
        for (let j = 0; j < d; j++) want += q[j]! * k[j]!;
        want = Math.exp(want * tau);
        const m = 8;
        const trials = 300;
        const fq = new Float64Array(m);
        const fk = new Float64Array(m);
        let sum = 0;
        let sum2 = 0;
        for (let t = 0; t < trials; t++) {
          const W = drawFeatureMatrix(m, d, new Rng(seed * 1000 + t), orthogonal);
          positiveRandomFeatures(W, m, q, tau, fq);
          positiveRandomFeatures(W, m, k, tau, fk);
          let e = 0;
          for (let r = 0; r < m; r++) {
            if (!(fq[r]! > 0 && fk[r]! > 0)) return false;
            e += fq[r]! * fk[r]!;
          }
          sum += e;
          sum2 += e * e;
        }
        const mean = sum / trials;
        const sd = Math.sqrt(Math.max(0, sum2 / trials - mean * mean));
        // 5 standard errors: a false alarm has probability < 1e-6 per run.
        return Math.abs(mean - want) <= (5 * sd) / Math.sqrt(trials) + 1e-12;
      }),
      { numRuns: 30 },
    );
  });
});

describe('performer cache', () => {
  it('kernel sums are unbiased over seeds: mean of Ẑ and N̂ within a 5σ confidence interval', () => {
    const d = 4;
    const s = 2;
    const tau = 0.5;
    const rng = new Rng(21);
    const keys = Array.from({ length: 12 }, () => inBall(rng, d, 1.5));
    const values = Array.from({ length: 12 }, () => rng.fillGaussian(new Float32Array(s)));
    const q = onSphere(rng, d, 1.5);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau });
    keys.forEach((k, i) => exact.append(k, values[i]!));
    const want = exactSums(exact, q);
    const wantZ = want.z * Math.exp(want.m);
    for (const orthogonal of [true, false]) {
      const trials = 400;
      const zs: number[] = [];
      const n0: number[] = [];
      const out = createKernelSums(s);
      for (let seed = 0; seed < trials; seed++) {
        const cache = performer(d, s, seed, { features: 8, orthogonal, strict: true }, tau);
        keys.forEach((k, i) => cache.append(k, values[i]!));
        cache.sums(q, out);
        expect(out.z).toBeGreaterThan(0);
        zs.push(out.z * Math.exp(out.m));
        n0.push(out.n[0]! * Math.exp(out.m));
      }
      for (const [xs, target] of [[zs, wantZ], [n0, want.n[0]! * Math.exp(want.m)]] as const) {
        const mean = xs.reduce((a, b) => a + b, 0) / trials;
        const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (trials - 1));
        expect(sd).toBeGreaterThan(0);
        expect(Math.abs(mean - target)).toBeLessThanOrEqual((5 * sd) / Math.sqrt(trials));
      }
    }
  });

  it('the output error shrinks as the number of features grows (mean over seeds)', () => {
    const d = 4;
    const s = 2;
    const rng = new Rng(5);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s });
    const keys = Array.from({ length: 64 }, () => inBall(rng, d, 1));
    const values = Array.from({ length: 64 }, () => rng.fillGaussian(new Float32Array(s)));
    keys.forEach((k, i) => exact.append(k, values[i]!));
    const q = onSphere(rng, d, 1);
    const want = exactSums(exact, q);
    const meanErr = (m: number): number => {
      let total = 0;
      const out = createKernelSums(s);
      for (let seed = 0; seed < 10; seed++) {
        const cache = performer(d, s, seed, { features: m, strict: true });
        keys.forEach((k, i) => cache.append(k, values[i]!));
        total += sumsError(cache.sums(q, out), want).output;
      }
      return total / 10;
    };
    const e16 = meanErr(16);
    const e1024 = meanErr(1024);
    expect(e1024).toBeLessThan(e16 / 3);
    expect(e1024).toBeLessThan(0.05);
  });

  it('stays finite with keys and queries of norm 1e4 (per-row log scales)', () => {
    const rng = new Rng(6);
    const cache = performer(8, 2, 1, { features: 32 });
    for (let t = 0; t < 50; t++) cache.append(onSphere(rng, 8, 1e4), rng.fillGaussian(new Float32Array(2)));
    const out = createKernelSums(2);
    cache.sums(onSphere(rng, 8, 1e4), out);
    expect(out.z).toBeGreaterThanOrEqual(1);
    expect(Number.isFinite(out.m) && Number.isFinite(out.n[0]!)).toBe(true);
  });

  it('holds the same memory after 100 and after 100,000 tokens, and refuses oversize configurations', () => {
    const rng = new Rng(8);
    const cache = performer(2, 1, 0, { features: 16 });
    const v = new Float32Array(1);
    let at100 = 0;
    for (let t = 0; t < 100_000; t++) {
      v[0] = rng.gaussian();
      cache.append(inBall(rng, 2, 1), v);
      if (t === 99) at100 = cache.bytes;
    }
    expect(cache.bytes).toBe(at100);
    expect(() => performer(8, 8, 0, { features: 1 << 20, maxBytes: 1 << 20 })).toThrow(InvalidParamsError);
    expect(() => registry.create({ policy: 'performer', keyDim: 8, valueDim: 8, budget: 10, params: { features: 256 } })).toThrow(InvalidBudgetError);
  });
});
