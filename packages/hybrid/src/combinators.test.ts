import {
  BaseHeadCache,
  type CacheState,
  createKernelSums,
  ExactCache,
  exactPolicy,
  isKvError,
  type KernelSums,
  KvErrorCode,
  mergeSums,
  type PolicyDefinition,
  PolicyRegistry,
  type PolicySpec,
  maxRows,
  Rng,
  SlotStore,
  type StateReader,
} from '@kv/core';
import { checkByteBudget, conformanceChecks } from '@kv/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPartitionedPolicy, PartitionedCache, partitioned, partitionedPolicy, sumOf } from './partitioned.js';
import { TieredCache, tiered, tieredPolicy } from './tiered.js';

// A small weighted sample used only by this package's tests to exercise combinators with a
// compressed, randomized part (the real sampling policies live in @kv/coreset): it keeps a token
// while its budget has room, else replaces a random kept one with probability kept/offered.
class ReservoirCache extends BaseHeadCache {
  private readonly store: SlotStore;
  private readonly rng: Rng;
  private offered = 0;
  constructor(spec: PolicySpec) {
    super(spec);
    const rows = maxRows(spec.budget, this.byteCost(), spec.keyDim, spec.valueDim);
    this.store = new SlotStore(spec.keyDim, spec.valueDim, { maxSlots: rows, weighted: true });
    this.rng = new Rng(spec.seed ?? 0);
  }
  get stored(): number {
    return this.store.count;
  }
  protected override byteCost() {
    return { fixed: 0, perRow: this.store?.perRowBytes ?? 4 * (this.keyDim + this.valueDim) + 8 };
  }
  positions(): Int32Array {
    return this.store.positions();
  }
  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const i = this.offered++;
    const cap = this.capacityAt(position + 1);
    if (this.store.count < cap) this.store.push(key, 0, value, 0, position, 0);
    else if (this.store.count > 0) {
      const j = this.rng.int(i + 1);
      if (j < this.store.count) this.store.write(j, key, 0, value, 0, position, 0);
    }
    const logW = Math.log(this.offered / Math.max(1, this.store.count));
    for (let i = 0; i < this.store.count; i++) this.store.setLogWeight(i, logW);
  }
  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    return this.store.sums(query, this.tau, out);
  }
  protected onReset(): void {
    this.store.clear();
    this.offered = 0;
    this.rng.setState(new Rng(this.spec.seed ?? 0).getState());
  }
  protected saveState(): CacheState {
    return { scalars: { offered: this.offered, rng: this.rng.getState() }, arrays: {}, parts: { store: this.store.state() } };
  }
  protected restoreState(r: StateReader): void {
    this.store.loadState(r.part('store'));
    this.offered = r.integer('offered', 0, 2 ** 40);
    this.rng.setState(r.numbers('rng'));
  }
}

const testReservoirPolicy: PolicyDefinition = {
  name: 'test-reservoir',
  summary: 'test-only weighted reservoir',
  params: [],
  budget: 'required',
  create: (spec) => new ReservoirCache(spec),
};

const bySign = createPartitionedPolicy('by-sign', { sign: (k) => (k[0]! >= 0 ? 0 : 1) });
const registry = new PolicyRegistry().register(exactPolicy, tieredPolicy, partitionedPolicy, testReservoirPolicy, bySign);
const dims = { keyDim: 8, valueDim: 4 };
const exactParts = [{ policy: 'exact' }, { policy: 'exact' }, { policy: 'exact' }];

const combinators = {
  'tiered(exact)': tiered({ sinks: 3, window: 5, middle: { policy: 'exact' } }),
  'partitioned by norm': partitioned({ route: { kind: 'norm', thresholds: [1.2, 1.8] }, parts: exactParts }),
  'partitioned by position (sum of parts)': sumOf(exactParts, [10, 40]),
  'partitioned round-robin': partitioned({ route: { kind: 'round-robin' }, parts: exactParts }),
  'partitioned by LSH bucket (simhash)': partitioned({ route: { kind: 'lsh', family: 'simhash', hashes: 3, seed: 7 }, parts: exactParts }),
  'partitioned by LSH bucket (cross-polytope)': partitioned({ route: { kind: 'lsh', family: 'cross-polytope' }, parts: exactParts.slice(0, 2) }),
  'partitioned by a custom rule': partitioned({ policy: 'by-sign', route: { kind: 'custom', name: 'sign' }, parts: exactParts.slice(0, 2) }),
  'tiered(partitioned(exact))': tiered({ sinks: 0, window: 4, middle: partitioned({ route: { kind: 'round-robin' }, parts: exactParts }) }),
};

describe('combinators with exact parts', () => {
  for (const [name, choice] of Object.entries(combinators)) {
    describe(`${name}: conformance`, () => {
      for (const c of conformanceChecks({ registry, spec: { ...choice, ...dims }, exactSpec: { ...choice, ...dims } })) it(c.name, c.run);
    });
  }

  it('equal exact attention on random streams, and their merged sums equal the sum of the parts', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(combinators)),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (choice, n, seed) => {
          const rng = new Rng(seed);
          const cache = registry.create({ ...choice, ...dims });
          const exact = new ExactCache({ policy: 'exact', ...dims });
          for (let t = 0; t < n; t++) {
            const k = rng.fillGaussian(new Float32Array(8), 0.6);
            const v = rng.fillGaussian(new Float32Array(4));
            cache.append(k, v);
            exact.append(k, v);
          }
          const q = rng.fillGaussian(new Float32Array(8), 2);
          const got = cache.sums(q, createKernelSums(4));
          const want = exact.sums(q, createKernelSums(4));
          const zg = got.z * Math.exp(got.m - want.m);
          expect(Math.abs(zg - want.z)).toBeLessThanOrEqual(1e-9 * want.z);
          for (let j = 0; j < 4; j++) {
            expect(Math.abs(got.n[j]! * Math.exp(got.m - want.m) - want.n[j]!)).toBeLessThanOrEqual(1e-9 * want.z * 10);
          }
          expect(cache.stored).toBe(n);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('partition answers are exactly the log-sum-exp merge of the parts', () => {
    const cache = registry.create({ ...combinators['partitioned by norm'], ...dims }) as unknown as {
      parts: { seen: number; sums: (q: Float32Array, o: ReturnType<typeof createKernelSums>) => ReturnType<typeof createKernelSums> }[];
    } & ReturnType<typeof registry.create>;
    const rng = new Rng(5);
    for (let t = 0; t < 60; t++) cache.append(rng.fillGaussian(new Float32Array(8), 0.6), rng.fillGaussian(new Float32Array(4)));
    const q = rng.fillGaussian(new Float32Array(8));
    const merged = createKernelSums(4);
    for (const p of cache.parts) if (p.seen > 0) mergeSums(merged, p.sums(q, createKernelSums(4)));
    const got = cache.sums(q, createKernelSums(4));
    expect(got.m).toBe(merged.m);
    expect(got.z).toBe(merged.z);
    expect([...got.n]).toEqual([...merged.n]);
    expect(cache.parts.filter((p) => p.seen > 0).length).toBeGreaterThan(1);
  });
});

describe('tiered', () => {
  it('keeps the sinks and the last W tokens exact and feeds the middle the tokens leaving the window', () => {
    const cache = registry.create({ ...tiered({ sinks: 2, window: 3, middle: { policy: 'exact' } }), ...dims }) as TieredCache;
    const rng = new Rng(1);
    for (let t = 0; t < 10; t++) cache.append(rng.fillGaussian(new Float32Array(8)), rng.fillGaussian(new Float32Array(4)));
    expect([...cache.middle!.positions!()]).toEqual([0, 1, 2, 3, 4]); // middle positions are its own: tokens 2..6
    expect(cache.middle!.seen).toBe(5);
    const pos = [...cache.positions()];
    expect(pos.slice(0, 2)).toEqual([0, 1]);
    expect(pos.slice(2, 5).sort((a, b) => a - b)).toEqual([7, 8, 9]);
  });

  it('with a compressed middle: conformance, and a token budget is shared out', () => {
    const choice = tiered({ sinks: 2, window: 6, middle: { policy: 'test-reservoir' } });
    const cache = registry.create({ ...choice, ...dims, budget: 20 });
    expect(cache.capacity).toBe(20);
    for (const c of conformanceChecks({ registry, spec: { ...choice, ...dims, budget: 20 } })) c.run();
  });

  it('shrinks sinks and window to fit a small fixed budget, keeping a row for the middle, and says so', () => {
    const choice = tiered({ sinks: 2, window: 6, middle: { policy: 'test-reservoir' } });
    const small = registry.create({ ...choice, ...dims, budget: 5 }) as TieredCache;
    expect(small.capacity).toBe(5);
    expect(small.describe().stats).toMatchObject({ sinkSize: 2, windowSize: 2, shrunk: true });
    expect(small.describe().summary).toContain('shrunk');
    const row = 4 * (8 + 4) + 4;
    const bytes = registry.create({ ...choice, ...dims, budget: { bytes: 3 * row + 10 } }) as TieredCache;
    expect(bytes.describe().stats).toMatchObject({ sinkSize: 2, windowSize: 0 });
    for (const budget of [1, 5, { bytes: 3 * row + 10 }]) {
      for (const c of conformanceChecks({ registry, spec: { ...choice, ...dims, budget } })) c.run();
    }
  });

  for (const budget of [{ bytes: 2000 }, { fraction: 0.25 }, { fraction: 0.3, minBytes: 900 }]) {
    describe(`with a compressed middle under ${JSON.stringify(budget)}: conformance`, () => {
      const choice = tiered({ sinks: 2, window: 6, middle: { policy: 'test-reservoir' } });
      for (const c of conformanceChecks({ registry, spec: { ...choice, ...dims, budget }, steps: 160 })) it(c.name, c.run);
    });
  }

  for (const budget of [{ fraction: 0.25 }, { fraction: 0.2, minBytes: 1500 }, { bytes: 3000 }, 40]) {
    describe(`window as a share of ${JSON.stringify(budget)}: conformance`, () => {
      const choice = tiered({ sinks: 2, window: { share: 0.4 }, middle: { policy: 'test-reservoir' } });
      for (const c of conformanceChecks({ registry, spec: { ...choice, ...dims, budget }, steps: 200 })) it(c.name, c.run);
    });
  }

  describe('without a middle (sinks + window): conformance', () => {
    for (const budget of [{ fraction: 0.25 }, { bytes: 3000 }]) {
      for (const c of conformanceChecks({ registry, spec: { ...tiered({ sinks: 2, window: 1000 }), ...dims, budget }, steps: 150 })) it(`${JSON.stringify(budget)}: ${c.name}`, c.run);
    }
  });

  it('a window share takes that share of the rows the budget holds, and the middle gets the rest', () => {
    const row = 4 * (8 + 4) + 4;
    const cache = registry.create({ ...tiered({ sinks: 2, window: { share: 0.5 }, middle: { policy: 'test-reservoir' } }), ...dims, budget: { fraction: 0.5 } }) as TieredCache;
    const rng = new Rng(5);
    for (let t = 1; t <= 400; t++) {
      cache.append(rng.fillGaussian(new Float32Array(8)), rng.fillGaussian(new Float32Array(4)));
      const rows = Math.floor((0.5 * 48 * t) / row);
      expect(cache.windowHeld).toBeLessThanOrEqual(Math.floor(rows / 2));
      if (t > 40) expect(cache.windowHeld).toBeGreaterThanOrEqual(Math.floor(rows / 2) - 2);
      expect(cache.bytes).toBeLessThanOrEqual(0.5 * 48 * t);
    }
    // At the end the middle holds about what the window leaves.
    expect(cache.middle!.bytes).toBeGreaterThan(0.5 * (0.5 * 48 * 400) - 3 * row - 2 * row);
  });

  it('under a fraction budget, sinks and window follow what the budget holds so far, and the middle gets the rest', () => {
    const choice = tiered({ sinks: 4, window: 16, middle: { policy: 'exact' } });
    const row = 4 * (8 + 4) + 4;
    const cache = registry.create({ ...choice, ...dims, budget: { fraction: 0.25 } }) as TieredCache;
    const rng = new Rng(3);
    for (let t = 1; t <= 200; t++) {
      cache.append(rng.fillGaussian(new Float32Array(8)), rng.fillGaussian(new Float32Array(4)));
      const rows = Math.floor((0.25 * 48 * t) / row);
      expect(cache.sinksHeld + cache.windowHeld).toBeLessThanOrEqual(rows);
      if (t > 4 * 20 * (row / 48)) expect(cache.windowHeld).toBe(16);
    }
    expect(cache.sinksHeld).toBe(0); // the first tokens came before the budget held a row
  });
});

describe('partitioned', () => {
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return isKvError(e) ? e.code : String(e);
    }
    return 'nothing thrown';
  };

  it('rejects malformed routes and parts', () => {
    const bad = [
      { route: { kind: 'norm', thresholds: [2, 1] }, parts: exactParts },
      { route: { kind: 'position', boundaries: [5] }, parts: exactParts },
      { route: { kind: 'custom', name: 'nope' }, parts: exactParts },
      { route: { kind: 'zigzag' }, parts: exactParts },
      { route: { kind: 'round-robin' }, parts: [] },
      { route: { kind: 'round-robin' }, parts: [{ nope: 1 }] },
    ];
    for (const params of bad) expect(codeOf(() => registry.create({ policy: 'partitioned', ...dims, params }))).toBe(KvErrorCode.InvalidParams);
  });

  it('refuses a custom route that returns a part out of range, leaving the cache unchanged', () => {
    const broken = createPartitionedPolicy('broken', { seven: () => 7 });
    const reg = new PolicyRegistry().register(exactPolicy, broken);
    const cache = reg.create({ ...partitioned({ policy: 'broken', route: { kind: 'custom', name: 'seven' }, parts: exactParts }), ...dims });
    expect(codeOf(() => cache.append(new Float32Array(8), new Float32Array(4)))).toBe(KvErrorCode.InvalidParams);
    expect(cache.seen).toBe(0);
    expect(cache.stored).toBe(0);
  });

  for (const budget of [{ bytes: 3000 }, { fraction: 0.25, minBytes: 64 }]) {
    describe(`LSH-routed compressed parts under ${JSON.stringify(budget)}: conformance`, () => {
      const choice = partitioned({ route: { kind: 'lsh', hashes: 1, seed: 2 }, parts: [{ policy: 'test-reservoir' }, { policy: 'test-reservoir' }] });
      for (const c of conformanceChecks({ registry, spec: { ...choice, ...dims, budget }, steps: 160 })) it(c.name, c.run);
    });
  }

  it('never holds more than a fraction budget with a floor, however the route splits the stream', () => {
    // Position boundaries send the stream to the parts in runs of any lengths: a part past its share
    // of the floor while the others sit at theirs is the case an even split of the floor overshoots.
    fc.assert(
      fc.property(
        fc.double({ min: 1 / 16, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 4096 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 95 }), { minLength: 1, maxLength: 3 }),
        (fraction, minBytes, cuts) => {
          const boundaries = [...cuts].sort((a, b) => a - b);
          const parts = boundaries.map(() => ({ policy: 'test-reservoir' })).concat({ policy: 'test-reservoir' });
          const spec = { ...partitioned({ route: { kind: 'position', boundaries }, parts }), ...dims, budget: { fraction, minBytes } };
          checkByteBudget(registry, spec, { steps: 96 });
        },
      ),
      { numRuns: 40 },
    );
    checkByteBudget(registry, { ...partitioned({ route: { kind: 'lsh', hashes: 1, seed: 2 }, parts: [{ policy: 'test-reservoir' }, { policy: 'test-reservoir' }] }), ...dims, budget: { fraction: 0.34375, minBytes: 176 } }, { steps: 64 });
  });

  it('refuses a fraction budget whose smallest bytes cannot hold the LSH rule\'s hash function', () => {
    const choice = partitioned({ route: { kind: 'lsh', hashes: 1, seed: 2 }, parts: [{ policy: 'test-reservoir' }, { policy: 'test-reservoir' }] });
    expect(() => registry.create({ ...choice, ...dims, budget: { fraction: 0.25 } })).toThrow(/smallest budget that fits/);
  });

  it('splits a token budget equally over parts without their own', () => {
    const cache = registry.create({ ...partitioned({ route: { kind: 'round-robin' }, parts: [{ policy: 'test-reservoir' }, { policy: 'test-reservoir' }] }), ...dims, budget: 10 });
    expect(cache.capacity).toBe(10);
    for (const c of conformanceChecks({ registry, spec: { ...partitioned({ route: { kind: 'round-robin' }, parts: [{ policy: 'test-reservoir' }, { policy: 'test-reservoir' }] }), ...dims, budget: 10 } })) c.run();
  });
});

describe('partitioned by LSH bucket', () => {
  it('sends a key and its positive multiples to the same part, and uses every part on random keys', () => {
    const choice = partitioned({ route: { kind: 'lsh', hashes: 4, seed: 3 }, parts: exactParts });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.double({ min: 0.01, max: 100, noNaN: true }), (seed, scale) => {
        const rng = new Rng(seed);
        const cache = registry.create({ ...choice, ...dims }) as PartitionedCache;
        const k = rng.fillGaussian(new Float32Array(8));
        cache.append(k, new Float32Array(4));
        const first = cache.parts.findIndex((p) => p.seen === 1);
        cache.append(k.map((x) => x * scale), new Float32Array(4));
        expect(cache.parts[first]!.seen).toBe(2);
      }),
      { numRuns: 40 },
    );
    const cache = registry.create({ ...choice, ...dims }) as PartitionedCache;
    const rng = new Rng(11);
    for (let t = 0; t < 200; t++) cache.append(rng.fillGaussian(new Float32Array(8)), rng.fillGaussian(new Float32Array(4)));
    for (const p of cache.parts) expect(p.seen).toBeGreaterThan(0);
    // The drawn hyperplanes are state: they count in bytes.
    let parts = 0;
    for (const p of cache.parts) parts += p.bytes;
    expect(cache.bytes).toBe(parts + 4 * 8 * 4);
  });

  it('rejects malformed lsh routes with typed errors', () => {
    for (const route of [{ kind: 'lsh', family: 'minhash' }, { kind: 'lsh', hashes: 0 }, { kind: 'lsh', hashes: 2.5 }, { kind: 'lsh', seed: 'x' }]) {
      try {
        registry.create({ policy: 'partitioned', ...dims, params: { route, parts: exactParts } });
        expect.unreachable();
      } catch (e) {
        expect(isKvError(e, KvErrorCode.InvalidParams)).toBe(true);
      }
    }
  });
});
