import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKvError, KvErrorCode } from './errors.js';
import { ExactCache, exactPolicy } from './exact.js';
import { referenceAttention } from './reference.js';
import { PolicyRegistry } from './registry.js';
import { conformanceChecks } from './testing/conformance.js';

const EPS = 2 ** -53;
const registry = new PolicyRegistry().register(exactPolicy);

const stream = fc
  .record({ d: fc.integer({ min: 1, max: 24 }), s: fc.integer({ min: 1, max: 8 }), n: fc.integer({ min: 1, max: 300 }) })
  .chain(({ d, s, n }) =>
    fc.record({
      d: fc.constant(d),
      s: fc.constant(s),
      n: fc.constant(n),
      keys: fc.float32Array({ minLength: n * d, maxLength: n * d, min: -8, max: 8, noNaN: true, noDefaultInfinity: true }),
      values: fc.float32Array({ minLength: n * s, maxLength: n * s, min: -8, max: 8, noNaN: true, noDefaultInfinity: true }),
      query: fc.float32Array({ minLength: d, maxLength: d, min: -8, max: 8, noNaN: true, noDefaultInfinity: true }),
    }),
  );

describe('ExactCache', () => {
  it('equals a float64 naive softmax within the forward-error bound of its summation', () => {
    fc.assert(
      fc.property(stream, ({ d, s, n, keys, values, query }) => {
        const cache = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s });
        cache.prefill(keys, values);
        const got = cache.attend(query, new Float32Array(s));
        const want = referenceAttention(query, keys, values, n, 1 / Math.sqrt(d), new Float64Array(s)).out;
        // Logits carry d·eps relative error times |logit| ≤ 64·d/√d; exp turns that into a relative
        // weight error; sums over n terms add n·eps; the output is rounded to float32 (eps32).
        const maxLogit = 64 * Math.sqrt(d);
        const weightErr = 4 * d * EPS * maxLogit + 4 * n * EPS;
        for (let j = 0; j < s; j++) {
          let vmax = 0;
          for (let i = 0; i < n; i++) vmax = Math.max(vmax, Math.abs(values[i * s + j]!));
          expect(Math.abs(got[j]! - want[j]!)).toBeLessThanOrEqual(2 * weightErr * vmax + 2 ** -24 * Math.abs(want[j]!) + 1e-30);
        }
      }),
    );
  });

  it('stays finite with keys and queries of norm up to 1e4 and picks the dominant key', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 64 }), fc.double({ min: 1, max: 1e4, noNaN: true }), fc.integer({ min: 2, max: 50 }), (d, norm, n) => {
        const cache = new ExactCache({ policy: 'exact', keyDim: d, valueDim: 2 });
        for (let i = 0; i < n; i++) {
          const k = new Float32Array(d);
          k[i % d] = i === n - 1 ? norm : -norm;
          cache.append(k, new Float32Array([i, 1]));
        }
        const q = new Float32Array(d);
        q[(n - 1) % d] = norm;
        const out = cache.attend(q, new Float32Array(2));
        expect(Number.isFinite(out[0]) && Number.isFinite(out[1])).toBe(true);
        expect(out[1]).toBeCloseTo(1, 5);
        if (norm * norm / Math.sqrt(d) > 50 && (n - 1) % d !== 0) expect(out[0]).toBeCloseTo(n - 1, 3);
        expect(Number.isFinite(cache.softmaxNorm(q))).toBe(true);
      }),
    );
  });

  it('reports the norms the normalised error needs', () => {
    const cache = new ExactCache({ policy: 'exact', keyDim: 1, valueDim: 2 });
    cache.append(new Float32Array([0]), new Float32Array([3, 0]));
    cache.append(new Float32Array([0]), new Float32Array([0, 4]));
    expect(cache.valueFrobeniusNorm).toBe(5);
    expect(cache.softmaxNorm(new Float32Array([1]))).toBeCloseTo(Math.SQRT1_2, 15);
    expect([...cache.positions()]).toEqual([0, 1]);
    expect(cache.keys.length).toBe(2);
  });

  it('rejects every kind of bad input with a typed error', () => {
    const cache = new ExactCache({ policy: 'exact', keyDim: 2, valueDim: 1 });
    const codeOf = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        return isKvError(e) ? e.code : 'not a KvError';
      }
      return 'nothing thrown';
    };
    expect(codeOf(() => cache.attend(new Float32Array(2), new Float32Array(1)))).toBe(KvErrorCode.EmptyCache);
    expect(codeOf(() => cache.append(new Float32Array(3), new Float32Array(1)))).toBe(KvErrorCode.DimensionMismatch);
    expect(codeOf(() => cache.append(new Float32Array([NaN, 0]), new Float32Array(1)))).toBe(KvErrorCode.NonFiniteInput);
    expect(cache.seen).toBe(0);
  });

  describe('conformance', () => {
    for (const c of conformanceChecks({
      registry,
      spec: { policy: 'exact', keyDim: 8, valueDim: 4 },
      exactSpec: { policy: 'exact', keyDim: 8, valueDim: 4 },
    })) {
      it(c.name, c.run);
    }
  });
});
