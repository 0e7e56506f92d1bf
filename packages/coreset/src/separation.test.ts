import { createKernelSums, Rng } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { BalancedHalving } from './balanced-halving.js';
import { MergeAndReduce } from './merge-and-reduce.js';
import { RandomHalving } from './random-halving.js';
import { type Halver, RowBatch } from './row-batch.js';
import { SoftmaxBalance, softmaxBalanceBound, walkConstant } from './softmax-balance.js';

// Tests that a broken halving fails: each compares an algorithm with the variant a bug would turn
// it into (fair coins instead of the walk's signs, a random half instead of a balanced one) on
// inputs where the two separate, with fixed seeds and the median over trials and queries.

const median = (xs: number[]): number => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? a[a.length >> 1]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2;
};

/** SoftmaxBalance with its walk replaced by fair coins (what a random-signs bug does). */
const coins: Halver = {
  select(batch, rng, keep) {
    const n = batch.count;
    const signs = new Int8Array(n);
    let plus = 0;
    for (let i = 0; i < n; i++) {
      signs[i] = rng.uniform() < 0.5 ? 1 : -1;
      if (signs[i]! > 0) plus++;
    }
    const keepSign = plus <= n - plus ? 1 : -1;
    let kept = 0;
    for (let i = 0; i < n; i++) if (signs[i] === keepSign) keep[kept++] = i;
    return kept;
  },
};

// Keys in `clusters` tight balls (radius `spread`) around points of norm `radius`.
function clustered(seed: number, n: number, d: number, clusters: number, radius: number, spread: number): RowBatch {
  const rng = new Rng(seed);
  const centres = Array.from({ length: clusters }, () => {
    const c = rng.fillGaussian(new Float32Array(d));
    const f = radius / Math.hypot(...c);
    return c.map((x) => x * f);
  });
  const batch = new RowBatch(d, 1, n);
  const k = new Float32Array(d);
  for (let i = 0; i < n; i++) {
    const c = centres[rng.int(clusters)]!;
    for (let j = 0; j < d; j++) k[j] = c[j]! + spread * rng.gaussian();
    batch.push(k, 0, [1], 0, i, 0);
  }
  return batch;
}

// |Σ_kept 2·e^{<k_i,q>τ} − Σ_all e^{<k_i,q>τ}|: the error a halving adds to Z for query q.
function zError(batch: RowBatch, keep: Int32Array, kept: number, q: Float32Array, tau: number): number {
  const d = batch.d;
  const inKeep = new Uint8Array(batch.count);
  for (let i = 0; i < kept; i++) inKeep[keep[i]!] = 1;
  let e = 0;
  for (let i = 0; i < batch.count; i++) {
    let l = 0;
    for (let j = 0; j < d; j++) l += batch.keys[i * d + j]! * q[j]!;
    e += (inKeep[i] ? 1 : -1) * Math.exp(l * tau);
  }
  return Math.abs(e);
}

function unitQueries(seed: number, count: number, d: number, norm: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const q = rng.fillGaussian(new Float32Array(d));
    const f = norm / Math.hypot(...q);
    return q.map((x) => x * f);
  });
}

function halvingErrors(halver: Halver, batches: RowBatch[], queries: Float32Array[], tau: number, seed: number): number[] {
  const errors: number[] = [];
  batches.forEach((batch, b) => {
    const keep = new Int32Array(batch.count);
    const kept = halver.select(batch, new Rng(seed + b), keep);
    for (const q of queries) errors.push(zError(batch, keep, kept, q, tau));
  });
  return errors;
}

const rms = (xs: number[]): number => Math.sqrt(xs.reduce((a, x) => a + x * x, 0) / xs.length);

describe('halvings that a broken variant cannot pass', () => {
  // With the theorem's constant c = 30·ln(n/δ) ≈ 350 the walk's drift y/(2c) is weak: on keys spread
  // over a ball its signs are as good as coins until n ≈ c² (measured: ratio 0.95 at n = 4096).
  // On strongly correlated features (a tight cluster, so every kernel entry is close to its row's)
  // y would grow like a random walk, √n, and the walk holds it near √(c/2) instead. With n = 2048
  // and δ = 0.5 (c = 30·ln(n/δ) ≈ 250): ≈ 12 against √2048 ≈ 45. The imbalance of one batch is one
  // draw, so we compare the root-mean-square over 12 batches (a median of so few draws is too
  // noisy): at most half the coins'.
  it('SoftmaxBalance: Z discrepancy on a tight cluster ≤ 0.5× that of fair coins (the random-signs bug)', () => {
    const tau = 1;
    const batches = Array.from({ length: 12 }, (_, i) => clustered(i + 1, 2048, 2, 1, 1, 0.02));
    const queries = unitQueries(9, 2, 2, 1);
    const walk = halvingErrors(new SoftmaxBalance({ tau, delta: 0.5, unitValues: true }), batches, queries, tau, 100);
    const random = halvingErrors(coins, batches, queries, tau, 100);
    expect(rms(walk)).toBeLessThanOrEqual(0.5 * rms(random));
    // and the theorem's bound holds for the walk on the same inputs (it is loose)
    const bound = softmaxBalanceBound({ n: 2048, s: 1, delta: 0.5, tailDelta: 0.01, tau, queryNorm: 1, featureRadius: Math.exp((1.1 * 1.1 * tau) / 2) });
    expect(Math.max(...walk)).toBeLessThan(bound);
  });

  // The walk balances the weighted features w_i·φ(k_i)·v_i. Two cases where a walk that loses part
  // of them balances the wrong sum: rows of weights 1 and 16 (a walk blind to earlier rows'
  // weights evens out their count, leaving Σ η_i w_i a random walk), and values ±1 (a walk blind to
  // values evens out the keys, leaving Σ η_i v_i one). Root-mean-square over 16 tight clusters
  // around the query's direction (so every batch has the same kernel scale).
  for (const [name, level, value] of [
    ['weights 1 and 16', (i: number) => ((i * 7919) % 3 === 0 ? 4 : 0), () => 1],
    ['values ±1', () => 0, (i: number) => ((i * 7919) % 2 === 0 ? 1 : -1)],
  ] as const) {
    it(`SoftmaxBalance: weighted discrepancy with ${name} ≤ 0.5× that of fair coins`, () => {
      const tau = 1;
      const q = new Float32Array([0.6, 0.8]);
      const walk: number[] = [];
      const random: number[] = [];
      for (let b = 0; b < 16; b++) {
        const rng = new Rng(b + 40);
        const batch = new RowBatch(2, 1, 2048);
        for (let i = 0; i < 2048; i++) batch.push([q[0]! + 0.02 * rng.gaussian(), q[1]! + 0.02 * rng.gaussian()], 0, [value(i)], 0, i, level(i));
        for (const [out, halver] of [[walk, new SoftmaxBalance({ tau, delta: 0.5 })], [random, coins]] as const) {
          const keep = new Int32Array(2048);
          const kept = halver.select(batch, new Rng(300 + b), keep);
          const inKeep = new Uint8Array(2048);
          for (let i = 0; i < kept; i++) inKeep[keep[i]!] = 1;
          let e = 0;
          for (let i = 0; i < 2048; i++) {
            const f = 2 ** batch.levels[i]! * Math.exp(tau * (batch.keys[2 * i]! * q[0]! + batch.keys[2 * i + 1]! * q[1]!)) * batch.values[i]!;
            e += (inKeep[i] ? 1 : -1) * f;
          }
          out.push(Math.abs(e));
        }
      }
      expect(rms(walk)).toBeLessThanOrEqual(0.5 * rms(random));
    });
  }

  // The released walk (γ = 4, unclipped) on keys spread over a ball of radius 1: an exact random
  // half errs by ~√n·e^{ρ}, the walk by a small constant (measured ×0.2 at n = 128).
  it('BalancedHalving: Z discrepancy ≤ 0.5× that of a random half on keys in a ball', () => {
    const tau = 1;
    const batches = [4, 5, 6, 7].map((seed) => {
      const rng = new Rng(seed);
      const batch = new RowBatch(2, 1, 128);
      for (let i = 0; i < 128; i++) {
        const a = 2 * Math.PI * rng.uniform();
        const r = Math.sqrt(rng.uniform());
        batch.push([r * Math.cos(a), r * Math.sin(a)], 0, [1], 0, i, 0);
      }
      return batch;
    });
    const queries = unitQueries(10, 8, 2, 1);
    const walk = median(halvingErrors(new BalancedHalving({ tau }), batches, queries, tau, 200));
    const random = median(halvingErrors(new RandomHalving(), batches, queries, tau, 200));
    expect(walk).toBeLessThanOrEqual(0.5 * random);
  });

  // The released walk with values ±1: blind to the values it would balance the keys and leave
  // Σ η_i v_i a random walk (measured ×0.23 of a random half with them). (Mixed weights are not
  // tested: MergeAndReduce halves equal-weight batches, and on the mixed ones a budget forces the
  // exact ⌊n/2⌋ count erases what weights buy: ×0.81 with them, ×0.84 without, over 12 batches.)
  for (const [name, value, limit] of [['values ±1', (i: number) => (i % 2 === 0 ? 1 : -1), 0.5]] as const) {
    it(`BalancedHalving: weighted Z·v discrepancy with ${name} ≤ ${limit}× that of a random half`, () => {
      const tau = 1;
      const queries = unitQueries(12, 8, 2, 1);
      const errors = { walk: [] as number[], random: [] as number[] };
      for (let b = 0; b < 12; b++) {
        const rng = new Rng(60 + b);
        const batch = new RowBatch(2, 1, 128);
        for (let i = 0; i < 128; i++) {
          const a = 2 * Math.PI * rng.uniform();
          const r = Math.sqrt(rng.uniform());
          batch.push([r * Math.cos(a), r * Math.sin(a)], 0, [value(i)], 0, i, 0);
        }
        for (const [which, halver] of [['walk', new BalancedHalving({ tau })], ['random', new RandomHalving()]] as const) {
          const keep = new Int32Array(128);
          const kept = halver.select(batch, new Rng(400 + b), keep);
          const inKeep = new Uint8Array(128);
          for (let i = 0; i < kept; i++) inKeep[keep[i]!] = 1;
          for (const q of queries) {
            let e = 0;
            for (let i = 0; i < 128; i++) {
              const f = 2 ** batch.levels[i]! * Math.exp(tau * (batch.keys[2 * i]! * q[0]! + batch.keys[2 * i + 1]! * q[1]!)) * batch.values[i]!;
              e += (inKeep[i] ? 1 : -1) * f;
            }
            errors[which].push(Math.abs(e));
          }
        }
      }
      expect(median(errors.walk)).toBeLessThanOrEqual(limit * median(errors.random));
    });
  }

  // MergeAndReduce (Thm 3.4) compounds the halvings: its Z error over a clustered stream is at most
  // half that of the same structure with the broken halver (blocks of 2048, 4096 tokens: two block
  // halvings and one merge each).
  for (const [name, good, bad, blockSize, n, spread] of [
    ['SoftmaxBalance vs fair coins', () => new SoftmaxBalance({ tau: 1, unitValues: true }), () => coins, 2048, 4096, 0.02],
    ['BalancedHalving vs a random half', () => new BalancedHalving({ tau: 1 }), () => new RandomHalving(), 64, 1024, 0.3],
  ] as const) {
    it(`MergeAndReduce with ${name}: Z error ≤ 0.5× on a clustered stream`, () => {
      const errors = { good: [] as number[], bad: [] as number[] };
      const queries = unitQueries(11, 4, 2, 1);
      for (const seed of [1, 2, 3]) {
        const stream = clustered(seed, n, 2, 3, 1, spread);
        for (const [which, make] of [['good', good], ['bad', bad]] as const) {
          const mr = new MergeAndReduce(2, 0, make(), seed, { blockSize });
          for (let i = 0; i < n; i++) mr.push(stream.keys, 2 * i, stream.values, 0, i);
          expect(mr.halvings).toBeGreaterThanOrEqual(3);
          for (const q of queries) {
            const got = mr.sums(q, 1, createKernelSums(0));
            let z = 0;
            for (let i = 0; i < n; i++) z += Math.exp(stream.keys[2 * i]! * q[0]! + stream.keys[2 * i + 1]! * q[1]!);
            errors[which].push(Math.abs(got.z * Math.exp(got.m) - z));
          }
        }
      }
      expect(median(errors.good)).toBeLessThanOrEqual(0.5 * median(errors.bad));
    });
  }

  it('softmaxBalanceBound is √s·λ·R·e^{||q||²τ/2} with λ = √(2c·ln(2s/δ′)) and c = 30·ln(n/δ)', () => {
    const input = { n: 500, s: 3, delta: 0.02, tailDelta: 0.05, tau: 0.7, queryNorm: 1.3, featureRadius: 2.5 };
    const c = 30 * Math.log(500 / 0.02);
    expect(walkConstant(500, 0.02)).toBeCloseTo(c, 10);
    const lambda = Math.sqrt(2 * c * Math.log((2 * 3) / 0.05));
    expect(softmaxBalanceBound(input)).toBeCloseTo(Math.sqrt(3) * lambda * 2.5 * Math.exp((1.3 * 1.3 * 0.7) / 2), 8);
  });
});
