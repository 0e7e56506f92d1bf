import { createKernelSums } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gaussianStream } from '../test/streams.js';
import { referenceTensorAttention, tensorReferenceSums } from './reference.js';

describe('tensor attention reference', () => {
  it('attends to all n² ordered pairs, diagonal included: at q = 0 the output is (Σv1)∘(Σv2)/n²', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 7 }), fc.nat(), (d, s, n, seed) => {
        const st = gaussianStream(d, s, n, seed, 2);
        const { out } = referenceTensorAttention(new Float32Array(d), st.keys1, st.keys2, st.values1, st.values2, n, 0.5, new Float64Array(s));
        for (let c = 0; c < s; c++) {
          let a = 0;
          let b = 0;
          for (let i = 0; i < n; i++) {
            a += st.values1[i * s + c]!;
            b += st.values2[i * s + c]!;
          }
          expect(out[c]).toBeCloseTo((a * b) / (n * n), 10);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('matches direct unshifted sums of e^{<q, k1_i∘k2_j>τ} at moderate logits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.nat(), (d, s, n, seed) => {
        const st = gaussianStream(d, s, n, seed, 1.5);
        const q = st.queries.subarray(0, d);
        const tau = 1 / Math.sqrt(d);
        const sums = tensorReferenceSums(q, st.keys1, st.keys2, st.values1, st.values2, n, tau, createKernelSums(s));
        let Z = 0;
        const N = new Float64Array(s);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            let x = 0;
            for (let c = 0; c < d; c++) x += q[c]! * st.keys1[i * d + c]! * st.keys2[j * d + c]!;
            const w = Math.exp(x * tau);
            Z += w;
            for (let c = 0; c < s; c++) N[c] += w * st.values1[i * s + c]! * st.values2[j * s + c]!;
          }
        }
        expect(sums.z * Math.exp(sums.m)).toBeCloseTo(Z, 8);
        for (let c = 0; c < s; c++) expect(sums.n[c]! * Math.exp(sums.m)).toBeCloseTo(N[c]!, 8);
      }),
      { numRuns: 50 },
    );
  });

  it('stays finite for pair logits near 1e12 (log-scaled sums)', () => {
    const st = gaussianStream(4, 2, 5, 3, 1e4);
    const r = referenceTensorAttention(st.queries.subarray(0, 4), st.keys1, st.keys2, st.values1, st.values2, 5, 0.5, new Float64Array(2));
    expect(Number.isFinite(r.logZ)).toBe(true);
    expect(Math.abs(r.logZ)).toBeGreaterThan(1e6);
    for (const x of r.out) expect(Number.isFinite(x)).toBe(true);
  });

  it('is empty (m = −Infinity) with no tokens', () => {
    const sums = tensorReferenceSums(new Float32Array(2), new Float32Array(0), new Float32Array(0), new Float32Array(0), new Float32Array(0), 0, 1, createKernelSums(1));
    expect(sums.m).toBe(-Infinity);
    expect(sums.z).toBe(0);
  });
});
