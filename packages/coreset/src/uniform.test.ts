import { budgetBytes, createKernelSums, ExactCache, PolicyRegistry, Rng } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { type UniformSampling, uniformSamplingPolicy } from './uniform.js';

const registry = new PolicyRegistry().register(uniformSamplingPolicy);

describe('uniform', () => {
  // Unbiasedness: over S = 400 seeds the mean of Z̃/Z (and of Ñ_0/N_0) must lie within 4 standard
  // errors of 1 (a 4-sigma CI: a biased estimator, e.g. without the ln(m/k) weight, is off by ~75%).
  it('estimates N and Z without bias (mean over seeds within a 4-sigma CI of the exact sums)', () => {
    const d = 4;
    const s = 2;
    const n = 200;
    const rng = new Rng(9);
    const keys = rng.fillGaussian(new Float32Array(n * d), 0.8);
    const values = rng.fillGaussian(new Float32Array(n * s), 1, 1);
    const q = rng.fillGaussian(new Float32Array(d), 0.8);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s });
    exact.prefill(keys, values);
    const ex = exact.sums(q, createKernelSums(s));
    const Z = ex.z * Math.exp(ex.m);
    const N0 = ex.n[0]! * Math.exp(ex.m);
    const S = 400;
    const zs: number[] = [];
    const ns: number[] = [];
    for (let seed = 0; seed < S; seed++) {
      const cache = registry.create({ policy: 'uniform', keyDim: d, valueDim: s, budget: 50, seed, params: { sink: 2, window: 2 } });
      cache.prefill(keys, values);
      const est = cache.sums(q, createKernelSums(s));
      zs.push((est.z * Math.exp(est.m)) / Z);
      ns.push((est.n[0]! * Math.exp(est.m)) / N0);
    }
    for (const xs of [zs, ns]) {
      const mean = xs.reduce((a, b) => a + b, 0) / S;
      const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (S - 1));
      expect(sd).toBeGreaterThan(0); // it really samples
      expect(Math.abs(mean - 1)).toBeLessThanOrEqual((4 * sd) / Math.sqrt(S));
    }
  });

  // Under a growing budget the rows have different rates and weights 1/π: still unbiased.
  it('is unbiased under a {fraction} budget too (rates vary along the stream)', () => {
    const d = 4;
    const s = 2;
    const n = 300;
    const rng = new Rng(12);
    const keys = rng.fillGaussian(new Float32Array(n * d), 0.8);
    const values = rng.fillGaussian(new Float32Array(n * s), 1, 1);
    const q = rng.fillGaussian(new Float32Array(d), 0.8);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s });
    exact.prefill(keys, values);
    const ex = exact.sums(q, createKernelSums(s));
    const Z = ex.z * Math.exp(ex.m);
    const S = 400;
    const zs: number[] = [];
    for (let seed = 0; seed < S; seed++) {
      const cache = registry.create({ policy: 'uniform', keyDim: d, valueDim: s, budget: { fraction: 0.15, minBytes: 24 * 10 }, seed, params: { sink: 1, window: 2 } });
      cache.prefill(keys, values);
      const est = cache.sums(q, createKernelSums(s));
      zs.push((est.z * Math.exp(est.m)) / Z);
    }
    const mean = zs.reduce((a, b) => a + b, 0) / S;
    const sd = Math.sqrt(zs.reduce((a, b) => a + (b - mean) ** 2, 0) / (S - 1));
    expect(sd).toBeGreaterThan(0);
    expect(Math.abs(mean - 1)).toBeLessThanOrEqual((4 * sd) / Math.sqrt(S));
  });

  it('runs at a budget of a handful of tokens: shrinks sinks and window to leave a middle', () => {
    const cache = registry.create({ policy: 'uniform', keyDim: 2, valueDim: 2, budget: 3, params: { sink: 2, window: 2 } }) as UniformSampling;
    expect([cache.sink, cache.window, cache.shrunk]).toEqual([1, 1, true]);
    const rng = new Rng(1);
    for (let i = 0; i < 50; i++) cache.append(rng.fillGaussian(new Float32Array(2)), rng.fillGaussian(new Float32Array(2)));
    expect(cache.stored).toBe(3);
    expect(cache.describe().summary).toContain('shrunk');
  });

  it('fills a growing {fraction} budget (rates follow the budget growth)', () => {
    // 1/8 of 4000 rows of 32 bytes is 16000 bytes; the window holds 4·36, sampled rows cost 44:
    // 360 rows. A sample whose threshold only fell would stay near its early, noisy rates (a
    // median fill of 5% on this schedule); over 9 seeds the median fill must be ≥ 90%.
    const d = 4;
    const room = Math.floor((16000 - 4 * 36) / 44);
    const fills: number[] = [];
    for (let seed = 0; seed < 9; seed++) {
      const cache = registry.create({ policy: 'uniform', keyDim: d, valueDim: d, seed, budget: { fraction: 1 / 8 }, params: { window: 4 } }) as UniformSampling;
      const rng = new Rng(seed);
      for (let i = 0; i < 4000; i++) {
        cache.append(rng.fillGaussian(new Float32Array(d)), rng.fillGaussian(new Float32Array(d)));
        expect(cache.bytes).toBeLessThanOrEqual(budgetBytes({ fraction: 1 / 8 }, cache.seen, d, d));
      }
      fills.push((cache.stored - 4) / room);
    }
    fills.sort((a, b) => a - b);
    expect(fills[4]).toBeGreaterThan(0.9);
  });
});
