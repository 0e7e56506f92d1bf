import { createKernelSums, ExactCache, InvalidParamsError, Rng } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimHash } from './family.js';
import { HashingBasedEstimator, hbeRelativeVarianceBound } from './hbe.js';

interface Dataset {
  d: number;
  n: number;
  keys: Float32Array;
  values: Float32Array;
  query: Float32Array;
  z: number;
  n0: number;
}

/** Keys of norm ≤ r around a few directions (clustered like attention keys), one query. */
function dataset(seed: number, d: number, n: number, r: number): Dataset {
  const rng = new Rng(seed);
  const keys = new Float32Array(n * d);
  const values = rng.fillGaussian(new Float32Array(n));
  const centers = rng.fillGaussian(new Float32Array(4 * d));
  for (let i = 0; i < n; i++) {
    const c = rng.int(4);
    let norm = 0;
    for (let j = 0; j < d; j++) {
      const v = centers[c * d + j]! + 0.7 * rng.gaussian();
      keys[i * d + j] = v;
      norm += v * v;
    }
    const f = (r * (0.5 + 0.5 * rng.uniform())) / Math.sqrt(norm);
    for (let j = 0; j < d; j++) keys[i * d + j]! *= f;
  }
  const query = centers.slice(0, d);
  let qn = 0;
  for (const v of query) qn += v * v;
  for (let j = 0; j < d; j++) query[j]! *= r / Math.sqrt(qn);
  const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: 1, tau: 1 / Math.sqrt(d) });
  exact.prefill(keys, values);
  const s = exact.sums(query, createKernelSums(1));
  return { d, n, keys, values, query, z: s.z * Math.exp(s.m), n0: s.n[0]! * Math.exp(s.m) };
}

function estimate(ds: Dataset, seed: number, tables: number, groups: number, bits: number): { z: number; n: number } {
  const hbe = new HashingBasedEstimator({ keyDim: ds.d, valueDim: 1, tables, groups, seed, family: { kind: 'simhash', hashes: bits } });
  for (let i = 0; i < ds.n; i++) hbe.add(ds.keys.subarray(i * ds.d, (i + 1) * ds.d), ds.values.subarray(i, i + 1));
  const s = hbe.sums(ds.query, createKernelSums(1));
  return { z: s.z * Math.exp(s.m), n: s.n[0]! * Math.exp(s.m) };
}

describe('hashing-based estimator', () => {
  const SEEDS = 300;

  it('is unbiased for Z and N: mean over seeds within 4.5 standard errors of the exact sums', () => {
    fc.assert(
      fc.property(fc.nat(1e6), fc.integer({ min: 1, max: 4 }), fc.constantFrom(1, 2, 4), (seed, bits, tables) => {
        const ds = dataset(seed, 12, 120, 3);
        const zs: number[] = [];
        const ns: number[] = [];
        for (let s = 0; s < SEEDS; s++) {
          const e = estimate(ds, seed * 1000 + s, tables, 1, bits);
          zs.push(e.z / ds.z);
          ns.push(e.n / ds.z);
        }
        for (const [xs, want] of [[zs, 1], [ns, ds.n0 / ds.z]] as const) {
          const mean = xs.reduce((a, b) => a + b, 0) / SEEDS;
          const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (SEEDS - 1));
          expect(Math.abs(mean - want)).toBeLessThanOrEqual((4.5 * sd) / Math.sqrt(SEEDS) + 1e-9);
        }
      }),
      { numRuns: 6 },
    );
  });

  it('has per-table variance below the stated bound Σ f_i² min(p_i,p_j)/p_i² − Z²', () => {
    fc.assert(
      fc.property(fc.nat(1e6), fc.integer({ min: 1, max: 5 }), (seed, bits) => {
        const ds = dataset(seed, 12, 100, 3);
        const bound = hbeRelativeVarianceBound(ds.query, ds.keys, ds.n, 1 / Math.sqrt(ds.d), new SimHash(ds.d, bits, new Rng(0)));
        const zs: number[] = [];
        for (let s = 0; s < SEEDS; s++) zs.push(estimate(ds, seed * 7919 + s, 1, 1, bits).z / ds.z);
        const mean = zs.reduce((a, b) => a + b, 0) / SEEDS;
        const variance = zs.reduce((a, b) => a + (b - mean) ** 2, 0) / (SEEDS - 1);
        // Sample variance of 300 draws: allow a 40% chi-square-style margin above the bound.
        expect(variance).toBeLessThanOrEqual(bound * 1.4);
      }),
      { numRuns: 6 },
    );
  });

  it('has, for SimHash, the exact variance Σ f_i² P(i,j ∈ B)/p_i² − Z² (within 5 standard errors)', () => {
    // A random hyperplane separates three vectors with probability (θ_qi + θ_qj + θ_ij)/(2π), so
    // P(i, j both in q's cell) = (1 − (θ_qi + θ_qj + θ_ij)/(2π))^k exactly.
    fc.assert(
      fc.property(fc.nat(1e6), fc.integer({ min: 1, max: 4 }), (seed, bits) => {
        const ds = dataset(seed, 12, 60, 2.5);
        const d = ds.d;
        const tau = 1 / Math.sqrt(d);
        const angle = (a: Float32Array, ao: number, b: Float32Array, bo: number): number => {
          let ab = 0;
          let aa = 0;
          let bb = 0;
          for (let j = 0; j < d; j++) {
            ab += a[ao + j]! * b[bo + j]!;
            aa += a[ao + j]! ** 2;
            bb += b[bo + j]! ** 2;
          }
          return Math.acos(Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb))));
        };
        const f: number[] = [];
        const thq: number[] = [];
        for (let i = 0; i < ds.n; i++) {
          let dot = 0;
          for (let j = 0; j < d; j++) dot += ds.keys[i * d + j]! * ds.query[j]!;
          f.push(Math.exp(tau * dot));
          thq.push(angle(ds.keys, i * d, ds.query, 0));
        }
        const z = f.reduce((a, b) => a + b, 0);
        let second = 0;
        for (let i = 0; i < ds.n; i++) {
          const pi = (1 - thq[i]! / Math.PI) ** bits;
          for (let j = 0; j < ds.n; j++) {
            const pij = i === j ? pi : (1 - (thq[i]! + thq[j]! + angle(ds.keys, i * d, ds.keys, j * d)) / (2 * Math.PI)) ** bits;
            second += ((f[i]! * f[i]!) / (pi * pi)) * pij;
          }
        }
        const exactVar = second / (z * z) - 1;
        const R = 400;
        const zs: number[] = [];
        for (let s = 0; s < R; s++) zs.push(estimate(ds, seed * 31 + s, 1, 1, bits).z / ds.z);
        const mean = zs.reduce((a, b) => a + b, 0) / R;
        const v = zs.reduce((a, b) => a + (b - mean) ** 2, 0) / (R - 1);
        const m4 = zs.reduce((a, b) => a + (b - mean) ** 4, 0) / R;
        const se = Math.sqrt(Math.max(0, m4 - v * v) / R);
        expect(Math.abs(v - exactVar)).toBeLessThanOrEqual(5 * se + 1e-9);
      }),
      { numRuns: 5 },
    );
  });

  it('median of means is within 1 ± ε of Z with failure rate ≤ e^{−G/8} + binomial margin', () => {
    const ds = dataset(11, 12, 120, 3);
    const eps = 0.5;
    const bits = 2;
    const bound = hbeRelativeVarianceBound(ds.query, ds.keys, ds.n, 1 / Math.sqrt(ds.d), new SimHash(ds.d, bits, new Rng(0)));
    const tables = Math.ceil((4 * bound) / (eps * eps));
    const groups = 16;
    const delta = Math.exp(-groups / 8);
    const trials = 120;
    let failures = 0;
    for (let s = 0; s < trials; s++) {
      const e = estimate(ds, 50_000 + s, tables, groups, bits);
      if (Math.abs(e.z / ds.z - 1) > eps) failures++;
    }
    expect(failures / trials).toBeLessThanOrEqual(delta + 3 * Math.sqrt((delta * (1 - delta)) / trials));
  });

  // The median of near-Gaussian group means is centred on Z: over 60 seeds the mean of the
  // estimate is within 0.1 of Z (groups of 4·bound/ε² tables have relative sd ≤ ε/2 = 0.25; the
  // smallest of 16 such groups would sit near 1 − 1.77·0.25 ≈ 0.56).
  it('median of means is centred on Z (not a low or high order statistic of the groups)', () => {
    const ds = dataset(11, 12, 120, 3);
    const bits = 2;
    const bound = hbeRelativeVarianceBound(ds.query, ds.keys, ds.n, 1 / Math.sqrt(ds.d), new SimHash(ds.d, bits, new Rng(0)));
    const tables = Math.ceil((4 * bound) / 0.25);
    let mean = 0;
    for (let s = 0; s < 60; s++) mean += estimate(ds, 70_000 + s, tables, 16, bits).z / ds.z / 60;
    expect(Math.abs(mean - 1)).toBeLessThanOrEqual(0.1);
  });

  it('hbeRelativeVarianceBound computes Σ_i Σ_j f_i²·min(p_i, p_j)/p_i² / Z² − 1 (checked against the O(n²) sum)', () => {
    for (const seed of [1, 2, 3]) {
      const ds = dataset(seed, 6, 50, 2);
      const tau = 1 / Math.sqrt(ds.d);
      const family = new SimHash(ds.d, 3, new Rng(seed));
      const f: number[] = [];
      const p: number[] = [];
      const qn = Math.hypot(...ds.query);
      for (let i = 0; i < ds.n; i++) {
        const k = ds.keys.subarray(i * ds.d, (i + 1) * ds.d);
        let dot = 0;
        for (let j = 0; j < ds.d; j++) dot += k[j]! * ds.query[j]!;
        f.push(Math.exp(tau * dot));
        p.push(family.collisionProbability(dot / (qn * Math.hypot(...k))));
      }
      let second = 0;
      for (let i = 0; i < ds.n; i++) for (let j = 0; j < ds.n; j++) second += (f[i]! ** 2 * Math.min(p[i]!, p[j]!)) / p[i]! ** 2;
      const z = f.reduce((a, b) => a + b, 0);
      const want = second / (z * z) - 1;
      expect(hbeRelativeVarianceBound(ds.query, ds.keys, ds.n, tau, family)).toBeCloseTo(want, 8);
    }
  });

  it('is deterministic per seed, stays finite at norm 1e4, and rejects bad options', () => {
    const ds = dataset(3, 8, 40, 1e4);
    const a = estimate(ds, 9, 4, 3, 3);
    const b = estimate(ds, 9, 4, 3, 3);
    expect(a).toEqual(b);
    const hbe = new HashingBasedEstimator({ keyDim: 8, valueDim: 1, seed: 1 });
    for (let i = 0; i < ds.n; i++) hbe.add(ds.keys.subarray(i * 8, (i + 1) * 8), ds.values.subarray(i, i + 1));
    const s = hbe.sums(ds.query, createKernelSums(1));
    expect(Number.isFinite(s.m) && Number.isFinite(s.z) && Number.isFinite(s.n[0]!)).toBe(true);
    expect(() => new HashingBasedEstimator({ keyDim: 8, valueDim: 1, tables: 0 })).toThrow(InvalidParamsError);
    expect(() => new HashingBasedEstimator({ keyDim: 8, valueDim: 1, groups: 1.5 })).toThrow(InvalidParamsError);
  });
});
