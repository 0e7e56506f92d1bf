import { InvalidParamsError, Rng } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RowBatch } from './row-batch.js';
import { SoftmaxBalance, softmaxBalanceBound, walkConstant } from './softmax-balance.js';

// Fills `out` with a uniform point of the ball of radius r in R^d.
function inBall(rng: Rng, d: number, r: number, out: Float64Array): Float64Array {
  let nn = 0;
  for (let j = 0; j < d; j++) {
    out[j] = rng.gaussian();
    nn += out[j]! * out[j]!;
  }
  const f = (r * Math.pow(rng.uniform(), 1 / d)) / Math.sqrt(nn);
  for (let j = 0; j < d; j++) out[j]! *= f;
  return out;
}

interface Instance {
  batch: RowBatch;
  query: Float64Array;
  n: number;
  d: number;
  s: number;
  tau: number;
}

function instance(seed: number, n: number, d: number, s: number, r: number, tau: number): Instance {
  const rng = new Rng(seed);
  const batch = new RowBatch(d, s, n);
  const k = new Float64Array(d);
  const v = new Float64Array(s);
  for (let i = 0; i < n; i++) {
    inBall(rng, d, r, k);
    inBall(rng, s, 1, v);
    batch.push(k, 0, v, 0, i, 0);
  }
  return { batch, query: inBall(rng, d, r, new Float64Array(d)), n, d, s, tau };
}

// ||Σ_kept 2·f_i − Σ_all f_i||₂ for f_i = e^{<k_i,q>τ}·v_i (or v ≡ 1).
function halvingError(inst: Instance, keep: Int32Array, kept: number, unit: boolean): number {
  const { batch, query, n, d, s, tau } = inst;
  const dim = unit ? 1 : s;
  const diff = new Float64Array(dim);
  let next = 0;
  for (let i = 0; i < n; i++) {
    const isKept = next < kept && keep[next] === i;
    if (isKept) next++;
    let l = 0;
    for (let j = 0; j < d; j++) l += batch.keys[i * d + j]! * query[j]!;
    const e = Math.exp(l * tau) * (isKept ? 1 : -1);
    for (let j = 0; j < dim; j++) diff[j] += e * (unit ? 1 : batch.values[i * s + j]!);
  }
  return Math.hypot(...diff);
}

function featureRadius(inst: Instance, unit: boolean): number {
  let R = 0;
  const { batch, d, s, tau } = inst;
  for (let i = 0; i < inst.n; i++) {
    let kk = 0;
    for (let j = 0; j < d; j++) kk += batch.keys[i * d + j]! ** 2;
    let vv = 1;
    if (!unit) {
      vv = 0;
      for (let j = 0; j < s; j++) vv += batch.values[i * s + j]! ** 2;
    }
    R = Math.max(R, Math.exp((kk * tau) / 2) * Math.sqrt(vv));
  }
  return R;
}

describe('SoftmaxBalance', () => {
  it('keeps the smaller sign class, ascending, at most half of the rows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (n, d, seed) => {
        const inst = instance(seed, n, d, 2, 2, 0.5);
        const keep = new Int32Array(n);
        const kept = new SoftmaxBalance({ tau: 0.5 }).select(inst.batch, new Rng(seed), keep);
        expect(kept).toBeLessThanOrEqual(n / 2);
        for (let i = 1; i < kept; i++) expect(keep[i]!).toBeGreaterThan(keep[i - 1]!);
      }),
      { numRuns: 40 },
    );
  });

  // The bound of softmaxBalanceBound fails with probability ≤ δ + δ' = 0.1 per trial. Over T = 40
  // trials per input, the failure count is Binomial(40, ≤ 0.1): we allow 0.1·40 + 3·√(40·0.1·0.9)
  // ≈ 9.7 failures, a 3-sigma margin (a correct walk almost never exceeds its loose bound at all).
  it('kept half matches the discarded half within the discrepancy bound in ≥ 1−δ of trials', () => {
    const delta = 0.05;
    const tailDelta = 0.05;
    const trials = 40;
    const allowed = (delta + tailDelta) * trials + 3 * Math.sqrt(trials * 0.1 * 0.9);
    let worstRatio = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 64 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.double({ min: 0.2, max: 3, noNaN: true }),
        fc.boolean(),
        fc.integer(),
        (n, d, s, r, unit, seed) => {
          const tau = 1 / Math.sqrt(d);
          const inst = instance(seed, n, d, s, r, tau);
          const walk = new SoftmaxBalance({ tau, delta, unitValues: unit });
          const keep = new Int32Array(n);
          const qn = Math.hypot(...inst.query);
          const bound = softmaxBalanceBound({ n, s: unit ? 1 : s, delta, tailDelta, tau, queryNorm: qn, featureRadius: featureRadius(inst, unit) });
          let failures = 0;
          for (let t = 0; t < trials; t++) {
            const kept = walk.select(inst.batch, new Rng(seed * 7919 + t), keep);
            const err = halvingError(inst, keep, kept, unit);
            worstRatio = Math.max(worstRatio, err / bound);
            if (err > bound) failures++;
          }
          expect(failures).toBeLessThanOrEqual(allowed);
        },
      ),
      { numRuns: 25 },
    );
    // The bound is loose (ALS constants): the worst observed error is well under it.
    expect(worstRatio).toBeLessThan(1);
  });

  it('the denominator variant keeps the counts balanced (query 0)', () => {
    const inst = instance(3, 64, 3, 1, 1, 0.5);
    const keep = new Int32Array(64);
    const walk = new SoftmaxBalance({ tau: 0.5, unitValues: true, delta: 0.05 });
    const bound = softmaxBalanceBound({ n: 64, s: 1, delta: 0.05, tailDelta: 0.05, tau: 0.5, queryNorm: 0, featureRadius: featureRadius(inst, true) });
    let failures = 0;
    for (let t = 0; t < 50; t++) {
      const kept = walk.select(inst.batch, new Rng(t), keep);
      if (Math.abs(2 * kept - 64) > bound) failures++;
    }
    expect(failures).toBeLessThanOrEqual(0.1 * 50 + 3 * Math.sqrt(50 * 0.09));
    expect(walk.failures).toBe(0);
  });

  it('stays finite for keys of norm 1e4 (the kernel is evaluated in log space)', () => {
    const batch = new RowBatch(2, 1, 16);
    for (let i = 0; i < 16; i++) batch.push([1e4 * Math.cos(i), 1e4 * Math.sin(i)], 0, [1], 0, i, 0);
    const kept = new SoftmaxBalance({ tau: 1 }).select(batch, new Rng(1), new Int32Array(16));
    expect(kept).toBeGreaterThanOrEqual(0);
    expect(kept).toBeLessThanOrEqual(8);
  });

  it('rejects bad options with typed errors', () => {
    expect(() => new SoftmaxBalance({ tau: 0 })).toThrow(InvalidParamsError);
    expect(() => new SoftmaxBalance({ tau: 1, delta: 1 })).toThrow(InvalidParamsError);
    expect(walkConstant(100, 0.01)).toBeCloseTo(30 * Math.log(1e4), 9);
  });
});
