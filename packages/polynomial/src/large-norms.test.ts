import { compareToExact, ExactCache, type HeadCache, Rng } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { createKernelSums, exactSums, registry } from '../test/helpers.js';
import type { MomentCellsCache } from './moment-cells.js';
import type { MultipoleCache } from './multipole.js';
import type { PerformerCache } from './performer.js';
import type { TaylorCache } from './taylor.js';

const d = 8;
const s = 4;

/**
 * Feeds keys and queries of norm `norm` in random directions and checks every answer: finite,
 * bounded by the largest value norm (a convex combination of values), and either within relative
 * error 1 or flagged by `flagged()` (read right after the answer).
 */
function everyAnswerBoundedOrFlagged(cache: HeadCache, norm: number, seed: number, flagged: () => boolean): number {
  const rng = new Rng(seed);
  const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s });
  const unit = () => {
    const v = rng.fillGaussian(new Float32Array(d));
    const n = Math.hypot(...v);
    return v.map((x) => (x * norm) / n);
  };
  let maxV = 0;
  let flags = 0;
  const out = new Float32Array(s);
  for (let t = 0; t < 150; t++) {
    const k = unit();
    const v = rng.fillGaussian(new Float32Array(s));
    maxV = Math.max(maxV, Math.hypot(...v));
    cache.append(k, v);
    exact.append(k, v);
    const q = unit();
    cache.attend(q, out);
    const flag = flagged();
    if (flag) flags++;
    expect(out.every(Number.isFinite)).toBe(true);
    expect(Math.hypot(...out)).toBeLessThanOrEqual(maxV * (1 + 1e-6));
    if (!flag) expect(compareToExact(exact, q, out).relative).toBeLessThan(1);
  }
  return flags;
}

describe('large norms (1e2, 1e3): no throw, bounded answers, and every answer off by 100% or more is a counted fallback', () => {
  for (const norm of [1e2, 1e3]) {
    it(`taylor at norm ${norm}`, () => {
      const cache = registry.create({ policy: 'taylor', keyDim: d, valueDim: s, params: { degree: 4 } }) as TaylorCache;
      const flags = everyAnswerBoundedOrFlagged(cache, norm, 1, () => cache.lastCertificate.fallback);
      expect(cache.fallbacks).toBe(flags);
      expect(cache.describe().stats['fallbacks']).toBe(flags);
    });
    it(`multipole at norm ${norm}`, () => {
      const cache = registry.create({ policy: 'multipole', keyDim: d, valueDim: s, params: { degree: 2, cells: 8 } }) as MultipoleCache;
      const flags = everyAnswerBoundedOrFlagged(cache, norm, 2, () => cache.lastCertificate.fallback);
      expect(cache.fallbacks).toBe(flags);
      expect(cache.describe().stats['fallbacks']).toBe(flags);
    });
    it(`moment-cells at norm ${norm}`, () => {
      const cache = registry.create({ policy: 'moment-cells', keyDim: d, valueDim: s, budget: { fraction: 0.25, minBytes: 3000 } }) as MomentCellsCache;
      const flags = everyAnswerBoundedOrFlagged(cache, norm, 6, () => cache.lastBound > 0.5);
      expect(flags).toBeGreaterThan(0);
      expect(cache.describe().stats['uncertified']).toBe(flags);
    });
    it(`performer at norm ${norm}`, () => {
      const cache = registry.create({ policy: 'performer', keyDim: d, valueDim: s, seed: 3, params: { features: 64 } }) as PerformerCache;
      let before = 0;
      const flags = everyAnswerBoundedOrFlagged(cache, norm, 3, () => {
        const now = cache.fallbacks;
        const flag = now > before;
        before = now;
        return flag;
      });
      expect(cache.describe().stats['fallbacks']).toBe(flags);
    });
  }

  // Far beyond any model's activations the float32 log-weights and float64 log-features run out of
  // range or precision: the answers must still be finite and bounded, and flagged.
  it('at norm 1e20: moment-cells stays finite (its log-weight correction is capped), performer falls back once its log-features lose precision', () => {
    const cells = registry.create({ policy: 'moment-cells', keyDim: d, valueDim: s, budget: { fraction: 0.25, minBytes: 3000 } }) as MomentCellsCache;
    expect(everyAnswerBoundedOrFlagged(cells, 1e20, 6, () => cells.lastBound > 0.5)).toBeGreaterThan(100);
    const performer = registry.create({ policy: 'performer', keyDim: d, valueDim: s, seed: 3, params: { features: 64 } }) as PerformerCache;
    expect(everyAnswerBoundedOrFlagged(performer, 1e20, 3, () => true)).toBe(150);
    expect(performer.fallbacks).toBe(150);
  });

  it('strict mode keeps the errors: performer always answers from its features', () => {
    const rng = new Rng(5);
    const strict = registry.create({ policy: 'performer', keyDim: d, valueDim: s, seed: 3, params: { features: 64, strict: true } }) as PerformerCache;
    for (let t = 0; t < 20; t++) {
      strict.append(rng.fillGaussian(new Float32Array(d), 40), rng.fillGaussian(new Float32Array(s)));
      strict.attend(rng.fillGaussian(new Float32Array(d), 40), new Float32Array(s));
    }
    expect(strict.fallbacks).toBe(0);
    expect(strict.lastRelativeError).toBeGreaterThan(0.5);
  });

  it('strict mode keeps the errors: taylor and multipole refuse with AssumptionViolatedError', () => {
    const taylor = registry.create({ policy: 'taylor', keyDim: d, valueDim: s, params: { degree: 4, rho: 1, strict: true, warmup: 0 } });
    const multipole = registry.create({ policy: 'multipole', keyDim: d, valueDim: s, params: { degree: 2, rho: 1, strict: true, cells: 1 } });
    const rng = new Rng(4);
    for (const cache of [taylor, multipole]) {
      for (let t = 0; t < 10; t++) cache.append(rng.fillGaussian(new Float32Array(d), 40), rng.fillGaussian(new Float32Array(s)));
      expect(() => cache.attend(rng.fillGaussian(new Float32Array(d), 40), new Float32Array(s))).toThrow(/exceeds rho|above rho/);
    }
  });
});

describe('the mean-token fallback', () => {
  it('answers n·e^{<q,μ>τ}·[1, v̄] from the moments: the mean value, with the Jensen weight (never above Z, at least Z·e^{−ρ_μ})', () => {
    const rng = new Rng(9);
    for (const warmup of [0, 8]) {
      const cache = registry.create({ policy: 'taylor', keyDim: d, valueDim: s, tau: 0.5, params: { degree: 2, warmup, threshold: 0 } }) as TaylorCache;
      const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau: 0.5 });
      const keys: Float32Array[] = [];
      const values: Float32Array[] = [];
      for (let t = 0; t < 40; t++) {
        keys.push(rng.fillGaussian(new Float32Array(d), 0.7));
        values.push(rng.fillGaussian(new Float32Array(s)));
        cache.append(keys[t]!, values[t]!);
        exact.append(keys[t]!, values[t]!);
      }
      const q = rng.fillGaussian(new Float32Array(d), 1.5);
      const got = createKernelSums(s);
      expect(cache.sumsWithCertificate(q, got).fallback).toBe(true);
      const mean = new Float64Array(d);
      for (const k of keys) for (let j = 0; j < d; j++) mean[j] += k[j]! / keys.length;
      let logit = 0;
      for (let j = 0; j < d; j++) logit += q[j]! * mean[j]! * 0.5;
      let radius = 0;
      for (const k of keys) radius = Math.max(radius, Math.hypot(...k.map((x, j) => x - mean[j]!)));
      const logZ = got.m + Math.log(got.z);
      expect(Math.abs(logZ - (Math.log(40) + logit))).toBeLessThan(1e-6);
      const want = exactSums(exact, q);
      const exactLogZ = want.m + Math.log(want.z);
      expect(logZ).toBeLessThanOrEqual(exactLogZ + 1e-9);
      expect(logZ).toBeGreaterThanOrEqual(exactLogZ - Math.hypot(...q) * radius * 0.5 - 1e-9);
      for (let j = 0; j < s; j++) expect(got.n[j]! / got.z).toBeCloseTo(values.reduce((a, v) => a + v[j]!, 0) / 40, 6);
    }
  });
});
