import { InvalidBudgetError, InvalidParamsError, PolicyRegistry, Rng } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BalanceKV, balanceKVPolicy } from './balancekv.js';

const registry = new PolicyRegistry().register(balanceKVPolicy);

describe('balancekv', () => {
  it('keeps stored ≤ capacity and Σ weights = seen at every step, for random params and budgets', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom(4, 8, 16),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 0, max: 40 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 400 }),
        fc.integer(),
        (sink, window, blockSize, halvings, extra, ratio, n, seed) => {
          const need = sink + window + blockSize - 1 + 32;
          const budget = ratio ? { ratio: 0.2, min: need + extra } : need + extra;
          const cache = registry.create({ policy: 'balancekv', keyDim: 3, valueDim: 2, budget, seed, params: { sink, window, blockSize, halvings } }) as BalanceKV;
          const rng = new Rng(seed);
          for (let i = 0; i < n; i++) {
            cache.append(rng.fillGaussian(new Float32Array(3)), rng.fillGaussian(new Float32Array(2)));
            expect(cache.stored).toBeLessThanOrEqual(cache.capacity);
            expect(cache.representedTokens).toBe(cache.seen);
          }
          expect(cache.positions().length).toBe(cache.stored);
        },
      ),
      { numRuns: 40 },
    );
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

  it('rejects budgets that cannot hold its exact parts and params that do not divide', () => {
    const base = { policy: 'balancekv', keyDim: 2, valueDim: 2 };
    expect(() => registry.create({ ...base, budget: 100 })).toThrow(InvalidBudgetError); // needs 32+32+127+32
    expect(() => registry.create({ ...base, budget: { ratio: 0.25 } })).toThrow(InvalidBudgetError);
    expect(() => registry.create({ ...base, params: { blockSize: 24, halvings: 4 } })).toThrow(InvalidParamsError);
    expect(() => registry.create({ ...base, params: { halvings: 0 } })).toThrow(InvalidParamsError);
    expect(registry.create({ ...base, budget: 223 }).capacity).toBe(223);
  });
});
