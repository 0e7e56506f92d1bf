import { budgetBytes, ExactCache, PolicyRegistry, Rng, setKernelBackend, type PolicySpec } from '@kv/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kivi, kiviPolicy } from './kivi.js';

const registry = new PolicyRegistry().register(kiviPolicy);
const kivi = (spec: Omit<PolicySpec, 'policy'>): Kivi => registry.create({ policy: 'kivi', ...spec }) as Kivi;

const configArb = fc.record({
  d: fc.integer({ min: 1, max: 12 }),
  s: fc.integer({ min: 1, max: 12 }),
  bits: fc.constantFrom(2, 4, 8),
  group: fc.integer({ min: 1, max: 8 }),
  residual: fc.integer({ min: 0, max: 8 }),
  n: fc.integer({ min: 1, max: 60 }),
  scale: fc.constantFrom<number>(1e-3, 1, 37, 1e3),
  seed: fc.integer({ min: 0, max: 1 << 30 }),
});

type Config = typeof configArb extends fc.Arbitrary<infer T> ? T : never;

function stream(c: Config): { keys: Float32Array[]; values: Float32Array[] } {
  const rng = new Rng(c.seed);
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  for (let t = 0; t < c.n; t++) {
    const k = rng.fillGaussian(new Float32Array(c.d), c.scale);
    // A constant channel (range 0) must come back exactly.
    k[0] = 0.5;
    keys.push(k);
    values.push(rng.fillGaussian(new Float32Array(c.s), c.scale, c.scale));
  }
  return { keys, values };
}

// Rounding of the Float32 scale and of the Float32 output adds a few ulps of the range.
const slack = (lo: number, hi: number): number => 2 ** -20 * (Math.abs(lo) + Math.abs(hi));

// Every test runs on both attention paths: the WebAssembly SIMD kernels (core's backend 'wasm',
// the default) and the JavaScript fallback ('js'). The backend is read when a cache first
// allocates quantized groups (where its codes live) and at every query (which kernels run).
for (const backend of ['wasm', 'js'] as const) {
  describe(`kivi on the ${backend} path`, () => {
    beforeAll(() => {
      setKernelBackend(backend);
    });
    afterAll(() => {
      setKernelBackend('auto');
    });

    describe('kivi quantization error', () => {
      it('is within half a quantization step per element (keys per channel, values per token), residual exact', () => {
        fc.assert(
          fc.property(configArb, (c) => {
            const cache = kivi({ keyDim: c.d, valueDim: c.s, params: { bits: c.bits, group: c.group, residual: c.residual } });
            const { keys, values } = stream(c);
            for (let t = 0; t < c.n; t++) cache.append(keys[t]!, values[t]!);
            const snap = cache.reconstruct();
            const levels = 2 ** c.bits - 1;
            expect([...snap.positions]).toEqual(Array.from({ length: c.n }, (_, i) => i));
            for (let p = 0; p < c.n; p++) {
              for (let j = 0; j < c.d; j++) {
                const got = snap.keys[p * c.d + j]!;
                const want = keys[p]![j]!;
                if (p >= snap.quantized) {
                  expect(got).toBe(want);
                  continue;
                }
                const g0 = Math.floor(p / c.group) * c.group;
                let lo = Infinity;
                let hi = -Infinity;
                for (let t = g0; t < g0 + c.group; t++) {
                  lo = Math.min(lo, keys[t]![j]!);
                  hi = Math.max(hi, keys[t]![j]!);
                }
                expect(Math.abs(got - want)).toBeLessThanOrEqual((hi - lo) / levels / 2 + slack(lo, hi));
              }
              for (let j = 0; j < c.s; j++) {
                const got = snap.values[p * c.s + j]!;
                const want = values[p]![j]!;
                if (p >= snap.quantized) {
                  expect(got).toBe(want);
                  continue;
                }
                const j0 = Math.floor(j / c.group) * c.group;
                const row = values[p]!.subarray(j0, Math.min(c.s, j0 + c.group));
                const lo = Math.min(...row);
                const hi = Math.max(...row);
                expect(Math.abs(got - want)).toBeLessThanOrEqual((hi - lo) / levels / 2 + slack(lo, hi));
              }
            }
          }),
          { numRuns: 60 },
        );
      });

      it('answers within the bound the per-element errors imply: |Δout| ≤ max|δv| + (e^{2ε} − 1)·max|v|', () => {
        // With logit errors |Δ_i| ≤ ε, every probability moves by a factor within e^{±2ε}, so
        // Σ|p' − p| ≤ e^{2ε} − 1; the value errors add at most max|δv|.
        fc.assert(
          fc.property(configArb, (c) => {
            const cache = kivi({ keyDim: c.d, valueDim: c.s, params: { bits: c.bits, group: c.group, residual: c.residual } });
            const exact = new ExactCache({ policy: 'exact', keyDim: c.d, valueDim: c.s });
            const { keys, values } = stream({ ...c, scale: Math.min(c.scale, 1) });
            for (let t = 0; t < c.n; t++) {
              cache.append(keys[t]!, values[t]!);
              exact.append(keys[t]!, values[t]!);
            }
            const snap = cache.reconstruct();
            const q = new Rng(c.seed + 1).fillGaussian(new Float32Array(c.d));
            let eps = 0;
            let dv = 0;
            let vmax = 0;
            for (let p = 0; p < c.n; p++) {
              let dl = 0;
              for (let j = 0; j < c.d; j++) dl += q[j]! * (snap.keys[p * c.d + j]! - keys[p]![j]!);
              eps = Math.max(eps, Math.abs(cache.tau * dl));
              for (let j = 0; j < c.s; j++) {
                dv = Math.max(dv, Math.abs(snap.values[p * c.s + j]! - values[p]![j]!));
                vmax = Math.max(vmax, Math.abs(values[p]![j]!));
              }
            }
            const got = cache.attend(q, new Float32Array(c.s));
            const want = exact.attend(q, new Float32Array(c.s));
            const bound = dv + Math.expm1(2 * eps) * vmax + 1e-6 * (1 + vmax);
            for (let j = 0; j < c.s; j++) expect(Math.abs(got[j]! - want[j]!)).toBeLessThanOrEqual(bound);
          }),
          { numRuns: 60 },
        );
      });

      it('equals exact attention while the stream fits in the full-precision residual', () => {
        fc.assert(
          fc.property(configArb, (c) => {
            const residual = c.n; // the first flush happens at residual + group tokens
            const cache = kivi({ keyDim: c.d, valueDim: c.s, params: { bits: c.bits, group: c.group, residual } });
            const exact = new ExactCache({ policy: 'exact', keyDim: c.d, valueDim: c.s });
            const { keys, values } = stream(c);
            const rng = new Rng(c.seed + 2);
            for (let t = 0; t < c.n; t++) {
              cache.append(keys[t]!, values[t]!);
              exact.append(keys[t]!, values[t]!);
              const q = rng.fillGaussian(new Float32Array(c.d), 1 / c.scale);
              const got = cache.attend(q, new Float32Array(c.s));
              const want = exact.attend(q, new Float32Array(c.s));
              for (let j = 0; j < c.s; j++) expect(Math.abs(got[j]! - want[j]!)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(want[j]!)) * c.n);
            }
            expect(cache.quantizedTokens).toBe(0);
          }),
          { numRuns: 40 },
        );
      });

      // The attend path works on the packed codes (query folded into the key scales, values
      // accumulated per code); it must answer as exact attention over the dequantized tokens.
      const matchesDequantized = (cache: Kivi, queries: Float32Array[], s: number): void => {
        const snap = cache.reconstruct();
        const exact = new ExactCache({ policy: 'exact', keyDim: cache.keyDim, valueDim: s });
        exact.prefill(snap.keys, snap.values);
        let vmax = 0;
        for (const x of snap.values) vmax = Math.max(vmax, Math.abs(x));
        for (const q of queries) {
          const got = cache.attend(q, new Float32Array(s));
          const want = exact.attend(q, new Float32Array(s));
          for (let j = 0; j < s; j++) expect(Math.abs(got[j]! - want[j]!)).toBeLessThanOrEqual(1e-5 * vmax);
        }
      };

      it('answers on the codes as exact attention over its dequantized tokens', () => {
        fc.assert(
          fc.property(configArb, (c) => {
            const cache = kivi({ keyDim: c.d, valueDim: c.s, params: { bits: c.bits, group: c.group, residual: c.residual } });
            const { keys, values } = stream(c);
            for (let t = 0; t < c.n; t++) cache.append(keys[t]!, values[t]!);
            const rng = new Rng(c.seed + 3);
            const queries = Array.from({ length: 3 }, () => rng.fillGaussian(new Float32Array(c.d), 1 / c.scale));
            matchesDequantized(cache, queries, c.s);
          }),
          { numRuns: 60 },
        );
      });

      it('answers as attention over its dequantized tokens at the default shape (d = s = 128, groups of 32)', () => {
        const rng = new Rng(11);
        for (const bits of [2, 4, 8]) {
          for (const budget of [undefined, 200]) {
            const cache = kivi({ keyDim: 128, valueDim: 128, budget, params: { bits } });
            cache.prefill(rng.fillGaussian(new Float32Array(300 * 128)), rng.fillGaussian(new Float32Array(300 * 128), 0.5, 2));
            expect(cache.quantizedTokens).toBeGreaterThan(0);
            const queries = Array.from({ length: 4 }, (_, i) => rng.fillGaussian(new Float32Array(128), i + 1));
            matchesDequantized(cache, queries, 128);
          }
        }
      });
    });

    describe('kivi memory', () => {
      it('holds exactly the packed codes, Float32 scales/zero points and the residual', () => {
        const d = 64;
        const s = 64;
        const cache = kivi({ keyDim: d, valueDim: s, params: { bits: 2 } });
        const rng = new Rng(3);
        // 1088 tokens: 32 groups of 32 quantized (a power of two, so no spare allocation) + 64 residual.
        for (let t = 0; t < 1088; t++) cache.append(rng.fillGaussian(new Float32Array(d)), rng.fillGaussian(new Float32Array(s)));
        expect(cache.quantizedTokens).toBe(1024);
        expect(cache.residualTokens).toBe(64);
        const perGroup = 32 * (d / 4) + 32 * (s / 4) + 2 * 4 * d + 2 * 4 * 32 * (s / 32);
        expect(cache.bytes).toBe(32 * perGroup + 64 * 4 * (d + s));
        expect(cache.stored).toBe(Math.ceil(cache.bytes / (4 * (d + s))));
      });

      it('under a fixed budget drops the oldest quantized group and never exceeds the budget', () => {
        const d = 8;
        const s = 8;
        const cache = kivi({ keyDim: d, valueDim: s, budget: 40, params: { bits: 4, group: 4, residual: 4 } });
        const rng = new Rng(4);
        const out = new Float32Array(s);
        for (let t = 0; t < 300; t++) {
          cache.append(rng.fillGaussian(new Float32Array(d)), rng.fillGaussian(new Float32Array(s)));
          cache.attend(rng.fillGaussian(new Float32Array(d)), out);
          expect(cache.bytes).toBeLessThanOrEqual(40 * 4 * (d + s));
          expect(cache.stored).toBeLessThanOrEqual(cache.capacity);
          const pos = cache.positions();
          expect(pos[pos.length - 1]).toBe(t);
        }
        // As many groups as fit beside the residual: one more would break the budget.
        const groupBytes = 4 * 4 + 4 * 4 + 8 * d + 8 * 4 * 2;
        expect(cache.bytes + groupBytes).toBeGreaterThan(40 * 4 * (d + s));
        expect(cache.positions().length).toBeLessThan(300);
      });

      it('grows with a {ratio, min} budget, never exceeding it, and holds more tokens as the stream grows', () => {
        const d = 8;
        const s = 8;
        // residual 4 + group 4 = 8 rows of 64 bytes, plus one 4-bit group (160 bytes): min 11.
        const cache = kivi({ keyDim: d, valueDim: s, budget: { ratio: 0.2, min: 11 }, params: { bits: 4, group: 4, residual: 4 } });
        const rng = new Rng(5);
        const held: number[] = [];
        for (let t = 0; t < 3000; t++) {
          cache.append(rng.fillGaussian(new Float32Array(d)), rng.fillGaussian(new Float32Array(s)));
          expect(cache.bytes).toBeLessThanOrEqual(cache.capacity * 4 * (d + s));
          expect(cache.stored).toBeLessThanOrEqual(cache.capacity);
          if (t % 500 === 499) held.push(cache.positions().length);
        }
        for (let i = 1; i < held.length; i++) expect(held[i]!).toBeGreaterThan(held[i - 1]!);
        // The groups grow with the budget: one more would not fit.
        const groupBytes = 4 * 4 + 4 * 4 + 8 * d + 8 * 4 * 2;
        expect(cache.bytes + groupBytes).toBeGreaterThan(Math.ceil(0.2 * 3000) * 4 * (d + s));
      });

      it('fits budgets below the residual plus a group as a float32 window, and refuses bad bit widths', () => {
        const d = 8;
        const s = 8;
        const rng = new Rng(6);
        for (const budget of [4, { ratio: 0.05 }, { bytes: 300 }, { fraction: 1 / 16 }] as const) {
          const cache = kivi({ keyDim: d, valueDim: s, budget, params: { bits: 2, group: 32, residual: 32 } });
          for (let t = 0; t < 200; t++) {
            cache.append(rng.fillGaussian(new Float32Array(d)), rng.fillGaussian(new Float32Array(s)));
            const allowed = budgetBytes(budget, t + 1, d, s);
            expect(cache.bytes).toBeLessThanOrEqual(allowed);
            // Nothing is quantized (a group needs 64 float32 rows first): the newest rows that fit.
            const rows = Math.min(t + 1, Math.floor(allowed / (4 * (d + s))));
            expect([...cache.positions()]).toEqual(Array.from({ length: rows }, (_, i) => t + 1 - rows + i));
            expect(cache.quantizedTokens).toBe(0);
          }
        }
        expect(() => kivi({ keyDim: d, valueDim: s, params: { bits: 3 } })).toThrow(expect.objectContaining({ code: 'KV_INVALID_PARAMS' }));
      });
    });
  });
}
