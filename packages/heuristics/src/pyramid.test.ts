import { ModelCache, PolicyRegistry, Rng } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { heuristicPolicies } from './policies.js';
import { type DepthShape, layerBudgets, layerWeights } from './layer-budgets.js';
import { type PyramidKV, pyramidBudgets } from './pyramid.js';

describe('pyramidBudgets', () => {
  it('follows the PyramidKV formula', () => {
    // c = 96, min = 4.8, max = 187.2, step = 60.8: 187.2, 126.4, 65.6, 4.8 rounded, + 32.
    expect(pyramidBudgets(128, 4, { beta: 20, window: 32 })).toEqual([219, 158, 98, 37]);
    expect(pyramidBudgets(64, 1)).toEqual([64]);
  });

  it('decreases with depth, keeps the window, and sums to layers × average up to rounding', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }),
        fc.integer({ min: 1, max: 4000 }),
        fc.integer({ min: 1, max: 80 }),
        fc.double({ min: 1, max: 50, noNaN: true }),
        (window, extra, layers, beta) => {
          const average = window + extra;
          const b = pyramidBudgets(average, layers, { beta, window });
          expect(b).toHaveLength(layers);
          for (let l = 1; l < layers; l++) expect(b[l]!).toBeLessThanOrEqual(b[l - 1]!);
          for (const x of b) expect(x).toBeGreaterThanOrEqual(Math.max(1, window));
          const sum = b.reduce((a, x) => a + x, 0);
          // One rounding per layer; with window 0 the deepest layer may be raised to the 1-token floor.
          expect(sum).toBeLessThanOrEqual(layers * average + layers / 2 + (window === 0 ? 1 : 0));
          expect(sum).toBeGreaterThanOrEqual(layers * average - layers / 2);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects an average that does not exceed the window and bad shapes', () => {
    expect(() => pyramidBudgets(32, 4, { window: 32 })).toThrow(expect.objectContaining({ code: 'KV_INVALID_BUDGET' }));
    expect(() => pyramidBudgets(64, 0)).toThrow(expect.objectContaining({ code: 'KV_INVALID_PARAMS' }));
    expect(() => pyramidBudgets(64, 4, { beta: 0.5 })).toThrow(expect.objectContaining({ code: 'KV_INVALID_PARAMS' }));
  });
});

describe('SnapKV and PyramidKV in a ModelCache (GQA prefill)', () => {
  const layers = 3;
  const kvHeads = 2;
  const queryHeads = 4;
  const d = 8;
  const s = 4;
  const T = 80;
  const window = 8;
  const registry = new PolicyRegistry().register(...heuristicPolicies);

  function prompt(): { keys: Float32Array; values: Float32Array; queries: Float32Array } {
    const rng = new Rng(11);
    const keys = rng.fillGaussian(new Float32Array(T * kvHeads * d), 0.3);
    // KV head h: block 10+20h .. 14+20h is aligned with its query heads' observation queries.
    for (let h = 0; h < kvHeads; h++) for (let t = 10 + 20 * h; t < 15 + 20 * h; t++) keys[(t * kvHeads + h) * d + h] = 4;
    const values = rng.fillGaussian(new Float32Array(T * kvHeads * s));
    const queries = rng.fillGaussian(new Float32Array(window * queryHeads * d), 0.3);
    for (let t = 0; t < window; t++) for (let qh = 0; qh < queryHeads; qh++) queries[(t * queryHeads + qh) * d + Math.floor(qh / 2)]! += 3;
    return { keys, values, queries };
  }

  it('pyramid budgets per layer, each KV head keeping what its query group attends to', () => {
    const budgets = pyramidBudgets(24, layers, { beta: 4, window });
    const viaBudgets = new ModelCache({
      layers, kvHeads, queryHeads, keyDim: d, valueDim: s, tau: 1, registry,
      policy: { policy: 'snapkv', budget: 24, params: { window } },
      budgets,
    });
    const viaPolicy = new ModelCache({
      layers, kvHeads, queryHeads, keyDim: d, valueDim: s, tau: 1, registry,
      policy: (layer) => ({ policy: 'pyramidkv', budget: 24, params: { layer, layers, beta: 4, window } }),
    });
    const { keys, values, queries } = prompt();
    for (let l = 0; l < layers; l++) {
      viaBudgets.prefill(l, keys, values, queries);
      viaPolicy.prefill(l, keys, values, queries);
    }
    for (let l = 0; l < layers; l++) {
      for (let h = 0; h < kvHeads; h++) {
        const a = viaBudgets.head(l, h);
        const b = viaPolicy.head(l, h);
        expect(a.stored).toBe(budgets[l]);
        expect(b.capacity).toBe(budgets[l]);
        const pos = [...a.positions!()].sort((x, y) => x - y);
        expect([...b.positions!()].sort((x, y) => x - y)).toEqual(pos);
        for (let t = T - window; t < T; t++) expect(pos).toContain(t);
        // The deepest layer keeps 4 heavy hitters, the middle three of its head's aligned block among them.
        const block = [12 + 20 * h - 1, 12 + 20 * h, 12 + 20 * h + 1];
        for (const t of block) expect(pos).toContain(t);
      }
    }
    expect(budgets[0]!).toBeGreaterThan(budgets[layers - 1]!);
  });
});

describe('layerBudgets: any function of depth', () => {
  it('keeps the total of token and byte budgets exactly and the shape of the weights', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.constantFrom<DepthShape>('uniform', { pyramid: { beta: 20 } }, { linear: { first: 1, last: 4 } }, { exponential: { ratio: 0.7 } }, (x) => 1 + Math.sin(3 * x) ** 2),
        (layers, extra, shape) => {
          const average = layers + extra;
          const tokens = layerBudgets(average, layers, shape) as number[];
          expect(tokens.reduce((a, x) => a + x, 0)).toBe(layers * average);
          for (const x of tokens) expect(x).toBeGreaterThanOrEqual(1);
          const bytes = layerBudgets({ bytes: average * 100 }, layers, shape) as { bytes: number }[];
          expect(bytes.reduce((a, x) => a + x.bytes, 0)).toBe(layers * average * 100);
          // Rounding keeps the order of the weights (up to one unit).
          const w = layerWeights(layers, shape);
          for (let l = 1; l < layers; l++) if (w[l]! > w[l - 1]! + 1e-9) expect(tokens[l]! + 1).toBeGreaterThanOrEqual(tokens[l - 1]!);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('scales fractions, caps a layer at 1 and gives the excess to the others', () => {
    const f = layerBudgets({ fraction: 0.5, minBytes: 1000 }, 3, { linear: { first: 0, last: 4 } }) as { fraction: number; minBytes: number }[];
    // Weights 0, 4/2·…: raw 0, 1, 2 (mean 1) → 0, 0.5, 1.0; nothing to redistribute.
    expect(f.map((x) => x.fraction)).toEqual([Number.MIN_VALUE, 0.5, 1]);
    const g = layerBudgets({ fraction: 0.6 }, 2, { linear: { first: 1, last: 3 } }) as { fraction: number }[];
    // 0.3 and 0.9 stay; with 0.8: 0.4 and 1.2 → 1 and 0.4 + 0.2.
    expect(g.map((x) => x.fraction)).toEqual([0.3, 0.8999999999999999]);
    const h = layerBudgets({ fraction: 0.8 }, 2, { linear: { first: 1, last: 3 } }) as { fraction: number }[];
    expect(h[1]!.fraction).toBe(1);
    expect(h[0]!.fraction).toBeCloseTo(0.6, 12);
    expect(() => layerBudgets({ fraction: 2 }, 4, 'uniform')).toThrow(expect.objectContaining({ code: 'KV_INVALID_BUDGET' }));
    expect(() => layerWeights(3, () => -1)).toThrow(expect.objectContaining({ code: 'KV_INVALID_PARAMS' }));
  });

  it('PyramidKV with a fraction budget gives each layer its pyramid share, summing to the average', () => {
    const registry = new PolicyRegistry().register(...heuristicPolicies);
    const layers = 4;
    const caches = Array.from({ length: layers }, (_, layer) =>
      registry.create({ policy: 'pyramidkv', keyDim: 8, valueDim: 8, budget: { fraction: 1 / 8 }, params: { layer, layers } }) as PyramidKV,
    );
    const total = caches.reduce((a, c) => a + (c.budget as { fraction: number }).fraction, 0);
    expect(total).toBeCloseTo(layers / 8, 12);
    for (let l = 1; l < layers; l++) expect((caches[l]!.budget as { fraction: number }).fraction).toBeLessThan((caches[l - 1]!.budget as { fraction: number }).fraction);
  });
});
