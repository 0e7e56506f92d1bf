import { createKernelSums, ExactCache, PolicyRegistry, relativeError, Rng } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { type SubGen, subGenPolicy } from './subgen.js';

const registry = new PolicyRegistry().register(subGenPolicy);

describe('subgen', () => {
  // SubGen's constants are unverified, so no ε-guarantee is tested; what is checked is that both
  // raw samplers (guard off) are unbiased: over 300 seeds the mean of Z̃/Z and Ñ_0/N_0 lies within
  // 4 standard errors of 1.
  it('cluster reservoirs (Z) and ℓ2 value samples (N) are unbiased over seeds', () => {
    const d = 4;
    const s = 2;
    const n = 300;
    const rng = new Rng(5);
    const keys = new Float32Array(n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) keys[i * d + j] = (i % 3) + 0.3 * rng.gaussian();
    const values = rng.fillGaussian(new Float32Array(n * s), 1, 1);
    const q = rng.fillGaussian(new Float32Array(d), 0.7);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s });
    exact.prefill(keys, values);
    const ex = exact.sums(q, createKernelSums(s));
    const Z = ex.z * Math.exp(ex.m);
    const N0 = ex.n[0]! * Math.exp(ex.m);
    const S = 300;
    const zs: number[] = [];
    const ns: number[] = [];
    for (let seed = 0; seed < S; seed++) {
      const cache = registry.create({ policy: 'subgen', keyDim: d, valueDim: s, budget: 64, seed, params: { clusterRadius: 1.5, guard: false } });
      cache.prefill(keys, values);
      const est = cache.sums(q, createKernelSums(s));
      zs.push((est.z * Math.exp(est.m)) / Z);
      ns.push((est.n[0]! * Math.exp(est.m)) / N0);
    }
    for (const xs of [zs, ns]) {
      const mean = xs.reduce((a, b) => a + b, 0) / S;
      const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (S - 1));
      expect(sd).toBeGreaterThan(0);
      expect(Math.abs(mean - 1)).toBeLessThanOrEqual((4 * sd) / Math.sqrt(S));
    }
  });

  it('opens one cluster per δ-ball and degrades (counted) when the budget has no cluster slot left', () => {
    const three = registry.create({ policy: 'subgen', keyDim: 2, valueDim: 1, budget: 64, params: { clusterRadius: 0.5 } }) as SubGen;
    const tight = registry.create({ policy: 'subgen', keyDim: 2, valueDim: 1, budget: 12, params: { clusterRadius: 0.5 } }) as SubGen;
    for (let i = 0; i < 30; i++) {
      const k = new Float32Array([(i % 3) * 10, 0]);
      three.append(k, new Float32Array([1]));
      tight.append(k, new Float32Array([1]));
    }
    expect(three.clusterCount).toBe(3);
    expect(three.overflowJoins).toBe(0);
    expect(tight.clusterCount).toBe(1); // (12 − 6 samples) / (1 + 4) = 1 cluster
    expect(tight.overflowJoins).toBeGreaterThan(0);
    expect(tight.stored).toBeLessThanOrEqual(12);
  });

  // The INDEX hard instance (near-orthogonal keys of large norm, ρ = 20, each query a stored key):
  // the raw ratio Ñ/Z̃ of independent samples blows up (Z̃ misses the attended token, an ℓ₂ sample
  // holds it). The guard keeps every answer in the ball of radius max ||v||, which holds the exact
  // answer, so the error is at most 2·max ||v||.
  it('guard: on an INDEX-like stream answers stay within max ||v|| (the raw estimator explodes)', () => {
    const n = 512;
    const d = 16;
    const s = 16;
    const tau = 1 / Math.sqrt(d);
    const r = Math.sqrt(20 / tau);
    const rng = new Rng(11);
    const keys = rng.fillGaussian(new Float32Array(n * d));
    for (let i = 0; i < n; i++) {
      let nn = 0;
      for (let j = 0; j < d; j++) nn += keys[i * d + j]! ** 2;
      for (let j = 0; j < d; j++) keys[i * d + j]! *= r / Math.sqrt(nn);
    }
    const values = rng.fillGaussian(new Float32Array(n * s));
    let maxV = 0;
    for (let i = 0; i < n; i++) maxV = Math.max(maxV, Math.hypot(...values.subarray(i * s, (i + 1) * s)));
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau });
    exact.prefill(keys, values);
    const worst = (guard: boolean): { norm: number; relative: number; cache: SubGen } => {
      const cache = registry.create({ policy: 'subgen', keyDim: d, valueDim: s, tau, budget: 128, seed: 3, params: { guard } }) as SubGen;
      cache.prefill(keys, values);
      let norm = 0;
      let relative = 0;
      const out = new Float32Array(s);
      const want = new Float32Array(s);
      for (let t = 0; t < 200; t++) {
        const q = keys.subarray(t * d, (t + 1) * d);
        cache.attend(q, out);
        exact.attend(q, want);
        norm = Math.max(norm, Math.hypot(...out));
        relative = Math.max(relative, relativeError(out, want));
      }
      return { norm, relative, cache };
    };
    const raw = worst(false);
    const guarded = worst(true);
    expect(raw.norm).toBeGreaterThan(100 * maxV);
    expect(guarded.norm).toBeLessThanOrEqual(maxV * (1 + 1e-6));
    expect(guarded.cache.flooredQueries).toBeGreaterThan(0);
    expect(guarded.cache.clampedQueries).toBeGreaterThan(0);
    expect(guarded.relative).toBeLessThan(raw.relative / 100);
  });

  it('runs at a budget of a handful of tokens, and holds no more than it keeps at a huge one (issue 22)', () => {
    const tiny = registry.create({ policy: 'subgen', keyDim: 2, valueDim: 2, budget: 8 }) as SubGen;
    const four = registry.create({ policy: 'subgen', keyDim: 2, valueDim: 2, budget: 4 }) as SubGen;
    // 1e9 tokens used to allocate 5e8 samples on the first append (a RangeError, with state changed).
    const huge = registry.create({ policy: 'subgen', keyDim: 2, valueDim: 2, budget: 1e9 }) as SubGen;
    const rng = new Rng(4);
    for (let i = 0; i < 200; i++) {
      const k = rng.fillGaussian(new Float32Array(2));
      const v = rng.fillGaussian(new Float32Array(2));
      tiny.append(k, v);
      four.append(k, v);
      huge.append(k, v);
      expect(tiny.stored).toBeLessThanOrEqual(8);
      expect(four.stored).toBeLessThanOrEqual(4);
    }
    expect(tiny.clusterCount).toBeGreaterThan(0);
    for (const c of [tiny, four]) for (const x of c.attend(new Float32Array([1, 0]), new Float32Array(2))) expect(Number.isFinite(x)).toBe(true);
    // The huge budget keeps every token as a value sample: 200 rows of 2+2 floats and 3 Float32s.
    expect(huge.describe().stats['valueSamples']).toBe(200);
    expect(huge.bytes).toBeLessThan(200 * 40 + huge.clusterCount * 1000);
  });
});
