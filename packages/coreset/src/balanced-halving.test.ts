import { InvalidParamsError, Rng } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BalancedHalving } from './balanced-halving.js';
import { halveBatch, RowBatch } from './row-batch.js';

function randomBatch(seed: number, n: number, d: number, s: number, shift = 0, levels?: (i: number) => number): RowBatch {
  const rng = new Rng(seed);
  const b = new RowBatch(d, s, n);
  const k = new Float64Array(d);
  const v = new Float64Array(s);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) k[j] = rng.gaussian() + shift;
    for (let j = 0; j < s; j++) v[j] = rng.gaussian();
    b.push(k, 0, v, 0, i, levels ? levels(i) : 0);
  }
  return b;
}

describe('BalancedHalving', () => {
  it('keeps exactly ⌊n/2⌋ rows, ascending, and doubles their weights', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 80 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 4 }), fc.integer(), (n, d, s, seed) => {
        const batch = randomBatch(seed, n, d, s, 0, (i) => i % 3);
        const before = Array.from(batch.levels.subarray(0, n), (l) => 2 ** l);
        const keep = new Int32Array(n);
        const kept = halveBatch(new BalancedHalving({ tau: 1 / Math.sqrt(d) }), batch, new Rng(seed), keep);
        expect(kept).toBe(Math.floor(n / 2));
        for (let i = 1; i < kept; i++) expect(keep[i]!).toBeGreaterThan(keep[i - 1]!);
        for (let i = 0; i < kept; i++) expect(2 ** batch.levels[i]!).toBe(2 * before[keep[i]!]!);
      }),
      { numRuns: 60 },
    );
  });

  // The doubled half is unbiased: every row is kept with probability 1/2. Over 400 seeds each row's
  // keep count is Binomial(400, 1/2) (sd 10); we allow 4.5 sd (a fixed first sign keeps some rows
  // every time). The second batch (a tight key cluster, values ±1) makes the walk balance Σ η_i v_i
  // rather than the class sizes, so the classes must be evened out with random rows.
  it('keeps every row with probability 1/2 (an unbiased halving)', () => {
    const n = 24;
    const tight = new RowBatch(2, 1, n);
    const rng = new Rng(8);
    for (let i = 0; i < n; i++) tight.push([1 + 0.01 * rng.gaussian(), 0.01 * rng.gaussian()], 0, [i % 2 ? -1 : 1], 0, i, 0);
    for (const batch of [randomBatch(3, n, 3, 2), tight]) {
      const counts = new Int32Array(n);
      const keep = new Int32Array(n);
      for (let seed = 0; seed < 400; seed++) {
        const kept = new BalancedHalving({ tau: 0.5 }).select(batch, new Rng(seed), keep);
        for (let i = 0; i < kept; i++) counts[keep[i]!]!++;
      }
      for (const c of counts) expect(Math.abs(c - 200)).toBeLessThanOrEqual(45);
    }
  });

  it('is invariant to a shift common to every key of the batch (block centring)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.double({ min: -5, max: 5, noNaN: true }), fc.integer(), (n, shift, seed) => {
        const a = randomBatch(seed, n, 4, 3);
        const b = randomBatch(seed, n, 4, 3, shift);
        const ka = new Int32Array(n);
        const kb = new Int32Array(n);
        const h = new BalancedHalving({ tau: 0.5 });
        const na = h.select(a, new Rng(seed), ka);
        const nb = h.select(b, new Rng(seed), kb);
        // Float32 rounding of the shifted keys may flip a near-tie, so compare most of the choice.
        let same = 0;
        const set = new Set(ka.subarray(0, na));
        for (const i of kb.subarray(0, nb)) if (set.has(i)) same++;
        expect(na).toBe(nb);
        expect(same).toBeGreaterThanOrEqual(Math.floor(0.8 * na));
      }),
      { numRuns: 30 },
    );
  });

  it('large batches (no Gram scratch) also keep exactly half', () => {
    const batch = randomBatch(5, 601, 3, 2);
    const keep = new Int32Array(601);
    expect(halveBatch(new BalancedHalving({ tau: 0.5 }), batch, new Rng(5), keep)).toBe(300);
    for (let i = 0; i < 300; i++) expect(batch.levels[i]).toBe(1);
  });

  it('stays well-defined for keys of norm 1e4', () => {
    const b = new RowBatch(2, 1, 8);
    for (let i = 0; i < 8; i++) b.push([1e4 * Math.cos(i), 1e4 * Math.sin(i)], 0, [1], 0, i, 0);
    expect(new BalancedHalving({ tau: 1 }).select(b, new Rng(1), new Int32Array(8))).toBe(4);
  });

  it('rejects bad options with typed errors', () => {
    expect(() => new BalancedHalving({ tau: -1 })).toThrow(InvalidParamsError);
    expect(() => new BalancedHalving({ tau: 1, gamma: -1 })).toThrow(InvalidParamsError);
    expect(() => new BalancedHalving({ tau: 1, valueConstant: Number.NaN })).toThrow(InvalidParamsError);
  });
});
