import { createKernelSums, type KernelSums, logNormalizer, PolicyRegistry, Rng, setKernelBackend, sumsToOutput } from '@kv/core';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Kivi, kiviPolicy } from './kivi.js';

// The WebAssembly SIMD path and the JavaScript path compute the same Float64 sums in different
// orders (SIMD lanes hold partial sums), so they agree up to rounding. Forward-error bound used
// here, for u = 2⁻⁵³ and γ_k = k·u/(1 − k·u):
//   - a logit is τ·(Σ_j (q_j·step_j)·c_j + Σ_j q_j·lo_j): on either path within γ_{2d+4}·A of the
//     exact value, A = τ·Σ_j |q_j|·(|lo_j| + levels·step_j) ≤ τ·Σ_j |q_j|·3·K_j with K_j the largest
//     |dequantized key| of channel j; so the paths' logits differ by at most δ = 2·γ_{2d+4}·A;
//   - weights exp(l − M) then differ by a factor within e^{±2δ}, so log Z by at most 2δ and the
//     normalised output by at most (e^{4δ} − 1)·3·V (V the largest |dequantized value|);
//   - each value accumulator sums at most n terms w·(step·c) and w·lo (each ≤ w·3·V) and is rescaled
//     at most once per group: per path within γ_{n+groups+4}·3·V·Z, so twice that between paths.
// The test allows 4× this bound; a wrong decoded code moves the output by a whole step.
const U = 2 ** -53;
const gamma = (k: number): number => (k * U) / (1 - k * U);

const registry = new PolicyRegistry().register(kiviPolicy);

afterAll(() => {
  setKernelBackend('auto');
});

interface Config {
  d: number;
  s: number;
  bits: number;
  group: number;
  residual: number;
  n: number;
  scale: number;
  budget: number | undefined;
  seed: number;
}

const configArb = (bits: number): fc.Arbitrary<Config> =>
  fc.record({
    // Lengths not multiples of 4 (or of the codes per byte), groups not aligned to bytes.
    d: fc.integer({ min: 1, max: 70 }),
    s: fc.integer({ min: 1, max: 70 }),
    bits: fc.constant(bits),
    group: fc.integer({ min: 1, max: 40 }),
    residual: fc.integer({ min: 0, max: 8 }),
    n: fc.integer({ min: 1, max: 160 }),
    scale: fc.constantFrom(1e-3, 1, 37, 1e3),
    budget: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
    seed: fc.integer({ min: 0, max: 1 << 30 }),
  });

// The same stream into two caches: one filled under the wasm backend (its codes live in a
// WebAssembly memory), one under js (plain arrays).
function pair(c: Config): { wasm: Kivi; js: Kivi } {
  const make = (): Kivi => {
    const spec = { policy: 'kivi', keyDim: c.d, valueDim: c.s, params: { bits: c.bits, group: c.group, residual: c.residual } };
    // A budget at least the residual plus one group (smaller ones hold no quantized group).
    const G = c.group;
    const groupBytes = G * Math.ceil((c.d * c.bits) / 8) + G * Math.ceil((c.s * c.bits) / 8) + 8 * c.d + 8 * G * Math.ceil(c.s / G);
    const need = Math.ceil(((c.residual + G) * 4 * (c.d + c.s) + groupBytes) / (4 * (c.d + c.s)));
    return new Kivi(c.budget === undefined ? spec : { ...spec, budget: need + c.budget });
  };
  const rng = new Rng(c.seed);
  const keys = rng.fillGaussian(new Float32Array(c.n * c.d), c.scale);
  const values = rng.fillGaussian(new Float32Array(c.n * c.s), c.scale, c.scale);
  setKernelBackend('wasm');
  const wasm = make();
  for (let t = 0; t < c.n; t++) wasm.append(keys.subarray(t * c.d, (t + 1) * c.d), values.subarray(t * c.s, (t + 1) * c.s));
  setKernelBackend('js');
  const js = make();
  for (let t = 0; t < c.n; t++) js.append(keys.subarray(t * c.d, (t + 1) * c.d), values.subarray(t * c.s, (t + 1) * c.s));
  return { wasm, js };
}

function expectAgreement(c: Config, wasm: Kivi, js: Kivi, queries: Float32Array[], wasmBackend: 'wasm' | 'js'): void {
  const snap = js.reconstruct();
  const K = new Float64Array(c.d);
  for (let i = 0; i < snap.keys.length; i++) K[i % c.d] = Math.max(K[i % c.d]!, Math.abs(snap.keys[i]!));
  let V = 0;
  for (const x of snap.values) V = Math.max(V, Math.abs(x));
  V *= 3;
  const groups = wasm.quantizedTokens / c.group;
  for (const q of queries) {
    let A = 0;
    for (let j = 0; j < c.d; j++) A += Math.abs(q[j]!) * 3 * K[j]!;
    A *= js.tau;
    const delta = 2 * gamma(2 * c.d + 4) * A;
    setKernelBackend(wasmBackend);
    const a: KernelSums = wasm.sums(q, createKernelSums(c.s));
    setKernelBackend('js');
    const b: KernelSums = js.sums(q, createKernelSums(c.s));
    expect(Math.abs(logNormalizer(a) - logNormalizer(b))).toBeLessThanOrEqual(4 * (2 * delta + 4 * U * (1 + Math.abs(logNormalizer(b)))));
    const oa = sumsToOutput(a, new Float64Array(c.s));
    const ob = sumsToOutput(b, new Float64Array(c.s));
    const tol = 4 * (Math.expm1(4 * delta) * V + 2 * gamma(c.n + groups + 4) * V) + 1e-300;
    for (let j = 0; j < c.s; j++) expect(Math.abs(oa[j]! - ob[j]!)).toBeLessThanOrEqual(tol);
  }
}

const queriesOf = (c: Config, count: number): Float32Array[] => {
  const rng = new Rng(c.seed + 7);
  return Array.from({ length: count }, () => rng.fillGaussian(new Float32Array(c.d), 1 / c.scale));
};

describe('kivi WebAssembly SIMD path', () => {
  for (const bits of [2, 4, 8]) {
    it(`agrees with the JS path within the forward-error bound (${bits}-bit, random shapes, unaligned groups)`, () => {
      fc.assert(
        fc.property(configArb(bits), (c) => {
          const { wasm, js } = pair(c);
          // Same quantization on both paths: the stored codes and scales are identical.
          const sw = wasm.reconstruct();
          const sj = js.reconstruct();
          expect(sw.quantized).toBe(sj.quantized);
          expect(sw.keys).toEqual(sj.keys);
          expect(sw.values).toEqual(sj.values);
          expect(wasm.bytes).toBe(js.bytes);
          if (wasm.quantizedTokens > 0) {
            // The wasm cache's codes and scales live in a WebAssembly memory; the JS ones not.
            expect(wasm.describe().stats['kernel']).toBe('wasm');
            expect(js.describe().stats['kernel']).toBe('js');
          }
          expectAgreement(c, wasm, js, queriesOf(c, 3), 'wasm');
        }),
        { numRuns: 40 },
      );
    });
  }

  it('agrees with the JS path at the default shape (d = s = 128, groups of 32, residual 32), with and without budget', () => {
    for (const bits of [2, 4, 8]) {
      for (const budget of [undefined, 60]) {
        const c: Config = { d: 128, s: 128, bits, group: 32, residual: 32, n: 400, scale: 1, budget, seed: 100 + bits };
        const { wasm, js } = pair(c);
        expect(wasm.quantizedTokens).toBeGreaterThan(0);
        expectAgreement(c, wasm, js, queriesOf(c, 4), 'wasm');
      }
    }
  });

  it('uses a bound far below one quantization step at the default shape (so a wrong code is caught)', () => {
    // Guard against a vacuous bound: at the default shape the allowed difference is far below one
    // quantization step of the values.
    const c: Config = { d: 128, s: 128, bits: 2, group: 32, residual: 32, n: 200, scale: 1, budget: undefined, seed: 5 };
    const { js } = pair(c);
    const q = queriesOf(c, 1)[0]!;
    let A = 0;
    const snap = js.reconstruct();
    let kmax = 0;
    for (const x of snap.keys) kmax = Math.max(kmax, Math.abs(x));
    for (let j = 0; j < c.d; j++) A += Math.abs(q[j]!) * 3 * kmax;
    const delta = 2 * gamma(2 * c.d + 4) * A * js.tau;
    expect(4 * Math.expm1(4 * delta)).toBeLessThan(1e-9);
  });

  it('keeps working when the backend changes after the codes moved to WebAssembly memory', () => {
    const c: Config = { d: 9, s: 13, bits: 4, group: 6, residual: 3, n: 90, scale: 1, budget: undefined, seed: 9 };
    const { wasm, js } = pair(c);
    // The wasm cache's views answered by the JS kernels.
    expectAgreement(c, wasm, js, queriesOf(c, 3), 'js');
    setKernelBackend('js');
    const rng = new Rng(3);
    for (let t = 0; t < 40; t++) {
      const k = rng.fillGaussian(new Float32Array(c.d));
      const v = rng.fillGaussian(new Float32Array(c.s));
      wasm.append(k, v);
      js.append(k, v);
    }
    expectAgreement({ ...c, n: c.n + 40 }, wasm, js, queriesOf(c, 3), 'wasm');
    wasm.reset();
    js.reset();
    expect(wasm.bytes).toBe(0);
  });
});
