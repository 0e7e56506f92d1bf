import { createKernelSums, ExactCache, InvalidBudgetError, PolicyRegistry, Rng } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { uniformSamplingPolicy } from './uniform.js';

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

  it('rejects budgets without room for the reservoir, and ratio budgets', () => {
    expect(() => registry.create({ policy: 'uniform', keyDim: 2, valueDim: 2, budget: 4, params: { sink: 2, window: 2 } })).toThrow(InvalidBudgetError);
    expect(() => registry.create({ policy: 'uniform', keyDim: 2, valueDim: 2, budget: { ratio: 0.5 } })).toThrow(InvalidBudgetError);
  });
});
