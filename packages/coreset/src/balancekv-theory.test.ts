import { AssumptionViolatedError, ExactCache, InvalidParamsError, PolicyRegistry, Rng } from '@kv/core';
import { checkSnapshotRoundTrip } from '@kv/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BalanceKVTheory, balanceKVTheoryPolicy } from './balancekv-theory.js';
import { deriveBalanceKVTheoryParameters } from './theory-params.js';

const registry = new PolicyRegistry().register(balanceKVTheoryPolicy);

function pointInBall(rng: Rng, d: number, r: number, out: Float32Array): Float32Array {
  let nn = 0;
  for (let j = 0; j < d; j++) {
    out[j] = rng.gaussian();
    nn += out[j]! ** 2;
  }
  const f = (r * Math.pow(rng.uniform(), 1 / d)) / Math.sqrt(nn);
  for (let j = 0; j < d; j++) out[j]! *= f;
  return out;
}

describe('deriveBalanceKVTheoryParameters', () => {
  it('returns an even block size meeting the derivation, within a factor 2 of the smallest (or above the horizon)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.double({ min: 0.1, max: 3, noNaN: true }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.integer({ min: 64, max: 1 << 20 }),
        fc.integer({ min: 1, max: 256 }),
        (epsilon, radius, tau, horizon, valueDim) => {
          const input = { epsilon, radius, delta: 0.1, horizon, valueDim, tau };
          const p = deriveBalanceKVTheoryParameters(input);
          expect(p.blockSize % 2).toBe(0);
          const need = (q: typeof p) => q.levels * Math.exp(2 * q.rho) * Math.max((Math.sqrt(valueDim) * q.lambdaNumerator) / q.epsilonNumerator, q.lambdaDenominator / q.epsilonDenominator);
          // Either t meets the derivation's inequality, or it was capped above the horizon (exact cache).
          expect(p.blockSize >= need(p) || p.blockSize > horizon).toBe(true);
          const tighter = deriveBalanceKVTheoryParameters({ ...input, epsilon: epsilon / 2 });
          expect(tighter.blockSize).toBeGreaterThanOrEqual(p.blockSize / 2);
          expect((2 * p.epsilonNumerator + p.epsilonDenominator) / (1 - p.epsilonDenominator)).toBeLessThanOrEqual(epsilon + 1e-12);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('derives its quantities with the stated formulas (union bound over H = 4⌈n/t⌉ halvings)', () => {
    for (const [horizon, valueDim] of [[4096, 1], [50_000, 16]] as const) {
      const delta = 0.05;
      const p = deriveBalanceKVTheoryParameters({ epsilon: 0.5, radius: 0.4, delta, horizon, valueDim, tau: 1 });
      const t = p.blockSize;
      expect(p.halvingsBound).toBe(4 * Math.ceil(horizon / t));
      expect(p.levels).toBe(Math.max(1, Math.floor(Math.log2(horizon / t)) + 1));
      expect(p.walkDelta).toBeCloseTo(delta / (2 * p.halvingsBound), 15);
      expect(p.walkConstant).toBeCloseTo(30 * Math.log(t / p.walkDelta), 9);
      expect(p.lambdaNumerator).toBeCloseTo(Math.sqrt(2 * p.walkConstant * Math.log((4 * p.halvingsBound * valueDim) / delta)), 9);
      expect(p.lambdaDenominator).toBeCloseTo(Math.sqrt(2 * p.walkConstant * Math.log((4 * p.halvingsBound) / delta)), 9);
      expect(p.epsilonNumerator).toBeCloseTo(0.5 / 3.5, 15);
      expect(p.rho).toBeCloseTo(0.16, 15);
    }
  });

  // Regression: the block used to be the first t of an upward fixed-point iteration from t = 2,
  // 6590 at ρ = 0.1, s = 1, ε = 1, n = 8192, where 1116 meets the same inequality.
  it('finds a block that compresses streams of a few thousand tokens at small ρ', () => {
    const p = deriveBalanceKVTheoryParameters({ epsilon: 1, radius: Math.sqrt(0.1), delta: 0.1, horizon: 8192, valueDim: 1, tau: 1 });
    expect(p.blockSize).toBeLessThan(1200);
    expect(p.blockSize).toBeGreaterThan(800);
  });

  it('caps t just above the horizon when compression cannot meet ε (the cache is then exact)', () => {
    const p = deriveBalanceKVTheoryParameters({ epsilon: 0.5, radius: 1e6, delta: 0.1, horizon: 1000, valueDim: 8, tau: 0.1 });
    expect(p.blockSize).toBe(1002);
  });

  it('rejects out-of-range inputs', () => {
    const ok = { epsilon: 0.5, radius: 1, delta: 0.1, horizon: 100, valueDim: 4, tau: 0.5 };
    expect(() => deriveBalanceKVTheoryParameters({ ...ok, epsilon: 0 })).toThrow(InvalidParamsError);
    expect(() => deriveBalanceKVTheoryParameters({ ...ok, radius: -1 })).toThrow(InvalidParamsError);
    expect(() => deriveBalanceKVTheoryParameters({ ...ok, delta: 1 })).toThrow(InvalidParamsError);
    expect(() => deriveBalanceKVTheoryParameters({ ...ok, horizon: 1.5 })).toThrow(InvalidParamsError);
  });
});

describe('balancekv-theory guarantee', () => {
  // The theorem with the derived block sizes on streams inside its assumption ||k||, ||q|| ≤ r,
  // without a horizon (doubling epochs). d = 2, s = 1 and ρ = 0.1 keep the O(t²) walks affordable:
  // the first epoch is N₀ = 2048 tokens with t ≈ 700, the second 4096 with t ≈ 1100, so a
  // 4096-token stream makes the instances halve in both. Claim: for each fixed query, w.p. ≥ 1−δ
  // (δ = 0.1), normalised error ≤ ε = 1. Over 2 seeds × 48 queries = 96 trials we allow a failure
  // fraction of δ + 3·√(δ(1−δ)/96) ≈ 0.19.
  it('normalised error ≤ ε for ≥ 1−δ of queries and seeds, at n = 4096 with no horizon given', () => {
    const d = 2;
    const tau = 0.1;
    const r = 1;
    const n = 4096;
    const epsilon = 1;
    const delta = 0.1;
    const queries = 48;
    let failures = 0;
    let trials = 0;
    let worst = 0;
    for (const seed of [1, 2]) {
      const spec = { policy: 'balancekv-theory', keyDim: d, valueDim: 1, tau, seed, params: { epsilon, radius: r, delta, strict: true } };
      const cache = registry.create(spec) as BalanceKVTheory;
      const exact = new ExactCache({ ...spec, policy: 'exact' });
      expect(cache.firstEpoch).toBe(2048);
      expect(cache.blockSize).toBeLessThan(1024);
      const rng = new Rng(100 + seed);
      const k = new Float32Array(d);
      const v = new Float32Array(1);
      for (let i = 0; i < n; i++) {
        pointInBall(rng, d, r, k);
        v[0] = 1 + 0.9 * rng.uniform();
        cache.append(k, v);
        exact.append(k, v);
      }
      expect(cache.epochCount).toBe(2);
      // epoch k is derived for its own length with failure probability δ/2^{k+1}
      const derive = (horizon: number, share: number) => deriveBalanceKVTheoryParameters({ epsilon, radius: r, delta: delta * share, horizon, valueDim: 1, tau }).blockSize;
      expect(cache.epochBlocks).toEqual([derive(2048, 1 / 2), derive(4096, 1 / 4)]);
      expect(cache.halvings).toBeGreaterThanOrEqual(6); // every instance really compressed
      expect(cache.stored).toBeLessThan(2 * n * 0.8); // keys are held twice (N and Z instances)
      expect(cache.walkFailures).toBe(0);
      const got = new Float32Array(1);
      const want = new Float32Array(1);
      const q = new Float32Array(d);
      for (let t = 0; t < queries; t++) {
        pointInBall(rng, d, r, q);
        cache.attend(q, got);
        exact.attend(q, want);
        const e = Math.abs(got[0]! - want[0]!) / (exact.softmaxNorm(q) * exact.valueFrobeniusNorm);
        worst = Math.max(worst, e);
        trials++;
        if (e > epsilon) failures++;
      }
    }
    expect(failures / trials).toBeLessThanOrEqual(delta + 3 * Math.sqrt((delta * (1 - delta)) / trials));
    expect(worst).toBeLessThan(epsilon);
  });

  it('strict mode refuses keys and queries beyond r and tokens past the horizon, state unchanged', () => {
    const cache = registry.create({ policy: 'balancekv-theory', keyDim: 3, valueDim: 2, params: { radius: 1, horizon: 4, blockSize: 2, strict: true } });
    cache.append(new Float32Array([0.5, 0, 0]), new Float32Array([1, 1]));
    const before = [cache.seen, cache.stored, cache.bytes];
    expect(() => cache.append(new Float32Array([2, 0, 0]), new Float32Array([1, 1]))).toThrow(AssumptionViolatedError);
    expect([cache.seen, cache.stored, cache.bytes]).toEqual(before);
    expect(() => cache.attend(new Float32Array([0, 3, 0]), new Float32Array(2))).toThrow(AssumptionViolatedError);
    for (let i = 0; i < 3; i++) cache.append(new Float32Array([0, 0.5, 0]), new Float32Array([1, 0]));
    expect(() => cache.append(new Float32Array([0, 0.5, 0]), new Float32Array([1, 0]))).toThrow(AssumptionViolatedError);
    expect(cache.seen).toBe(4);
  });

  it('by default accepts out-of-radius input, counts it, and stays finite (guarantee void)', () => {
    const cache = registry.create({ policy: 'balancekv-theory', keyDim: 4, valueDim: 2, params: { radius: 1, blockSize: 8 } }) as BalanceKVTheory;
    const rng = new Rng(4);
    for (let i = 0; i < 100; i++) cache.append(rng.fillGaussian(new Float32Array(4), 3), rng.fillGaussian(new Float32Array(2)));
    const out = cache.attend(rng.fillGaussian(new Float32Array(4), 3), new Float32Array(2));
    expect(cache.violations).toBeGreaterThan(0);
    for (const x of out) expect(Number.isFinite(x)).toBe(true);
  });

  it('holds its tokens exactly, in epochs from 1024 tokens, when the theorem allows no compression (ρ = 35), and snapshots', () => {
    const spec = { policy: 'balancekv-theory', keyDim: 8, valueDim: 8, params: { radius: 10 } };
    const cache = registry.create(spec) as BalanceKVTheory;
    expect(cache.firstEpoch).toBe(1024);
    const exact = new ExactCache({ policy: 'exact', keyDim: 8, valueDim: 8 });
    const rng = new Rng(5);
    for (let i = 0; i < 1100; i++) {
      const k = pointInBall(rng, 8, 10, new Float32Array(8));
      const v = rng.fillGaussian(new Float32Array(8));
      cache.append(k, v);
      exact.append(k, v);
    }
    expect(cache.epochBlocks).toEqual([1026, 2050]);
    expect(cache.halvings).toBe(0);
    const q = pointInBall(rng, 8, 10, new Float32Array(8));
    const a = cache.attend(q, new Float32Array(8));
    const b = exact.attend(q, new Float32Array(8));
    for (let j = 0; j < 8; j++) expect(a[j]).toBeCloseTo(b[j]!, 4);
    checkSnapshotRoundTrip(registry, spec, { steps: 64, at: 0, seed: 0 });
  });

  it('rejects an odd blockSize and a missing radius with typed errors', () => {
    expect(() => registry.create({ policy: 'balancekv-theory', keyDim: 2, valueDim: 1, params: { radius: 1, blockSize: 7 } })).toThrow(InvalidParamsError);
    expect(() => registry.create({ policy: 'balancekv-theory', keyDim: 2, valueDim: 1 })).toThrow(InvalidParamsError);
  });
});
