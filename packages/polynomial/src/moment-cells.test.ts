import { conformanceChecks } from '@kv/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKernelSums, ExactCache, exactSums, inBall, onSphere, registry, Rng, sumsError } from '../test/helpers.js';
import type { MomentCellsCache } from './moment-cells.js';

describe.each([16, { bytes: 4000 }, { fraction: 0.25 }, { fraction: 0.5, minBytes: 800 }])('moment-cells under %j: conformance', (budget) => {
  for (const c of conformanceChecks({ registry, spec: { policy: 'moment-cells', keyDim: 8, valueDim: 4, budget }, steps: 120 })) it(c.name, c.run);
});

describe.each(['int8', { keys: 'int4', values: 'int8', rotate: true }])('moment-cells stored at %j: conformance', (precision) => {
  for (const c of conformanceChecks({ registry, spec: { policy: 'moment-cells', keyDim: 8, valueDim: 4, budget: { fraction: 0.5, minBytes: 600 }, params: { precision } }, steps: 120 })) it(c.name, c.run);
});

const d = 4;
const s = 2;

/** Tokens in `clusters` tight clusters (radius `spread`) around centres of norm 2, each cluster with one value. */
function clustered(seed: number, n: number, clusters: number, spread: number) {
  const rng = new Rng(seed);
  const centres = Array.from({ length: clusters }, () => onSphere(rng, d, 2));
  const values = Array.from({ length: clusters }, () => rng.fillGaussian(new Float32Array(s)));
  const tokens: { key: Float32Array; value: Float32Array; cluster: number }[] = [];
  for (let i = 0; i < n; i++) {
    const c = rng.int(clusters);
    tokens.push({ key: inBall(rng, d, spread, centres[c]!), value: values[c]!, cluster: c });
  }
  return { tokens, rng };
}

function cells(rows: number) {
  const row = 4 * (d + s) + 24;
  return registry.create({ policy: 'moment-cells', keyDim: d, valueDim: s, tau: 1, budget: { bytes: 8 * d + rows * row } }) as MomentCellsCache;
}

describe('moment-cells guarantee', () => {
  it('|Ẑ/Z − 1| ≤ the reported remainder bound, and with one value per cluster the output error ≤ 2β/(1 − β)·max||v||', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.double({ min: 0.001, max: 0.3, noNaN: true }), fc.integer({ min: 0, max: 1e6 }), (clusters, spread, seed) => {
        const { tokens, rng } = clustered(seed, 120, clusters, spread);
        const cache = cells(clusters + 2);
        const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau: 1 });
        let maxV = 0;
        for (const t of tokens) {
          cache.append(t.key, t.value);
          exact.append(t.key, t.value);
          maxV = Math.max(maxV, Math.hypot(...t.value));
        }
        for (let i = 0; i < 4; i++) {
          const q = onSphere(rng, d, 1.5);
          const got = cache.sums(q, createKernelSums(s));
          const beta = cache.lastBound;
          const err = sumsError(got, exactSums(exact, q));
          expect(err.z).toBeLessThanOrEqual(beta + 1e-6);
          if (beta < 1) expect(err.output).toBeLessThanOrEqual(((2 * beta) / (1 - beta)) * maxV + 1e-5);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('the bound is not vacuous: on tight clusters the cells recover them and the error is near 0', () => {
    const { tokens, rng } = clustered(3, 200, 4, 0.01);
    const cache = cells(4);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau: 1 });
    const sizes = [0, 0, 0, 0];
    for (const t of tokens) {
      cache.append(t.key, t.value);
      exact.append(t.key, t.value);
      sizes[t.cluster]!++;
    }
    const q = onSphere(rng, d, 1.5);
    const err = sumsError(cache.sums(q, createKernelSums(s)), exactSums(exact, q));
    expect(cache.stored).toBe(4);
    expect(cache.lastBound).toBeLessThan(0.1);
    expect(err.z).toBeLessThan(1e-3);
    expect(err.output).toBeLessThan(1e-3);
    // Each cell is one cluster.
    expect([...cache.cellSizes()].sort((a, b) => a - b)).toEqual([...sizes].sort((a, b) => a - b));
  });

  it('is exact while every token has a cell of its own', () => {
    const { tokens, rng } = clustered(5, 30, 30, 1);
    const cache = cells(40);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau: 1 });
    for (const t of tokens) {
      cache.append(t.key, t.value);
      exact.append(t.key, t.value);
    }
    const q = onSphere(rng, d, 2);
    expect(sumsError(cache.sums(q, createKernelSums(s)), exactSums(exact, q)).output).toBeLessThan(1e-6);
    expect(cache.lastBound).toBe(0);
  });

  it('merges by the query metric: coordinates the queries never use are merged first', () => {
    // Keys differ in coordinate 0 by 1 or in coordinate 1 by 3; queries only ever use coordinate 0.
    const cache = cells(2);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau: 1 });
    const q = new Float32Array([1, 0, 0, 0]);
    const keys = [[0, 0], [1, 0], [0, 3], [1, 3]].map(([a, b]) => new Float32Array([a!, b!, 0, 0]));
    for (let i = 0; i < 4; i++) {
      cache.append(keys[i]!, new Float32Array([i, 0]));
      exact.append(keys[i]!, new Float32Array([i, 0]));
      cache.sums(q, createKernelSums(s));
    }
    // The cells are {k0, k2} and {k1, k3}, so logits against q are kept exactly.
    expect(sumsError(cache.sums(q, createKernelSums(s)), exactSums(exact, q)).z).toBeLessThan(1e-6);
    // A query along the merged coordinate sees the cells' spread: the bound grows with the radius
    // the merges gave them (each mean moved 1.5 from its tokens) and still holds.
    const across = new Float32Array([0, 1, 0, 0]);
    const err = sumsError(cache.sums(across, createKernelSums(s)), exactSums(exact, across)).z;
    expect(err).toBeGreaterThan(0.5);
    expect(err).toBeLessThanOrEqual(cache.lastBound);
    expect(cache.lastBound).toBeGreaterThanOrEqual(Math.expm1(1.5) * (1 - 1e-6));
  });

  it('the bound covers the spread correction: a query far weaker than those the cells learnt from is over-weighted by e^{b_c}, within the bound', () => {
    const cache = cells(1);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau: 1 });
    const strong = new Float32Array([3, 0, 0, 0]);
    for (const x of [-1, 1, -1, 1]) {
      const k = new Float32Array([x, 0, 0, 0]);
      cache.append(k, new Float32Array([1, 0]));
      exact.append(k, new Float32Array([1, 0]));
      cache.sums(strong, createKernelSums(s));
    }
    const weak = new Float32Array([0.01, 0, 0, 0]);
    const err = sumsError(cache.sums(weak, createKernelSums(s)), exactSums(exact, weak)).z;
    // Spread: 4 tokens at ±1 under the metric 9 give S = 36, b = S/(2n) = 4.5, while ρ = 0.01.
    expect(err).toBeGreaterThan(Math.expm1(1));
    expect(err).toBeLessThanOrEqual(cache.lastBound);
  });

  it("merges by Ward's criterion: two large clusters are kept apart while nearby singletons merge", () => {
    // A (40 tokens at 0) and B (40 at 1) along the queried axis, then four singletons 2 apart from 10.
    // Under the metric 9, merging A and B costs 180 under Ward, a singleton joining the last cell
    // 18–108: Ward keeps A and B
    // apart; a cost without the counts (9 against 36) would merge them.
    const cache = cells(3);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau: 1 });
    const q = new Float32Array([-3, 0, 0, 0]);
    const rng = new Rng(2);
    const feed = (x: number, v: Float32Array) => {
      const k = new Float32Array([x + 1e-3 * rng.gaussian(), 0, 0, 0]);
      cache.append(k, v);
      exact.append(k, v);
      cache.sums(q, createKernelSums(s));
    };
    for (let i = 0; i < 40; i++) feed(0, new Float32Array([1, 0]));
    for (let i = 0; i < 40; i++) feed(1, new Float32Array([0, 1]));
    for (let i = 0; i < 4; i++) feed(10 + 2 * i, new Float32Array([-1, -1]));
    expect(sumsError(cache.sums(q, createKernelSums(s)), exactSums(exact, q)).output).toBeLessThan(0.01);
  });
});
