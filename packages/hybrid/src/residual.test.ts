import { createKernelSums, Rng } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResidualBalance } from './residual-balance.js';
import { ResidualCoreset } from './residual-coreset.js';
import { logAbsResidual, residualExp, residualNormBound, residualSign } from './residual-exp.js';

function factorial(n: number): number {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
}

describe('exp_{>t}: the tail of the exponential series', () => {
  it('satisfies exp_{>t}(x) = x^{t+1}/(t+1)! + exp_{>t+1}(x) to rounding, for x in [−40, 40] and t ≤ 12', () => {
    fc.assert(
      fc.property(fc.double({ min: -40, max: 40, noNaN: true }), fc.integer({ min: 0, max: 12 }), (x, t) => {
        const a = residualExp(x, t);
        const term = x ** (t + 1) / factorial(t + 1);
        const b = term + residualExp(x, t + 1);
        const scale = Math.abs(term) + Math.abs(residualExp(x, t + 1)) + Math.abs(a);
        expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-12 * scale + 1e-300);
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with expm1 at t = 0 and with the naive tail where there is no cancellation', () => {
    fc.assert(
      fc.property(fc.double({ min: -30, max: 30, noNaN: true }), (x) => {
        const want = Math.expm1(x);
        expect(Math.abs(residualExp(x, 0) - want)).toBeLessThanOrEqual(1e-13 * Math.abs(want) + 1e-300);
      }),
      { numRuns: 200 },
    );
    // Tiny arguments: the naive e^x − 1 − x − x²/2 would be pure rounding noise.
    expect(residualExp(1e-6, 2) / ((1e-18 / 6) * (1 + 1e-6 / 4 + 1e-12 / 20))).toBeCloseTo(1, 12);
    expect(residualExp(-1e-4, 3) / ((1e-16 / 24) * (1 - 1e-4 / 5 + 1e-8 / 30))).toBeCloseTo(1, 12);
    expect(residualExp(2, 1)).toBeCloseTo(Math.exp(2) - 3, 13);
  });

  it('has the sign of x^{t+1}, stays finite in log space at huge arguments, and is bounded by ρ^{t+1}e^ρ/(t+1)!', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e8, max: 1e8, noNaN: true }), fc.integer({ min: 0, max: 10 }), (x, t) => {
        const l = logAbsResidual(x, t);
        if (x !== 0) expect(Number.isFinite(l)).toBe(true);
        const r = residualExp(x, t);
        if (Number.isFinite(r) && r !== 0) expect(Math.sign(r)).toBe(residualSign(x, t));
        if (Math.abs(x) <= 3) expect(Math.abs(r)).toBeLessThanOrEqual(residualNormBound(Math.abs(x), t) * (1 + 1e-12));
      }),
      { numRuns: 300 },
    );
    expect(logAbsResidual(1e6, 4)).toBeCloseTo(1e6, 6);
  });
});

describe('ResidualCoreset', () => {
  const d = 4;
  const s = 2;
  // Weights need not sum to n: the walk balances the residual features, which have no constant
  // component, so the kept class may hold fewer than half the rows (that is what the memory bound uses).
  it('holds at most t·(log2(n/t) + 2) rows, with power-of-two weights no larger than n', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 700 }), fc.constantFrom(4, 8, 16), fc.integer({ min: 0, max: 1000 }), (n, block, seed) => {
        const rng = new Rng(seed);
        const coreset = new ResidualCoreset(d, s, 2, new ResidualBalance({ tau: 0.5, degree: 2, walkConstant: 1 }), seed, { blockSize: block });
        for (let i = 0; i < n; i++) coreset.push(rng.fillGaussian(new Float32Array(d)), 0, rng.fillGaussian(new Float32Array(s)), 0, i);
        expect(coreset.totalWeight).toBeLessThanOrEqual(n);
        const bound = n < block ? n : block * (Math.log2(n / block) + 2);
        expect(coreset.stored).toBeLessThanOrEqual(bound);
      }),
      { numRuns: 40 },
    );
  });

  it('with a cap on the group rows, never holds more than the cap plus a raw block (uncapped, it holds more)', () => {
    const rng = new Rng(3);
    const make = () => new ResidualCoreset(d, s, 1, new ResidualBalance({ tau: 0.5, degree: 1, walkConstant: 1 }), 1, { blockSize: 16 });
    const capped = make();
    const free = make();
    let most = 0;
    for (let i = 0; i < 3000; i++) {
      const k = rng.fillGaussian(new Float32Array(d));
      const v = rng.fillGaussian(new Float32Array(s));
      capped.push(k, 0, v, 0, i, 12);
      free.push(k, 0, v, 0, i);
      most = Math.max(most, free.groupSlots);
      expect(capped.groupSlots).toBeLessThanOrEqual(12);
      expect(capped.stored).toBeLessThanOrEqual(12 + 16);
    }
    expect(most).toBeGreaterThan(12);
  });

  it('its weighted rows estimate the residual kernel sums of every token seen (degree 1: positive terms)', () => {
    const rng = new Rng(5);
    const unit = (m: number) => {
      const v = rng.fillGaussian(new Float32Array(m));
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    };
    const coreset = new ResidualCoreset(d, s, 1, new ResidualBalance({ tau: 1, degree: 1, walkConstant: 1 }), 1, { blockSize: 32 });
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let i = 0; i < 1024; i++) {
      keys.push(unit(d));
      values.push(unit(s).map((x) => x + 2));
      coreset.push(keys[i]!, 0, values[i]!, 0, i);
    }
    expect(coreset.stored).toBeLessThan(200);
    for (let j = 0; j < 8; j++) {
      const q = unit(d);
      const got = coreset.sums(q, 1, createKernelSums(s));
      let z = 0;
      for (const k of keys) z += residualExp(k.reduce((a, x, i) => a + x * q[i]!, 0), 1);
      expect(Math.abs((got.z * Math.exp(got.m)) / z - 1)).toBeLessThan(0.5);
    }
  });

  it('is the exact residual sum Σ exp_{>t}(<q,k>τ)[1, v] before its first halving', () => {
    const rng = new Rng(9);
    const n = 30;
    const t = 3;
    const tau = 0.7;
    const coreset = new ResidualCoreset(d, s, t, new ResidualBalance({ tau, degree: t, walkConstant: 1 }), 1, { blockSize: 32 });
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let i = 0; i < n; i++) {
      keys.push(rng.fillGaussian(new Float32Array(d)));
      values.push(rng.fillGaussian(new Float32Array(s)));
      coreset.push(keys[i]!, 0, values[i]!, 0, i);
    }
    const q = rng.fillGaussian(new Float32Array(d));
    const got = coreset.sums(q, tau, createKernelSums(s));
    let z = 0;
    const nn = [0, 0];
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += keys[i]![j]! * q[j]!;
      const r = residualExp(dot * tau, t);
      z += r;
      for (let j = 0; j < s; j++) nn[j]! += r * values[i]![j]!;
    }
    expect(got.z * Math.exp(got.m)).toBeCloseTo(z, 10);
    for (let j = 0; j < s; j++) expect(got.n[j]! * Math.exp(got.m)).toBeCloseTo(nn[j]!, 10);
  });
});
