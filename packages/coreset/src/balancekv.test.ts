import { budgetBytes, InvalidParamsError, isByteBudget, PolicyRegistry, Rng } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BalanceKV, balanceKVPolicy } from './balancekv.js';

const registry = new PolicyRegistry().register(balanceKVPolicy);

describe('balancekv', () => {
  it('keeps stored ≤ capacity and bytes ≤ budget at every step, at any budget down to a handful of tokens', () => {
    const d = 3;
    const s = 2;
    const row = 4 * (d + s);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 8 }),
        fc.constantFrom(4, 8, 16),
        fc.oneof(
          fc.integer({ min: 4, max: 80 }),
          fc.record({ bytes: fc.integer({ min: 4 * row, max: 80 * row }) }),
          fc.record({ fraction: fc.double({ min: 0.05, max: 0.5, noNaN: true }), minBytes: fc.integer({ min: 0, max: 20 * row }) }),
          fc.record({ ratio: fc.double({ min: 0.05, max: 0.5, noNaN: true }), min: fc.integer({ min: 4, max: 30 }) }),
        ),
        fc.integer({ min: 1, max: 300 }),
        fc.integer(),
        (sink, window, blockSize, budget, n, seed) => {
          const cache = registry.create({ policy: 'balancekv', keyDim: d, valueDim: s, budget, seed, params: { sink, window, blockSize } }) as BalanceKV;
          const rng = new Rng(seed);
          for (let i = 0; i < n; i++) {
            cache.append(rng.fillGaussian(new Float32Array(d)), rng.fillGaussian(new Float32Array(s)));
            expect(cache.stored).toBeLessThanOrEqual(cache.capacity);
            if (isByteBudget(budget)) expect(cache.bytes).toBeLessThanOrEqual(budgetBytes(budget, cache.seen, d, s));
            const st = cache.describe().stats;
            if (st['mixedHalvings'] === 0 && st['droppedTokens'] === 0) expect(cache.representedTokens).toBe(cache.seen);
          }
          expect(cache.positions().length).toBe(cache.stored);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('at 32 tokens shrinks its sinks, window and block to fit, says so, and stays within 32 rows', () => {
    const cache = registry.create({ policy: 'balancekv', keyDim: 4, valueDim: 4, budget: 32 }) as BalanceKV;
    expect([cache.sink, cache.window, cache.shrunk]).toEqual([8, 8, true]);
    expect(cache.blockSize).toBeLessThanOrEqual(16);
    const rng = new Rng(3);
    for (let i = 0; i < 500; i++) cache.append(rng.fillGaussian(new Float32Array(4)), rng.fillGaussian(new Float32Array(4)));
    expect(cache.stored).toBeLessThanOrEqual(32);
    const { summary, stats } = cache.describe();
    expect(summary).toContain('shrunk to fit the budget');
    expect(stats['sinks']).toBe(8);
    expect(stats['halvings']).toBeGreaterThan(10);
    // The default budgetless layout needs 192 rows; a {fraction} with a floor of 256 rows keeps it.
    const budget = { fraction: 1 / 8, minBytes: 256 * 36 };
    const roomy = registry.create({ policy: 'balancekv', keyDim: 4, valueDim: 4, budget }) as BalanceKV;
    expect([roomy.sink, roomy.window, roomy.blockSize, roomy.shrunk]).toEqual([32, 32, 128, false]);
    // blockShare 1/4: the block is a quarter of the middle's 192 floor rows.
    const quarter = registry.create({ policy: 'balancekv', keyDim: 4, valueDim: 4, budget, params: { blockShare: 0.25 } }) as BalanceKV;
    expect([quarter.sink, quarter.window, quarter.blockSize, quarter.shrunk]).toEqual([32, 32, 48, true]);
  });

  it('without a budget keeps exactly sink + window + middle/2^halvings rows at block boundaries', () => {
    const cache = registry.create({ policy: 'balancekv', keyDim: 4, valueDim: 4, params: { sink: 8, window: 8, blockSize: 32, halvings: 3 } });
    const rng = new Rng(1);
    for (let i = 0; i < 16 + 32 * 10; i++) cache.append(rng.fillGaussian(new Float32Array(4)), rng.fillGaussian(new Float32Array(4)));
    expect(cache.stored).toBe(16 + (32 * 10) / 8);
    const pos = Array.from(cache.positions!()).sort((a, b) => a - b);
    expect(pos.slice(0, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]); // sinks
    expect(pos.slice(-8)).toEqual(Array.from({ length: 8 }, (_, i) => 16 + 320 - 8 + i)); // window
  });

  it('rejects params that do not divide', () => {
    const base = { policy: 'balancekv', keyDim: 2, valueDim: 2 };
    expect(() => registry.create({ ...base, params: { blockSize: 24, halvings: 4 } })).toThrow(InvalidParamsError);
    expect(() => registry.create({ ...base, params: { halvings: 0 } })).toThrow(InvalidParamsError);
  });
});
