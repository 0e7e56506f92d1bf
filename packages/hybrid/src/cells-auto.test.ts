import { compareToExact, ExactCache, exactPolicy, isKvError, KvErrorCode, PolicyRegistry, Rng } from '@kv/core';
import { checkByteBudget, checkSnapshotRoundTrip, conformanceChecks } from '@kv/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maxNormalizedError, sphereStream } from '../test/streams.js';
import { autoPolicy } from './auto.js';
import { type CellsCache, cellsPolicy } from './cells.js';
import { hybridPolicies } from './index.js';
import { taylorCoresetPolicy } from './taylor-coreset.js';
import { type TieredCache, tiered } from './tiered.js';

const registry = new PolicyRegistry().register(exactPolicy, ...hybridPolicies);

describe('hybrid-cells: conformance', () => {
  for (const partition of ['centres', 'lsh'] as const) {
    describe(partition, () => {
      for (const c of conformanceChecks({
        registry,
        spec: { policy: 'hybrid-cells', keyDim: 8, valueDim: 4, budget: 900, params: { partition, cells: 4, degree: 2, samples: 8 } },
        // Enough samples per cell to hold the whole stream: every cell is then answered exactly.
        exactSpec: { policy: 'hybrid-cells', keyDim: 8, valueDim: 4, params: { partition, cells: 4, degree: 2, samples: 96 } },
      })) it(c.name, c.run);
    });
  }
});

describe('composition: tiered with a hybrid middle', () => {
  for (const c of conformanceChecks({
    registry,
    spec: { ...tiered({ sinks: 4, window: 8, middle: { policy: 'hybrid-taylor-coreset', params: { degree: 2, blockSize: 16 } } }), keyDim: 8, valueDim: 4 },
    exactSpec: { ...tiered({ sinks: 4, window: 8, middle: { policy: 'hybrid-taylor-coreset', params: { degree: 4, blockSize: 256 } } }), keyDim: 8, valueDim: 4 },
  })) it(c.name, c.run);
});

describe('tiered: a middle whose fixed part does not fit what the window leaves', () => {
  // At 1/16 of the float32 bytes from 256 tokens on (d = s = 64), half the budget leaves the
  // middle 2032 bytes: below the 2627 of hybrid-taylor-coreset's smallest configuration.
  const spec = { ...tiered({ sinks: 4, window: { share: 0.5 }, middle: { policy: 'hybrid-taylor-coreset' } }), keyDim: 64, valueDim: 64, budget: { fraction: 1 / 16, minBytes: 8192 } };

  it('halves the window until the middle fits, says so, and holds the budget', () => {
    const cache = registry.create(spec) as TieredCache;
    expect(cache.windowHalvings).toBe(1);
    expect(cache.windowShare).toBe(0.25);
    expect(cache.describe().summary).toContain('window halved 1 time(s) so the middle fits');
    expect(cache.describe().stats['windowHalvings']).toBe(1);
    checkByteBudget(registry, spec, { steps: 300 });
  });

  it('still refuses, with the middle\'s message, when no window leaves it enough', () => {
    expect(() => registry.create({ ...spec, budget: { bytes: 2600 } })).toThrow(/smallest budget that fits/);
  });
});

describe('hybrid-cells (heuristic)', () => {
  it('a cell answered by expansion is within its multipole bound of that cell exactly (threshold = ∞ expands every full cell)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), (seed) => {
        const rng = new Rng(seed);
        const d = 4;
        const spec = { policy: 'hybrid-cells', keyDim: d, valueDim: 2, tau: 0.5, params: { cells: 1, degree: 6, samples: 1, threshold: 1e300 } };
        const cache = registry.create(spec) as CellsCache;
        const exact = new ExactCache({ ...spec, policy: 'exact' });
        for (let i = 0; i < 40; i++) {
          const k = rng.fillGaussian(new Float32Array(d), 0.4);
          const v = rng.fillGaussian(new Float32Array(2));
          cache.append(k, v);
          exact.append(k, v);
        }
        const q = rng.fillGaussian(new Float32Array(d), 0.6);
        const out = cache.attend(q, new Float32Array(2));
        expect(cache.expandedCells).toBe(1);
        // Relative bound r per term ⇒ ||ô − o|| ≤ 2r·max||v||/(1 − r) (Taylor certificate).
        expect(compareToExact(exact, q, out).maxAbs).toBeLessThan(0.05);
      }),
      { numRuns: 20 },
    );
  });

  it('is accurate on clustered streams at large ρ where one Taylor expansion is not (measured, no theorem)', () => {
    const d = 8;
    const tau = 1 / Math.sqrt(d);
    const stream = sphereStream(5, 2048, d, 8, Math.sqrt(6 / tau), 16);
    const cells = registry.create({ policy: 'hybrid-cells', keyDim: d, valueDim: 8, params: { cells: 16, degree: 2, samples: 64 } });
    const errCells = maxNormalizedError(cells, stream, tau);
    expect(errCells).toBeLessThan(0.1);
  });
});

describe('hybrid-cells: per-cell reservoirs', () => {
  // Two far clusters, alternating (even positions in cell 0, odd in cell 1), 4 samples per cell.
  function sampled(seed: number, n: number): { cells: Uint16Array; positions: Int32Array } {
    const cache = registry.create({ policy: 'hybrid-cells', keyDim: 4, valueDim: 2, seed, params: { cells: 2, degree: 1, samples: 4, threshold: 0 } });
    const rng = new Rng(seed);
    for (let t = 0; t < n; t++) {
      const k = rng.fillGaussian(new Float32Array(4), 0.1);
      k[0]! += t % 2 ? -10 : 10;
      cache.append(k, rng.fillGaussian(new Float32Array(2)));
    }
    const state = cache.state();
    return { cells: state.arrays['slotCell'] as Uint16Array, positions: state.parts!['rows']!.arrays['positions'] as Int32Array };
  }

  it('each cell samples only its own tokens, each of them with probability samples/count', () => {
    const n = 64;
    const hits = new Float64Array(n);
    const seeds = 200;
    for (let seed = 1; seed <= seeds; seed++) {
      const { cells, positions } = sampled(seed, n);
      expect(cells.length).toBe(8);
      for (let slot = 0; slot < cells.length; slot++) {
        expect(positions[slot]! % 2).toBe(cells[slot]);
        hits[positions[slot]!]!++;
      }
    }
    // 4 of 32 tokens per cell: inclusion 1/8; 200 seeds give a standard deviation of 0.023.
    for (let t = 0; t < n; t++) expect(Math.abs(hits[t]! / seeds - 1 / 8)).toBeLessThan(0.085);
  });
});

describe('hybrid-cells: memory', () => {
  it('holds at most its bytes at every append (every array of its state counted), for both partitions', () => {
    for (const partition of ['centres', 'lsh'] as const) {
      for (const bytes of [1199, 2000, 5000]) checkByteBudget(registry, { policy: 'hybrid-cells', keyDim: 8, valueDim: 8, budget: { bytes }, params: { partition } }, { steps: 64 });
    }
  });

  it('keeps every cell in one row store, so 16 full cells snapshot with a header under 2 KiB', () => {
    for (const partition of ['centres', 'lsh'] as const) {
      checkSnapshotRoundTrip(registry, { policy: 'hybrid-cells', keyDim: 8, valueDim: 8, params: { partition, cells: 16, samples: 4, radius: 0.01 } }, { steps: 96, at: 80 });
    }
  });
});

describe('hybrid policies', () => {
  it('exports every policy in hybridPolicies', () => {
    expect(hybridPolicies.map((p) => p.name)).toEqual(['tiered', 'partitioned', taylorCoresetPolicy.name, cellsPolicy.name, autoPolicy.name]);
  });
});
