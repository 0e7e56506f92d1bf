import { createKernelSums, InvalidParamsError, type KernelSums, Rng, type SlotStore, StateReader, stateBytes } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BalancedHalving } from './balanced-halving.js';
import { MergeAndReduce, type RowKernel } from './merge-and-reduce.js';
import { SoftmaxBalance, softmaxBalanceBound } from './softmax-balance.js';

describe('MergeAndReduce', () => {
  it('holds ≤ t·(log2(n/t)+2) rows at every step (n ≥ t, else n) and weights sum to n exactly', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(2, 4, 8, 16, 32),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        (t, n, d, seed) => {
          const rng = new Rng(seed);
          const mr = new MergeAndReduce(d, 2, new BalancedHalving({ tau: 0.5 }), seed + 1, { blockSize: t });
          const k = new Float32Array(d);
          const v = new Float32Array(2);
          for (let i = 1; i <= n; i++) {
            rng.fillGaussian(k);
            rng.fillGaussian(v);
            mr.push(k, 0, v, 0, i);
            const bound = i < t ? i : t * (Math.log2(i / t) + 2);
            expect(mr.stored).toBeLessThanOrEqual(bound);
            expect(mr.totalWeight).toBe(i);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('with SoftmaxBalance (smaller class) obeys the same memory bound and never gains weight', () => {
    fc.assert(
      fc.property(fc.constantFrom(4, 8, 16), fc.integer({ min: 1, max: 400 }), fc.integer(), (t, n, seed) => {
        const rng = new Rng(seed);
        const mr = new MergeAndReduce(2, 1, new SoftmaxBalance({ tau: 0.5 }), seed + 1, { blockSize: t });
        const k = new Float32Array(2);
        const v = new Float32Array(1);
        for (let i = 1; i <= n; i++) {
          rng.fillGaussian(k);
          v[0] = 1 + rng.uniform();
          mr.push(k, 0, v, 0, i);
          expect(mr.stored).toBeLessThanOrEqual(i < t ? i : t * (Math.log2(i / t) + 2));
          expect(mr.totalWeight).toBeLessThanOrEqual(i);
        }
      }),
      { numRuns: 30 },
    );
  });

  // Chain step of the theorem: the accumulated error of Z̃ is at most Σ_h w_h·B (B the one-halving
  // bound for the whole stream's R, w_h the input weight of halving h) unless one of the H
  // halvings' events fails (probability ≤ H·(δ + δ')). With δ = δ' = 0.01/H per halving the failure
  // rate is ≤ 0.02 per trial; over 60 trials we allow 0.02·60 + 3·√(60·0.02·0.98) ≈ 4.5 failures.
  it('denominator error stays within Σ_h w_h·(one-halving bound) in ≥ 1−δ of trials', () => {
    const d = 3;
    const tau = 1 / Math.sqrt(d);
    const t = 32;
    const n = 512;
    const trials = 60;
    const H = 2 * Math.ceil(n / t);
    const per = 0.01 / H;
    let failures = 0;
    let worst = 0;
    for (let trial = 0; trial < trials; trial++) {
      const rng = new Rng(1000 + trial);
      const mr = new MergeAndReduce(d, 0, new SoftmaxBalance({ tau, delta: per, unitValues: true }), trial, { blockSize: t });
      const keys = new Float32Array(n * d);
      let maxK = 0;
      for (let i = 0; i < n; i++) {
        let nn = 0;
        for (let j = 0; j < d; j++) {
          keys[i * d + j] = rng.gaussian() * 0.8;
          nn += keys[i * d + j]! ** 2;
        }
        maxK = Math.max(maxK, nn);
        mr.push(keys, i * d, keys, 0, i);
      }
      const q = rng.fillGaussian(new Float32Array(d), 0.8);
      let exact = 0;
      for (let i = 0; i < n; i++) {
        let l = 0;
        for (let j = 0; j < d; j++) l += keys[i * d + j]! * q[j]!;
        exact += Math.exp(l * tau);
      }
      const sums = mr.sums(q, tau, createKernelSums(0));
      const est = sums.z * Math.exp(sums.m);
      const B = softmaxBalanceBound({ n: t, s: 1, delta: per, tailDelta: per, tau, queryNorm: Math.hypot(...q), featureRadius: Math.exp((maxK * tau) / 2) });
      const err = Math.abs(est - exact);
      worst = Math.max(worst, err / (mr.halvedWeight * B));
      if (err > mr.halvedWeight * B) failures++;
    }
    expect(failures).toBeLessThanOrEqual(0.02 * trials + 3 * Math.sqrt(trials * 0.02 * 0.98));
    expect(worst).toBeLessThan(1);
  });

  it('lazy carry merges only on demand and respects reduceTo', () => {
    const mr = new MergeAndReduce(2, 1, new BalancedHalving({ tau: 1 }), 1, { blockSize: 8, firstHalvings: 2, carry: 'lazy' });
    const rng = new Rng(2);
    for (let i = 0; i < 64; i++) mr.push(rng.fillGaussian(new Float32Array(2)), 0, [1], 0, i);
    expect(mr.groupSlots).toBe(16); // 8 blocks → 8 groups of 2 rows, no merge yet
    mr.reduceTo(15);
    expect(mr.groupSlots).toBe(14); // two 2-row groups merged into one 2-row group
    mr.reduceTo(6);
    expect(mr.groupSlots).toBeLessThanOrEqual(6);
    expect(mr.totalWeight).toBe(64);
  });

  it('sums evaluates the raw block and the groups with the kernel option, weights included', () => {
    // κ ≡ 1 turns the sums into Σ w_i and Σ w_i·v_i; the stores seen are recorded.
    const seen: [number, boolean][] = [];
    const constant: RowKernel = {
      sums(store: SlotStore, _query: Float32Array, _tau: number, out: KernelSums): KernelSums {
        seen.push([store.count, store.weighted]);
        out.m = 0;
        out.z = 0;
        out.n.fill(0);
        const v = new Float32Array(store.s);
        for (let i = 0; i < store.count; i++) {
          const w = Math.exp(store.logWeight(i));
          out.z += w;
          out.n[0]! += w * store.readValue(i, v)[0]!;
        }
        return out;
      },
    };
    const d = 3;
    const rng = new Rng(4);
    const mr = new MergeAndReduce(d, 1, new BalancedHalving({ tau: 0.5 }), 2, { blockSize: 8, kernel: constant });
    for (let i = 0; i < 100; i++) mr.push(rng.fillGaussian(new Float32Array(d)), 0, [1], 0, i);
    const got = mr.sums(new Float32Array(d), 0.7, createKernelSums(1));
    expect(seen).toEqual([
      [mr.rawCount, false],
      [mr.groupSlots, true],
    ]);
    // Log-weights are Float32, so e^{ℓ·ln 2} is exact only to ~1e-7 relative.
    expect(got.z * Math.exp(got.m)).toBeCloseTo(100, 4);
    expect(got.n[0]! * Math.exp(got.m)).toBeCloseTo(100, 4);
  });

  it('holds exactly its rows and group sizes, and continues bit for bit from its state', () => {
    const d = 4;
    const s = 2;
    const t = 16;
    const rng = new Rng(8);
    const a = new MergeAndReduce(d, s, new SoftmaxBalance({ tau: 0.5 }), 1, { blockSize: t });
    const keys = rng.fillGaussian(new Float32Array(900 * d));
    const values = rng.fillGaussian(new Float32Array(900 * s));
    for (let i = 0; i < 500; i++) a.push(keys, i * d, values, i * s, i);
    const held = a.rawCount * (4 * (d + s) + 4) + a.groupSlots * (4 * (d + s) + 8) + 4 * a.groupTotal;
    expect(a.heldBytes).toBe(held);
    expect(stateBytes(a.state())).toBe(held);
    const b = new MergeAndReduce(d, s, new SoftmaxBalance({ tau: 0.5 }), 99, { blockSize: t });
    b.loadState(new StateReader(a.state(), 'mr'));
    const q = new Float32Array([0.3, -1, 0.5, 2]);
    for (let i = 500; i < 900; i++) {
      a.push(keys, i * d, values, i * s, i);
      b.push(keys, i * d, values, i * s, i);
      if (i % 50 === 0) a.reduceTo(40, true), b.reduceTo(40, true);
      const x = a.sums(q, 0.5, createKernelSums(s));
      const y = b.sums(q, 0.5, createKernelSums(s));
      expect([y.m, y.z, ...y.n]).toEqual([x.m, x.z, ...x.n]);
    }
    expect(b.heldBytes).toBe(a.heldBytes);
    expect(() => new MergeAndReduce(d, s, new SoftmaxBalance({ tau: 0.5 }), 1, { blockSize: t, groupRows: 3 })).toThrow(InvalidParamsError);
  });

  it('compressOnce halves the lightest rows first', () => {
    const mr = new MergeAndReduce(2, 1, new BalancedHalving({ tau: 0.5 }), 4, { blockSize: 8, firstHalvings: 0, carry: 'lazy' });
    const rng = new Rng(3);
    const push = (k: number) => {
      for (let i = 0; i < k; i++) mr.push(rng.fillGaussian(new Float32Array(2)), 0, rng.fillGaussian(new Float32Array(1)), 0, i);
    };
    push(8); // one weight-1 group of 8
    mr.compressOnce(); // → one weight-2 group of 4
    expect(mr.topLevel).toBe(1);
    push(8); // a weight-1 group of 8 beside it
    mr.compressOnce(); // the weight-1 group is halved, not the weight-2 one
    expect(mr.topLevel).toBe(1);
    expect(mr.stored).toBe(8);
    expect(mr.totalWeight).toBe(16);
  });

  it('compressOnce frees rows lowest weight first, down to nothing', () => {
    const mr = new MergeAndReduce(3, 2, new BalancedHalving({ tau: 0.5 }), 4, { blockSize: 8, firstHalvings: 0, carry: 'lazy' });
    const rng = new Rng(2);
    for (let i = 0; i < 60; i++) mr.push(rng.fillGaussian(new Float32Array(3)), 0, rng.fillGaussian(new Float32Array(2)), 0, i);
    expect(mr.stored).toBe(60);
    expect(mr.totalWeight).toBe(60);
    while (mr.stored > 20) expect(mr.compressOnce()).toBeGreaterThan(0);
    expect(mr.totalWeight).toBe(60); // equal-weight halvings only so far
    expect(mr.mixedHalvings).toBe(0);
    while (mr.stored > 0) expect(mr.compressOnce()).toBeGreaterThan(0);
    expect(mr.compressOnce()).toBe(0);
    expect(mr.droppedWeight).toBeGreaterThan(0);
  });

  it('rejects bad block sizes with typed errors', () => {
    const h = new BalancedHalving({ tau: 1 });
    expect(() => new MergeAndReduce(2, 1, h, 1, { blockSize: 7 })).toThrow(InvalidParamsError);
    expect(() => new MergeAndReduce(2, 1, h, 1, { blockSize: 12, firstHalvings: 3 })).toThrow(InvalidParamsError);
  });
});
