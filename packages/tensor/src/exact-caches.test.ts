import { createKernelSums, PolicyRegistry, type PolicySpec, sumsToOutput } from '@kv/core';
import { conformanceChecks } from '@kv/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gaussianStream, row } from '../test/streams.js';
import type { TensorHeadCache } from './contract.js';
import { FourCache, fourCacheDefinition } from './four-cache.js';
import { matrixSlicePolicy } from './matrix-slice.js';
import { allocatedTokenRows, fourCacheBytes, twoCacheBytes } from './memory.js';
import { tensorReferenceSums } from './reference.js';
import { tensorConformanceChecks } from './testing/conformance.js';
import { TwoCache, twoCacheDefinition } from './two-cache.js';

const layouts: [string, (spec: PolicySpec) => TensorHeadCache][] = [
  ['four-cache (factorized)', (spec) => new FourCache(spec)],
  ['four-cache (materialized)', (spec) => new FourCache({ ...spec, params: { pairs: 'materialized' } })],
  ['two-cache', (spec) => new TwoCache(spec)],
];

const streamArb = fc.record({
  d: fc.integer({ min: 1, max: 6 }),
  s: fc.integer({ min: 1, max: 5 }),
  n: fc.integer({ min: 1, max: 22 }),
  seed: fc.nat(),
  norm: fc.double({ min: 0.1, max: 3, noNaN: true }),
  tau: fc.double({ min: 0.1, max: 2, noNaN: true }),
});

describe.each(layouts)('%s', (_name, make) => {
  it('equals the definition after every token of random streams (outputs and log Z)', () => {
    fc.assert(
      fc.property(streamArb, ({ d, s, n, seed, norm, tau }) => {
        const st = gaussianStream(d, s, n, seed, norm);
        const cache = make({ policy: 'x', keyDim: d, valueDim: s, tau });
        const want = createKernelSums(s);
        const got = createKernelSums(s);
        const wantOut = new Float64Array(s);
        const out = new Float32Array(s);
        for (let t = 0; t < n; t++) {
          cache.append(row(st.keys1, t, d), row(st.keys2, t, d), row(st.values1, t, s), row(st.values2, t, s));
          const q = row(st.queries, t, d);
          tensorReferenceSums(q, st.keys1, st.keys2, st.values1, st.values2, t + 1, tau, want);
          sumsToOutput(want, wantOut);
          cache.attend(q, out);
          cache.sums(q, got);
          // Pair logits are at most τ·norm³ ≈ 54 here; fp32 pair storage moves a logit by
          // ≤ 2⁻²⁴·|x| ≈ 3e-6, so outputs (convex combinations) move by ≤ 2·3e-6·max|v1∘v2|.
          let vmax = 0;
          for (let i = 0; i <= t; i++) {
            for (let j = 0; j <= t; j++) {
              for (let c = 0; c < s; c++) vmax = Math.max(vmax, Math.abs(st.values1[i * s + c]! * st.values2[j * s + c]!));
            }
          }
          for (let c = 0; c < s; c++) expect(Math.abs(out[c]! - wantOut[c]!)).toBeLessThanOrEqual(1e-5 * (1 + vmax));
          const lw = want.m + Math.log(want.z);
          expect(Math.abs(got.m + Math.log(got.z) - lw)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(lw)));
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('memory matches its formula exactly', () => {
  it('four-cache: bytes are 8(d+s)·n live bytes (storage grows in doubling token rows, slack not counted)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 80 }), (d, s, n) => {
        const st = gaussianStream(d, s, n, n, 1);
        const cache = new FourCache({ policy: 'x', keyDim: d, valueDim: s });
        expect(cache.bytes).toBe(0);
        for (let t = 0; t < n; t++) {
          cache.append(row(st.keys1, t, d), row(st.keys2, t, d), row(st.values1, t, s), row(st.values2, t, s));
          const f = fourCacheBytes(t + 1, d, s);
          expect(cache.bytes).toBe(f.live);
          expect(f.allocated).toBeGreaterThanOrEqual(f.live);
          expect(f.live).toBe(8 * (d + s) * (t + 1));
          expect(cache.stored).toBe(t + 1);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('two-cache: bytes are 4(d+s)(n² + 2n) live bytes, n² pair rows (allocated as rows² pair rows)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 70 }), (d, s, n) => {
        const st = gaussianStream(d, s, n, n, 1);
        const cache = new TwoCache({ policy: 'x', keyDim: d, valueDim: s });
        expect(cache.bytes).toBe(0);
        for (let t = 0; t < n; t++) {
          const pairsBefore = cache.pairs;
          cache.append(row(st.keys1, t, d), row(st.keys2, t, d), row(st.values1, t, s), row(st.values2, t, s));
          const m = t + 1;
          expect(cache.pairs - pairsBefore).toBe(2 * m - 1);
          expect(cache.pairs).toBe(m * m);
          const f = twoCacheBytes(m, d, s);
          expect(cache.bytes).toBe(f.live);
          expect(f.allocated).toBeGreaterThanOrEqual(f.live);
          expect(f.live).toBe(4 * (d + s) * (m * m + 2 * m));
          expect(cache.stored).toBe(Math.ceil(f.live / (8 * (d + s))));
        }
      }),
      { numRuns: 20 },
    );
  });

  it('at powers of two the allocation is the formula itself, and the two-cache is n/2 + 1 times larger', () => {
    for (const n of [16, 32, 64, 128]) {
      expect(allocatedTokenRows(n)).toBe(n);
      const st = gaussianStream(4, 4, n, 1, 1);
      const four = new FourCache({ policy: 'x', keyDim: 4, valueDim: 4 });
      const two = new TwoCache({ policy: 'x', keyDim: 4, valueDim: 4 });
      for (let t = 0; t < n; t++) {
        four.append(row(st.keys1, t, 4), row(st.keys2, t, 4), row(st.values1, t, 4), row(st.values2, t, 4));
        two.append(row(st.keys1, t, 4), row(st.keys2, t, 4), row(st.values1, t, 4), row(st.values2, t, 4));
      }
      expect(four.bytes).toBe(8 * 8 * n);
      expect(two.bytes).toBe(4 * 8 * (n * n + 2 * n));
      expect(two.bytes / four.bytes).toBe(n / 2 + 1);
    }
  });

  it('reset returns to an empty cache', () => {
    const st = gaussianStream(3, 2, 40, 9, 1);
    for (const [, make] of layouts) {
      const cache = make({ policy: 'x', keyDim: 3, valueDim: 2 });
      const fresh = cache.bytes;
      expect(fresh).toBe(0);
      for (let t = 0; t < 40; t++) cache.append(row(st.keys1, t, 3), row(st.keys2, t, 3), row(st.values1, t, 2), row(st.values2, t, 2));
      expect(cache.bytes).toBeGreaterThan(fresh);
      cache.reset();
      expect(cache.bytes).toBe(fresh);
      expect(cache.stored).toBe(0);
    }
  });
});

describe.each([
  { policy: 'tensor-four-cache', keyDim: 8, valueDim: 4 },
  { policy: 'tensor-four-cache', keyDim: 5, valueDim: 3, params: { pairs: 'materialized' } },
  { policy: 'tensor-two-cache', keyDim: 8, valueDim: 4 },
  { policy: 'tensor-two-cache', keyDim: 1, valueDim: 1, tau: 2 },
] satisfies PolicySpec[])('tensor conformance: $policy d=$keyDim', (spec) => {
  for (const c of tensorConformanceChecks({ spec, exact: true })) it(c.name, c.run);
});

describe.each([fourCacheDefinition, twoCacheDefinition])('core conformance of the matrix slice of $name', (def) => {
  const policy = matrixSlicePolicy(def);
  const registry = new PolicyRegistry().register(policy);
  const spec = { policy: policy.name, keyDim: 8, valueDim: 4 };
  for (const c of conformanceChecks({ registry, spec, exactSpec: spec, steps: 48 })) it(c.name, c.run);
});
