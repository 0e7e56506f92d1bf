import { createKernelSums, ExactCache, InvalidBudgetError, PolicyRegistry, Rng } from '@kv/core';
import { conformanceChecks } from '@kv/core/testing';
import { describe, expect, it } from 'vitest';
import { type LshSample, lshSamplePolicy } from './lsh-sample.js';

const registry = new PolicyRegistry().register(lshSamplePolicy);

for (const budget of [40, { bytes: 5000 }, { fraction: 1 / 4, minBytes: 3000 }]) {
  describe(`lsh-sample conformance, ${JSON.stringify(budget)}`, () => {
    for (const c of conformanceChecks({ registry, spec: { policy: 'lsh-sample', keyDim: 16, valueDim: 8, budget, params: { sink: 2, window: 4, hashes: 3, tables: 3 } } })) {
      it(c.name, c.run);
    }
  });
}

describe('lsh-sample estimator', () => {
  // Over the draw of the hash functions and of the sample (one seed each), the estimate of Z and
  // of N_0 has mean within 4.5 standard errors of the exact sums, while evicting. Weighting the
  // union of the L cells by 1/(L·p₁) per table instead of 1/P(any table) would fail it.
  it('is unbiased for Z and N over seeds (hash functions and sample), while evicting', () => {
    const d = 8;
    const s = 2;
    const n = 240;
    const rng = new Rng(4);
    const keys = rng.fillGaussian(new Float32Array(n * d), 0.7);
    const values = rng.fillGaussian(new Float32Array(n * s), 1, 1);
    const q = rng.fillGaussian(new Float32Array(d), 0.7);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s });
    exact.prefill(keys, values);
    const e = exact.sums(q, createKernelSums(s));
    const SEEDS = 400;
    const zs: number[] = [];
    const ns: number[] = [];
    for (let seed = 0; seed < SEEDS; seed++) {
      const cache = registry.create({ policy: 'lsh-sample', keyDim: d, valueDim: s, seed, budget: { bytes: 6000 }, params: { sink: 0, window: 0, hashes: 2, tables: 3 } }) as LshSample;
      cache.prefill(keys, values);
      expect(cache.stored).toBeLessThan(n);
      const got = cache.sums(q, createKernelSums(s));
      const f = Math.exp(got.m - e.m);
      zs.push((got.z * f) / e.z);
      ns.push((got.n[0]! * f) / e.n[0]!);
    }
    for (const xs of [zs, ns]) {
      const mean = xs.reduce((a, b) => a + b, 0) / SEEDS;
      const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (SEEDS - 1));
      expect(sd).toBeGreaterThan(0);
      expect(Math.abs(mean - 1)).toBeLessThanOrEqual((4.5 * sd) / Math.sqrt(SEEDS));
    }
  });

  it('attends to fewer held tokens than it holds, and refuses a budget without room for its functions', () => {
    const cache = registry.create({ policy: 'lsh-sample', keyDim: 16, valueDim: 16, budget: { bytes: 40_000 }, params: { sink: 2, window: 4 } }) as LshSample;
    const rng = new Rng(7);
    for (let i = 0; i < 400; i++) {
      cache.append(rng.fillGaussian(new Float32Array(16)), rng.fillGaussian(new Float32Array(16)));
      cache.attend(rng.fillGaussian(new Float32Array(16)), new Float32Array(16));
    }
    const stats = cache.describe().stats;
    expect(Number(stats['meanAttended'])).toBeLessThan(Number(stats['sampled']));
    expect(() => registry.create({ policy: 'lsh-sample', keyDim: 64, valueDim: 64, budget: { fraction: 0.1 } })).toThrow(InvalidBudgetError);
  });
});
