import { createKernelSums, isKvError, KvErrorCode, PolicyRegistry, type PolicySpec, Rng } from '@kv/core';
import { conformanceChecks } from '@kv/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gaussianStream, row } from '../test/streams.js';
import { matrixSlicePolicy } from './matrix-slice.js';
import { monomialCount } from '@kv/polynomial';
import { taylorCacheBytes } from './memory.js';
import { referenceTensorAttention } from './reference.js';
import { createTensorCache } from './registry.js';
import { MAX_MONOMIALS, TaylorCache, taylorCacheDefinition, taylorRelativeError } from './taylor-cache.js';
import { tensorConformanceChecks } from './testing/conformance.js';

/** A threshold no bound reaches: the series always answers. */
const NEVER = 1e300;

function expectKvError(fn: () => unknown, code: KvErrorCode): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(isKvError(caught, code), `expected ${code}, got ${String(caught)}`).toBe(true);
}

describe('TaylorCache features (the monomial basis of @kv/polynomial)', () => {
  it('one token: Z̃ = T_g(x) = Σ_{ℓ≤g} x^ℓ/ℓ! with x = τ<q, k1∘k2>, so 1/α! enters each pair once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.constantFrom(2, 4, 6, 8), fc.nat(), (d, g, seed) => {
        const st = gaussianStream(d, 1, 1, seed, 1.5);
        const cache = new TaylorCache({ policy: 'tensor-taylor', keyDim: d, valueDim: 1, tau: 0.7, params: { degree: g, threshold: NEVER } });
        const k1 = row(st.keys1, 0, d);
        const k2 = row(st.keys2, 0, d);
        cache.append(k1, k2, row(st.values1, 0, 1), row(st.values2, 0, 1));
        const q = row(st.queries, 0, d);
        let x = 0;
        for (let c = 0; c < d; c++) x += q[c]! * k1[c]! * k2[c]!;
        x *= 0.7;
        let term = 1;
        let taylor = 1;
        for (let l = 1; l <= g; l++) {
          term *= x / l;
          taylor += term;
        }
        const sums = cache.sums(q, createKernelSums(1));
        expect(Math.exp(sums.m) * sums.z).toBeCloseTo(taylor, 10);
      }),
      { numRuns: 60 },
    );
  });

  it(`refuses more than MAX_MONOMIALS = ${MAX_MONOMIALS} features before allocating them`, () => {
    expect(monomialCount(64, 4)).toBeLessThanOrEqual(MAX_MONOMIALS);
    expect(new TaylorCache({ policy: 'tensor-taylor', keyDim: 64, valueDim: 1, params: { degree: 4 } }).featureCount).toBe(monomialCount(64, 4));
    expect(monomialCount(64, 6)).toBeGreaterThan(MAX_MONOMIALS);
    expectKvError(() => new TaylorCache({ policy: 'tensor-taylor', keyDim: 64, valueDim: 1, params: { degree: 6 } }), KvErrorCode.InvalidParams);
    expectKvError(() => createTensorCache({ policy: 'tensor-taylor', keyDim: 64, valueDim: 1, params: { degree: 8 } }), KvErrorCode.InvalidParams);
  });
});

/** Largest |pair logit| over all pairs of the first n tokens, by the definition. */
function maxPairLogit(st: ReturnType<typeof gaussianStream>, n: number, q: Float32Array, tau: number): number {
  const d = st.d;
  let m = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let x = 0;
      for (let c = 0; c < d; c++) x += q[c]! * st.keys1[i * d + c]! * st.keys2[j * d + c]!;
      m = Math.max(m, Math.abs(x * tau));
    }
  }
  return m;
}

describe('TaylorCache guarantee', () => {
  const arb = fc.record({
    d: fc.integer({ min: 1, max: 4 }),
    s: fc.integer({ min: 1, max: 3 }),
    n: fc.integer({ min: 1, max: 12 }),
    degree: fc.constantFrom(2, 4, 6, 8),
    seed: fc.nat(),
    norm: fc.double({ min: 0.2, max: 1.6, noNaN: true }),
  });

  it('inside δ < 1: |Z̃/Z − 1| ≤ δ and |õut_c − out_c| ≤ 2δ/(1−δ)·V_c at every step, ρ certified', () => {
    let checked = 0;
    fc.assert(
      fc.property(arb, ({ d, s, n, degree, seed, norm }) => {
        const st = gaussianStream(d, s, n, seed, norm);
        const spec: PolicySpec = { policy: 'tensor-taylor', keyDim: d, valueDim: s, params: { degree, threshold: NEVER } };
        const cache = new TaylorCache(spec);
        const sums = createKernelSums(s);
        const out = new Float32Array(s);
        const want = new Float64Array(s);
        const bound = new Float64Array(s);
        for (let t = 0; t < n; t++) {
          cache.append(row(st.keys1, t, d), row(st.keys2, t, d), row(st.values1, t, s), row(st.values2, t, s));
          const q = row(st.queries, t, d);
          const rhoTrue = maxPairLogit(st, t + 1, q, cache.tau);
          const rho = cache.logitBound(q);
          expect(rho).toBeGreaterThanOrEqual(rhoTrue * (1 - 1e-12));
          const delta = taylorRelativeError(rhoTrue, degree);
          if (delta >= 0.5) continue;
          checked++;
          const ref = referenceTensorAttention(q, st.keys1, st.keys2, st.values1, st.values2, t + 1, cache.tau, want);
          cache.sums(q, sums);
          const zRatio = Math.exp(sums.m + Math.log(sums.z) - ref.logZ);
          expect(Math.abs(zRatio - 1)).toBeLessThanOrEqual(delta + 1e-9);
          cache.attend(q, out);
          cache.outputErrorBound(q, bound);
          for (let c = 0; c < s; c++) {
            let vc1 = 0;
            let vc2 = 0;
            for (let i = 0; i <= t; i++) {
              vc1 = Math.max(vc1, Math.abs(st.values1[i * s + c]!));
              vc2 = Math.max(vc2, Math.abs(st.values2[i * s + c]!));
            }
            const V = vc1 * vc2;
            const err = Math.abs(out[c]! - want[c]!);
            expect(err).toBeLessThanOrEqual(((2 * delta) / (1 - delta)) * V + 1e-6 * (1 + V));
            // The certified bound the cache reports is looser (ρ(q) ≥ true ρ) and still holds.
            expect(err).toBeLessThanOrEqual(bound[c]! + 1e-6 * (1 + V));
          }
        }
      }),
      { numRuns: 60 },
    );
    expect(checked).toBeGreaterThan(100);
  });

  it('is an approximation, not secretly exact: at ρ ≈ 1.3 and g = 2 the error is visible and within its bound', () => {
    const d = 2;
    const st = gaussianStream(d, 1, 6, 11, 1.6);
    const cache = new TaylorCache({ policy: 'tensor-taylor', keyDim: d, valueDim: 1, tau: 1, params: { degree: 2, threshold: NEVER } });
    for (let t = 0; t < 6; t++) cache.append(row(st.keys1, t, d), row(st.keys2, t, d), row(st.values1, t, 1), row(st.values2, t, 1));
    const q = new Float32Array([1.2, -0.9]);
    const want = referenceTensorAttention(q, st.keys1, st.keys2, st.values1, st.values2, 6, 1, new Float64Array(1));
    const sums = cache.sums(q, createKernelSums(1));
    const relZ = Math.abs(Math.exp(sums.m + Math.log(sums.z) - want.logZ) - 1);
    const rho = maxPairLogit(st, 6, q, 1);
    expect(rho).toBeGreaterThan(0.5);
    expect(relZ).toBeGreaterThan(1e-4);
    expect(relZ).toBeLessThanOrEqual(taylorRelativeError(rho, 2));
  });

  it('outside its assumptions the series degrades as documented: finite, positive Z̃, vacuous bound, large error', () => {
    // Pairs (i, j) with logits ±L and values ±1: exact output tanh(L); degree 2 gives 2L/(2 + L²).
    const cache = new TaylorCache({ policy: 'tensor-taylor', keyDim: 1, valueDim: 1, tau: 1, params: { degree: 2, threshold: NEVER } });
    const one = new Float32Array([1]);
    const minus = new Float32Array([-1]);
    cache.append(one, one, one, one);
    cache.append(one, minus, one, minus);
    const L = 6;
    const q = new Float32Array([L]);
    const out = cache.attend(q, new Float32Array(1));
    expect(out[0]).toBeCloseTo((2 * L) / (2 + L * L), 6);
    expect(Math.abs(out[0]! - Math.tanh(L))).toBeGreaterThan(0.5);
    expect(cache.logitBound(q)).toBe(L);
    expect(cache.relativeErrorBound(q)).toBeGreaterThan(1);
    expect(cache.outputErrorBound(q, new Float64Array(1))[0]).toBe(Infinity);
    // Inside (L = 0.25) the same cache is accurate to its bound.
    const small = new Float32Array([0.25]);
    const err = Math.abs(cache.attend(small, new Float32Array(1))[0]! - Math.tanh(0.25));
    expect(err).toBeLessThanOrEqual(cache.outputErrorBound(small, new Float64Array(1))[0]!);
  });

  it('with maxLogit it refuses queries beyond the certified bound and its state is unchanged', () => {
    const spec: PolicySpec = { policy: 'tensor-taylor', keyDim: 3, valueDim: 2, params: { degree: 4, maxLogit: 1 } };
    const st = gaussianStream(3, 2, 10, 5, 1);
    const cache = createTensorCache(spec) as TaylorCache;
    const twin = createTensorCache(spec) as TaylorCache;
    for (let t = 0; t < 10; t++) {
      cache.append(row(st.keys1, t, 3), row(st.keys2, t, 3), row(st.values1, t, 2), row(st.values2, t, 2));
      twin.append(row(st.keys1, t, 3), row(st.keys2, t, 3), row(st.values1, t, 2), row(st.values2, t, 2));
    }
    const q0 = row(st.queries, 0, 3);
    const rho0 = cache.logitBound(q0);
    const q = q0.map((x) => (x * 0.5) / rho0);
    const far = q0.map((x) => (x * 2) / rho0);
    expect(cache.logitBound(q)).toBeCloseTo(0.5, 6);
    const bytes = cache.bytes;
    expectKvError(() => cache.attend(far, new Float32Array(2)), KvErrorCode.AssumptionViolated);
    expectKvError(() => cache.sums(far, createKernelSums(2)), KvErrorCode.AssumptionViolated);
    expect(cache.seen).toBe(10);
    expect(cache.bytes).toBe(bytes);
    expect([...cache.attend(q, new Float32Array(2))]).toEqual([...twin.attend(q, new Float32Array(2))]);
  });

  it('rejects bad parameters and budgets with typed errors', () => {
    const base = { policy: 'tensor-taylor', keyDim: 4, valueDim: 2 };
    expectKvError(() => createTensorCache({ ...base, params: { degree: 3 } }), KvErrorCode.InvalidParams);
    expectKvError(() => createTensorCache({ ...base, params: { degree: 40 } }), KvErrorCode.InvalidParams);
    expectKvError(() => createTensorCache({ ...base, params: { maxLogit: -1 } }), KvErrorCode.InvalidParams);
    expectKvError(() => createTensorCache({ ...base, params: { degre: 4 } }), KvErrorCode.InvalidParams);
    expectKvError(() => createTensorCache({ ...base, budget: 10 }), KvErrorCode.InvalidBudget);
    expectKvError(() => createTensorCache({ ...base, budget: { ratio: 0.5 } }), KvErrorCode.InvalidBudget);
    const needed = Math.ceil(taylorCacheBytes(4, 2, 4).live / (8 * 6));
    expect(createTensorCache({ ...base, budget: needed }).capacity).toBe(needed);
    expectKvError(() => createTensorCache({ ...base, budget: needed - 1, params: { degree: 4 } }), KvErrorCode.InvalidBudget);
    // By default the degree is the largest that fits: 2 here.
    expect((createTensorCache({ ...base, budget: needed - 1 }) as TaylorCache).degree).toBe(2);
  });
});

describe('TaylorCache memory matches its formula exactly', () => {
  it('moments and basis tables after the first token, whatever n; 0 when empty', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom(2, 4, 6), fc.integer({ min: 1, max: 40 }), (d, s, degree, n) => {
        const cache = new TaylorCache({ policy: 'tensor-taylor', keyDim: d, valueDim: s, params: { degree } });
        expect(cache.bytes).toBe(0);
        expect(cache.stored).toBe(0);
        const st = gaussianStream(d, s, n, n, 1);
        const f = taylorCacheBytes(d, s, degree);
        const F = monomialCount(d, degree);
        // Moments and maxima and the basis tables (7 bytes per monomial + block starts); no scratch.
        expect(f.live).toBe(8 * (F * (2 + 2 * s) + 2 * s + 4) + 7 * F + 4 * (degree + 2));
        for (let t = 0; t < n; t++) {
          cache.append(row(st.keys1, t, d), row(st.keys2, t, d), row(st.values1, t, s), row(st.values2, t, s));
          expect(cache.bytes).toBe(f.live);
          expect(cache.stored).toBe(Math.ceil(f.live / (8 * (d + s))));
        }
        cache.reset();
        expect(cache.bytes).toBe(0);
      }),
      { numRuns: 30 },
    );
  });
});

describe('tensor conformance: tensor-taylor', () => {
  for (const c of tensorConformanceChecks({ spec: { policy: 'tensor-taylor', keyDim: 4, valueDim: 3, params: { degree: 6 } }, norm: 1 })) {
    it(c.name, c.run);
  }
});

describe('tensor conformance: tensor-taylor with maxLogit', () => {
  for (const c of tensorConformanceChecks({ spec: { policy: 'tensor-taylor', keyDim: 3, valueDim: 2, params: { degree: 4, maxLogit: 2 } }, norm: 1 })) {
    it(c.name, c.run);
  }
});

describe('core conformance of the matrix slice of tensor-taylor', () => {
  const policy = matrixSlicePolicy(taylorCacheDefinition);
  const registry = new PolicyRegistry().register(policy);
  for (const c of conformanceChecks({ registry, spec: { policy: policy.name, keyDim: 4, valueDim: 3, params: { degree: 6 } }, steps: 48, norm: 1 })) {
    it(c.name, c.run);
  }
});

describe.each([{ bytes: 6000 }, { fraction: 0.5, minBytes: 6000 }])('tensor-taylor sized to the budget %j', (budget) => {
  const spec: PolicySpec = { policy: 'tensor-taylor', keyDim: 4, valueDim: 3, budget };
  it('picks the largest even degree ≤ 4 whose state fits', () => {
    expect((createTensorCache(spec) as TaylorCache).degree).toBe(4);
    expect(taylorCacheBytes(4, 3, 4).live).toBeLessThanOrEqual(6000);
  });
  for (const c of tensorConformanceChecks({ spec, norm: 1 })) it(c.name, c.run);
  const policy = matrixSlicePolicy(taylorCacheDefinition);
  const registry = new PolicyRegistry().register(policy);
  for (const c of conformanceChecks({ registry, spec: { ...spec, policy: policy.name }, steps: 48, norm: 1 })) it(`matrix slice: ${c.name}`, c.run);
});

describe('tensor-taylor at large norms (1e2, 1e3)', () => {
  it.each([1e2, 1e3])('norm %d: finite, bounded by the value products, and every answer off by 100% or more is a counted fallback', (norm) => {
    const d = 6;
    const s = 3;
    const rng = new Rng(7);
    const unit = (): Float32Array => {
      const v = rng.fillGaussian(new Float32Array(d));
      const n = Math.hypot(...v);
      return v.map((x) => (x * Math.sqrt(norm)) / n);
    };
    const cache = new TaylorCache({ policy: 'tensor-taylor', keyDim: d, valueDim: s, params: { degree: 4 } });
    const k1: Float32Array[] = [];
    const k2: Float32Array[] = [];
    const v1: Float32Array[] = [];
    const v2: Float32Array[] = [];
    const out = new Float32Array(s);
    const want = new Float64Array(s);
    let before = 0;
    let bound = 0;
    for (let t = 0; t < 30; t++) {
      k1.push(unit());
      k2.push(unit());
      v1.push(rng.fillGaussian(new Float32Array(s)));
      v2.push(rng.fillGaussian(new Float32Array(s)));
      for (let c = 0; c < s; c++) bound = Math.max(bound, Math.abs(v1[t]![c]!), Math.abs(v2[t]![c]!));
      cache.append(k1[t]!, k2[t]!, v1[t]!, v2[t]!);
      const q = unit().map((x) => x * Math.sqrt(norm));
      cache.attend(q, out);
      const flagged = cache.fallbacks > before;
      before = cache.fallbacks;
      expect(out.every(Number.isFinite)).toBe(true);
      for (const x of out) expect(Math.abs(x)).toBeLessThanOrEqual(bound * bound * (1 + 1e-6));
      const flat = (list: Float32Array[]) => {
        const a = new Float32Array(list.length * list[0]!.length);
        list.forEach((x, i) => a.set(x, i * x.length));
        return a;
      };
      referenceTensorAttention(q, flat(k1), flat(k2), flat(v1), flat(v2), t + 1, cache.tau, want);
      let num = 0;
      let den = 0;
      for (let c = 0; c < s; c++) {
        num += (out[c]! - want[c]!) ** 2;
        den += want[c]! ** 2;
      }
      if (!flagged) expect(Math.sqrt(num / den)).toBeLessThan(1);
    }
    expect(cache.describe().stats['fallbacks']).toBe(cache.fallbacks);
    expect(cache.fallbacks).toBeGreaterThan(0);
  });

  it('strict keeps the Taylor answers (no fallback) on the same inputs', () => {
    const d = 6;
    const s = 3;
    const rng = new Rng(7);
    const unit = (r: number): Float32Array => {
      const v = rng.fillGaussian(new Float32Array(d));
      const n = Math.hypot(...v);
      return v.map((x) => (x * r) / n);
    };
    const strict = new TaylorCache({ policy: 'tensor-taylor', keyDim: d, valueDim: s, params: { degree: 4, strict: true } });
    const lenient = new TaylorCache({ policy: 'tensor-taylor', keyDim: d, valueDim: s, params: { degree: 4 } });
    for (let t = 0; t < 30; t++) {
      const [k1, k2, v1, v2, q] = [unit(10), unit(10), rng.fillGaussian(new Float32Array(s)), rng.fillGaussian(new Float32Array(s)), unit(100)];
      for (const c of [strict, lenient]) {
        c.append(k1, k2, v1, v2);
        c.attend(q, new Float32Array(s));
      }
    }
    expect(strict.fallbacks).toBe(0);
    expect(lenient.fallbacks).toBe(30);
  });
});
