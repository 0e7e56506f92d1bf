import { type Budget, budgetBytes, ExactCache, PolicyRegistry, type PolicySpec, Rng } from '@kv/core';
import { checkByteBudget } from '@kv/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { heuristicPolicies } from './policies.js';

const registry = new PolicyRegistry().register(...heuristicPolicies);

const streamArb = fc.record({
  d: fc.integer({ min: 1, max: 6 }),
  s: fc.integer({ min: 1, max: 4 }),
  n: fc.integer({ min: 1, max: 60 }),
  seed: fc.integer({ min: 0, max: 1 << 30 }),
  scale: fc.constantFrom(0.1, 1, 3),
  prefill: fc.integer({ min: 0, max: 20 }),
  tokens: fc.integer({ min: 1, max: 40 }),
  ratio: fc.option(fc.double({ min: 0.05, max: 1, noNaN: true }), { nil: undefined }),
});

type StreamCase = typeof streamArb extends fc.Arbitrary<infer T> ? T : never;

/** Policy-specific params valid for a given budget. */
function specFor(policy: string, c: StreamCase, budget: Budget): PolicySpec {
  const base = { policy, keyDim: c.d, valueDim: c.s, budget, seed: c.seed };
  const tokens = typeof budget === 'number' ? budget : undefined;
  switch (policy) {
    case 'streaming-llm':
      return { ...base, params: { sinks: tokens === undefined ? 4 : Math.min(4, tokens - 1) } };
    case 'h2o':
      return { ...base, params: c.seed % 2 ? { recent: c.seed % 5 } : { recentRatio: (c.seed % 7) / 6 } };
    case 'snapkv':
      return { ...base, params: { window: c.seed % 6, after: c.seed % 2 ? 'keep' : 'window' } };
    case 'pyramidkv':
      return { ...base, params: { layers: 3, layer: c.seed % 3, window: 2 } };
    case 'kivi':
      return { ...base, params: { bits: 2, group: 2, residual: 2 } };
    default:
      return base;
  }
}

/** Replays a stream (optional prefill with observation queries, then append + attend). */
function replay(
  c: StreamCase,
  spec: PolicySpec,
  visit: (cache: ReturnType<PolicyRegistry['create']>, t: number, out: Float32Array, q: Float32Array) => void,
  twin?: ExactCache,
): void {
  const cache = registry.create(spec);
  const rng = new Rng(c.seed);
  const pre = Math.min(c.prefill, c.n);
  if (pre > 0) {
    const keys = rng.fillGaussian(new Float32Array(pre * c.d), c.scale);
    const values = rng.fillGaussian(new Float32Array(pre * c.s));
    const queries = rng.fillGaussian(new Float32Array(Math.min(pre, 3) * c.d), c.scale);
    cache.prefill(keys, values, queries);
    twin?.prefill(keys, values);
    expect(cache.stored).toBeLessThanOrEqual(cache.capacity);
  }
  for (let t = pre; t < c.n; t++) {
    const k = rng.fillGaussian(new Float32Array(c.d), c.scale);
    const v = rng.fillGaussian(new Float32Array(c.s));
    const q = rng.fillGaussian(new Float32Array(c.d), c.scale);
    cache.append(k, v);
    twin?.append(k, v);
    const out = cache.attend(q, new Float32Array(c.s));
    visit(cache, t, out, q);
  }
}

describe('every policy never stores more than its budget', () => {
  for (const def of heuristicPolicies) {
    it(`${def.name}: stored ≤ capacity and bytes ≤ budget after every step of random streams (token and ratio budgets)`, () => {
      fc.assert(
        fc.property(streamArb, (c) => {
          const budget: Budget = c.ratio === undefined ? c.tokens : { ratio: c.ratio };
          const spec = specFor(def.name, c, budget);
          replay(c, spec, (cache, t, out) => {
            expect(cache.seen).toBe(t + 1);
            expect(cache.stored).toBeLessThanOrEqual(cache.capacity);
            // A token budget counts rows: eviction policies hold a position and at most one Float32
            // score beside each float32 row (Expected Attention also its diagonal query
            // statistics); KIVI's rows hold codes, scales, a position and a slot-map entry (more
            // than float32 at d = 1), and up to a group of evicted rows awaiting their group.
            const rows = def.name === 'pyramidkv' ? cache.capacity : budgetBytes(budget, t + 1, c.d, c.s) / (4 * (c.d + c.s));
            const fixed = def.name === 'expected-attention' ? 8 * c.d : 0;
            const row = 4 * (c.d + c.s) + (def.name === 'kivi' ? 16 : 8);
            expect(cache.bytes).toBeLessThanOrEqual(rows * row + fixed + (def.name === 'kivi' ? 2 * row : 0));
            for (const x of out) expect(Number.isFinite(x)).toBe(true);
          });
        }),
        { numRuns: 25 },
      );
    });

    it(`${def.name}: bytes ≤ budget after every append at random {bytes} and {fraction} budgets`, () => {
      fc.assert(
        fc.property(
          streamArb,
          fc.oneof(
            fc.integer({ min: 1, max: 4000 }).map((bytes): Budget => ({ bytes })),
            fc.record({ fraction: fc.double({ min: 0.01, max: 1, noNaN: true }), minBytes: fc.integer({ min: 0, max: 2000 }) }),
          ),
          (c, budget) => {
            // PyramidKV's layers hold their share of the average: the last layer's is the smallest.
            const spec = specFor(def.name, c, budget);
            checkByteBudget(registry, def.name === 'pyramidkv' ? { ...spec, params: { layers: 3, layer: 2, window: 2 } } : spec, { steps: c.n, seed: c.seed });
          },
        ),
        { numRuns: 20 },
      );
    });
  }
});

describe('with the budget at least the stream length, every eviction policy equals exact attention', () => {
  for (const def of heuristicPolicies.filter((p) => p.name !== 'kivi')) {
    it(`${def.name}`, () => {
      fc.assert(
        fc.property(streamArb, fc.boolean(), (c, asRatio) => {
          // A ratio of 1 keeps ceil(seen) = seen tokens; a fixed budget of n covers the stream.
          const budget: Budget = asRatio && def.name !== 'pyramidkv' ? { ratio: 1 } : c.n + (c.seed % 3);
          let spec = specFor(def.name, c, budget);
          if (def.name === 'pyramidkv') {
            // The deepest layer gets the smallest share: give the first layer a budget ≥ n.
            spec = { ...spec, budget: c.n + 3, params: { layers: 3, layer: 0, window: 2 } };
          }
          if (def.name === 'streaming-llm' && typeof budget === 'number') spec = { ...spec, params: { sinks: Math.min(4, budget - 1) } };
          const exact = new ExactCache({ policy: 'exact', keyDim: c.d, valueDim: c.s });
          const want = new Float32Array(c.s);
          let steps = 0;
          replay(
            c,
            spec,
            (cache, t, out, q) => {
              steps++;
              expect(cache.positions!().length).toBe(t + 1);
              exact.attend(q, want);
              for (let j = 0; j < c.s; j++) expect(Math.abs(out[j]! - want[j]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(want[j]!)));
            },
            exact,
          );
          expect(steps).toBe(c.n - Math.min(c.prefill, c.n));
        }),
        { numRuns: 30 },
      );
    });
  }
});
