import { createKernelSums, ExactCache, InvalidBudgetError, InvalidParamsError, PolicyRegistry, type PolicySpec, Rng } from '@kv/core';
import { conformanceChecks } from '@kv/core/testing';
import { describe, expect, it } from 'vitest';
import { LshHeavyKeys, lshHeavyPolicy } from './heavy-keys.js';

const registry = new PolicyRegistry().register(lshHeavyPolicy);

describe('lsh-heavy conformance', () => {
  for (const c of conformanceChecks({
    registry,
    spec: { policy: 'lsh-heavy', keyDim: 16, valueDim: 8, budget: 64, params: { hashes: 3, tables: 2, sample: 4 } },
    exactSpec: { policy: 'lsh-heavy', keyDim: 16, valueDim: 8, budget: 400, params: { hashes: 3, tables: 2, sample: 96, tailFraction: 0 } },
  })) {
    it(c.name, c.run);
  }
});

for (const budget of [{ bytes: 6000 }, { fraction: 1 / 4, minBytes: 3000 }, { ratio: 0.3, min: 30 }]) {
  describe(`lsh-heavy conformance, ${JSON.stringify(budget)}`, () => {
    for (const c of conformanceChecks({ registry, spec: { policy: 'lsh-heavy', keyDim: 16, valueDim: 8, budget, params: { hashes: 3, tables: 2, sample: 4 } } })) {
      it(c.name, c.run);
    }
  });
}

describe('lsh-heavy conformance (cross-polytope, recent)', () => {
  for (const c of conformanceChecks({
    registry,
    spec: { policy: 'lsh-heavy', keyDim: 16, valueDim: 8, budget: 80, params: { family: 'cross-polytope', hashes: 1, tables: 2, rows: 4, retain: 'recent' } },
  })) {
    it(c.name, c.run);
  }
});

interface Stream {
  d: number;
  s: number;
  keys: Float32Array;
  values: Float32Array;
  queries: Float32Array[];
}

/**
 * Background keys of norm ≈ r in random directions, plus, for each query, `heavy` keys at cosine
 * 0.9–0.97 to it (norm r·heavyNorm) scattered through the stream: those keys dominate that query.
 */
function dominatedStream(seed: number, n: number, d: number, s: number, r: number, heavy: number, heavyNorm: number): Stream {
  const rng = new Rng(seed);
  const keys = new Float32Array(n * d);
  const values = rng.fillGaussian(new Float32Array(n * s));
  const unit = (v: Float32Array, off: number, len: number, norm: number): void => {
    let n2 = 0;
    for (let j = 0; j < len; j++) n2 += v[off + j]! ** 2;
    const f = norm / Math.sqrt(n2);
    for (let j = 0; j < len; j++) v[off + j]! *= f;
  };
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) keys[i * d + j] = rng.gaussian();
    unit(keys, i * d, d, r);
  }
  const queries: Float32Array[] = [];
  const used = new Set<number>();
  for (let qi = 0; qi < 3; qi++) {
    const q = rng.fillGaussian(new Float32Array(d));
    unit(q, 0, d, r);
    queries.push(q);
    for (let h = 0; h < heavy; h++) {
      let pos = rng.int(n);
      while (used.has(pos)) pos = rng.int(n);
      used.add(pos);
      const c = 0.9 + 0.07 * rng.uniform();
      const noise = rng.fillGaussian(new Float32Array(d));
      let dot = 0;
      for (let j = 0; j < d; j++) dot += (noise[j]! * q[j]!) / r;
      for (let j = 0; j < d; j++) noise[j]! -= (dot * q[j]!) / r;
      unit(noise, 0, d, 1);
      const s2 = Math.sqrt(1 - c * c);
      for (let j = 0; j < d; j++) keys[pos * d + j] = (c * q[j]!) / r + s2 * noise[j]!;
      unit(keys, pos * d, d, r * heavyNorm);
    }
  }
  return { d, s, keys, values, queries };
}

/** Positions of the fewest keys that hold ≥ 90% of q's exact attention mass. */
function topMass(stream: Stream, q: Float32Array, n: number, tau: number): number[] {
  const logits = Array.from({ length: n }, (_, i) => {
    let dot = 0;
    for (let j = 0; j < stream.d; j++) dot += stream.keys[i * stream.d + j]! * q[j]!;
    return tau * dot;
  });
  const m = Math.max(...logits);
  const w = logits.map((l) => Math.exp(l - m));
  const z = w.reduce((a, b) => a + b, 0);
  const order = w.map((_, i) => i).sort((a, b) => w[b]! - w[a]!);
  const out: number[] = [];
  let mass = 0;
  for (const i of order) {
    if (mass >= 0.9 * z) break;
    out.push(i);
    mass += w[i]!;
  }
  return out;
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let j = 0; j < a.length; j++) {
    num += (a[j]! - b[j]!) ** 2;
    den += b[j]! ** 2;
  }
  return Math.sqrt(num / den);
}

/** The uniform-sampling baseline: a reservoir of `slots` tokens, answers reweighted by n/|S|. */
function uniformAttend(stream: Stream, n: number, slots: number, q: Float32Array, seed: number, tau: number): Float32Array {
  const rng = new Rng(seed);
  const chosen: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i < slots) chosen.push(i);
    else {
      const j = rng.int(i + 1);
      if (j < slots) chosen[j] = i;
    }
  }
  const exact = new ExactCache({ policy: 'exact', keyDim: stream.d, valueDim: stream.s, tau });
  for (const i of chosen) exact.append(stream.keys.subarray(i * stream.d, (i + 1) * stream.d), stream.values.subarray(i * stream.s, (i + 1) * stream.s));
  return exact.attend(q, new Float32Array(stream.s));
}

function run(stream: Stream, n: number, spec: PolicySpec): { cache: LshHeavyKeys; exact: ExactCache } {
  const cache = registry.create(spec) as LshHeavyKeys;
  const exact = new ExactCache({ ...spec, policy: 'exact' });
  cache.prefill(stream.keys.subarray(0, n * stream.d), stream.values.subarray(0, n * stream.s));
  exact.prefill(stream.keys.subarray(0, n * stream.d), stream.values.subarray(0, n * stream.s));
  return { cache, exact };
}

describe('lsh-heavy finds the keys that dominate a query', () => {
  const d = 32;
  const s = 16;
  const n = 3000;
  const tau = 1 / Math.sqrt(d);

  for (const [label, budget, heavyNorm, retain] of [
    ['budget covering the stream, equal norms', 6500, 1, 'recent'],
    ['budget of ~1/5 of the stream, heavy keys of larger norm', 1100, 1.3, 'norm'],
  ] as const) {
    it(`${label}: recall ≥ 0.9 of the top-90% keys; error below uniform sampling at equal memory (< n)`, () => {
      for (let trial = 0; trial < 3; trial++) {
        const stream = dominatedStream(100 + trial, n, d, s, 9.5, 8, heavyNorm);
        const spec: PolicySpec = { policy: 'lsh-heavy', keyDim: d, valueDim: s, budget, seed: trial, params: { hashes: 8, tables: 12, sample: 32, retain, tailFraction: budget < n ? 0.25 : 0 } };
        const { cache, exact } = run(stream, n, spec);
        expect(cache.bytes).toBeLessThanOrEqual(budget * 4 * (d + s));
        if (budget < n) expect(cache.indexedCount).toBeLessThan(n);
        else expect(cache.indexedCount).toBe(n);
        const slots = Math.floor(cache.bytes / (4 * (d + s) + 4));
        let heavyErr = 0;
        let uniformErr = 0;
        for (const q of stream.queries) {
          const top = topMass(stream, q, n, tau);
          const found = new Set(cache.retrieve(q));
          const recall = top.filter((i) => found.has(i)).length / top.length;
          expect(recall).toBeGreaterThanOrEqual(0.9);
          const want = exact.attend(q, new Float32Array(s));
          heavyErr += relErr(cache.attend(q, new Float32Array(s)), want);
          uniformErr += relErr(uniformAttend(stream, n, slots, q, trial + 7, tau), want);
        }
        // With a budget covering the stream, a reservoir of equal bytes holds everything (exact);
        // the comparison at equal memory is only meaningful when the budget is below n.
        if (slots < n) expect(heavyErr).toBeLessThan(uniformErr);
      }
    });
  }
});

describe('lsh-heavy estimator', () => {
  it('is unbiased for Z over seeds (mean within 4.5 standard errors) while evicting', () => {
    const d = 16;
    const s = 4;
    const n = 300;
    const rng = new Rng(5);
    const keys = rng.fillGaussian(new Float32Array(n * d), 0.6);
    const values = rng.fillGaussian(new Float32Array(n * s));
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s });
    exact.prefill(keys, values);
    for (let qi = 0; qi < 2; qi++) {
      const q = rng.fillGaussian(new Float32Array(d), 0.6);
      const e = exact.sums(q, createKernelSums(s));
      const zs: number[] = [];
      const SEEDS = 200;
      for (let seed = 0; seed < SEEDS; seed++) {
        const cache = new LshHeavyKeys({ policy: 'lsh-heavy', keyDim: d, valueDim: s, budget: 120, seed, params: { hashes: 3, tables: 2, sample: 8 } });
        cache.prefill(keys, values);
        expect(cache.evictedCount).toBeGreaterThan(0);
        const got = cache.sums(q, createKernelSums(s));
        zs.push(Math.exp(got.m - e.m) * (got.z / e.z));
      }
      const mean = zs.reduce((a, b) => a + b, 0) / SEEDS;
      const sd = Math.sqrt(zs.reduce((a, b) => a + (b - mean) ** 2, 0) / (SEEDS - 1));
      expect(sd).toBeGreaterThan(0);
      expect(Math.abs(mean - 1)).toBeLessThanOrEqual((4.5 * sd) / Math.sqrt(SEEDS));
    }
  });

  it('degrades as documented with tailFraction = 0: evicted keys are dropped, so Z is under-estimated', () => {
    const d = 16;
    const s = 4;
    const n = 300;
    const rng = new Rng(6);
    const keys = rng.fillGaussian(new Float32Array(n * d), 0.6);
    const values = rng.fillGaussian(new Float32Array(n * s));
    const q = rng.fillGaussian(new Float32Array(d), 0.6);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s });
    exact.prefill(keys, values);
    const e = exact.sums(q, createKernelSums(s));
    let mean = 0;
    for (let seed = 0; seed < 50; seed++) {
      const cache = new LshHeavyKeys({ policy: 'lsh-heavy', keyDim: d, valueDim: s, budget: 120, seed, params: { hashes: 3, tables: 2, sample: 8, tailFraction: 0 } });
      cache.prefill(keys, values);
      expect(cache.tailCapacity).toBe(0);
      const got = cache.sums(q, createKernelSums(s));
      mean += (Math.exp(got.m - e.m) * got.z) / e.z / 50;
    }
    // Roughly indexed/n of the mass remains (keys of similar norms, retained by norm).
    expect(mean).toBeLessThan(0.8);
  });

  it('refuses a budget that cannot hold one table, naming the smallest one, and bad params', () => {
    const base = { policy: 'lsh-heavy', keyDim: 16, valueDim: 8 };
    expect(() => registry.create({ ...base, budget: 2 })).toThrow(/smallest budget that fits/);
    expect(() => registry.create({ ...base, budget: { fraction: 0.5 } })).toThrow(InvalidBudgetError);
    expect(() => registry.create({ ...base, budget: 64, params: { retain: 'oldest' } })).toThrow(InvalidParamsError);
    expect(() => registry.create({ ...base, budget: 64, params: { tailFraction: 1.5 } })).toThrow(InvalidParamsError);
    expect(() => registry.create({ ...base, budget: 64, params: { family: 'e2lsh' } })).toThrow(InvalidParamsError);
  });

  it('fits a handful of tokens by halving its tables and hashes', () => {
    const cache = registry.create({ policy: 'lsh-heavy', keyDim: 64, valueDim: 64, budget: 8 }) as LshHeavyKeys;
    expect(cache.tableCount).toBeLessThan(8);
    const rng = new Rng(1);
    for (let i = 0; i < 100; i++) {
      cache.append(rng.fillGaussian(new Float32Array(64)), rng.fillGaussian(new Float32Array(64)));
      expect(cache.bytes).toBeLessThanOrEqual(8 * 512);
    }
  });

  // Issue 22: budget 1e9 accepted, then the first append threw a RangeError (it allocated for the
  // whole budget); 3e8 bytes reported 38 GB after one token. Storage now grows with what is held.
  it('at huge budgets allocates and reports only what it holds', () => {
    for (const budget of [1e9, { bytes: 3e8 }, { fraction: 1, minBytes: 2 ** 40 }]) {
      for (const policy of [lshHeavyPolicy]) {
        const cache = new PolicyRegistry().register(policy).create({ policy: policy.name, keyDim: 16, valueDim: 8, budget });
        const rng = new Rng(2);
        cache.append(rng.fillGaussian(new Float32Array(16)), rng.fillGaussian(new Float32Array(8)));
        expect(cache.bytes).toBeLessThan(64 * 1024);
        for (let i = 0; i < 200; i++) cache.append(rng.fillGaussian(new Float32Array(16)), rng.fillGaussian(new Float32Array(8)));
        expect(cache.stored).toBe(201);
        expect(cache.bytes).toBeLessThan(201 * 200 + 64 * 1024);
      }
    }
  });
});

describe('lsh-heavy family defaults', () => {
  it('defaults to one concatenated hash for cross-polytope and filters (so d = 128 fits 2^31 cells)', () => {
    for (const family of ['cross-polytope', 'spherical-filter']) {
      const cache = registry.create({ policy: 'lsh-heavy', keyDim: 128, valueDim: 8, budget: 4000, params: { family, tables: 2 } });
      cache.append(new Float32Array(128).fill(1), new Float32Array(8).fill(2));
      expect(cache.attend(new Float32Array(128).fill(1), new Float32Array(8))[0]).toBeCloseTo(2, 5);
    }
  });
});
