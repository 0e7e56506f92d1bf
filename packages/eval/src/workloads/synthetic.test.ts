import { InvalidParamsError } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { buildWorkload } from './build.js';
import { streamRadius, syntheticFamilies, syntheticWorkload } from './synthetic.js';
import type { SyntheticFamily } from './types.js';

const families = Object.keys(syntheticFamilies) as SyntheticFamily[];

describe('synthetic workloads', () => {
  for (const family of families) {
    it(`${family}: shapes, radius r = √(ρ/τ) and determinism`, () => {
      const w = syntheticWorkload({ family, n: 96, d: 16, s: 8, rho: 3 }, 5);
      const h = w.heads[0]!;
      expect(h.queries.length).toBe(96 * 16);
      expect(h.keys.length).toBe(96 * 16);
      expect(h.values.length).toBe(96 * 8);
      const r = Math.sqrt(3 * Math.sqrt(16));
      // Rescaled to r·(1 − 1e-6), then float32 rounding of each coordinate (relative 2^-24 each).
      expect(Math.abs(streamRadius(h) - r)).toBeLessThanOrEqual(r * 2e-6);
      expect(w.rho).toBeLessThanOrEqual(3 * (1 + 4e-6));
      expect(w.rho).toBeGreaterThan(3 * (1 - 4e-6));
      const again = syntheticWorkload({ family, n: 96, d: 16, s: 8, rho: 3 }, 5).heads[0]!;
      expect(again.keys).toEqual(h.keys);
      expect(again.queries).toEqual(h.queries);
      expect(again.values).toEqual(h.values);
      const other = syntheticWorkload({ family, n: 96, d: 16, s: 8, rho: 3 }, 6).heads[0]!;
      expect(other.keys).not.toEqual(h.keys);
    });
  }

  it('index: after the storage half, every query is the key of a stored token whose softmax weight dominates', () => {
    const w = syntheticWorkload({ family: 'index', n: 64, d: 32, s: 4 }, 1);
    const h = w.heads[0]!;
    expect(w.hard).toBe(true);
    expect(h.firstQuery).toBe(32);
    expect(w.rho).toBeGreaterThanOrEqual(8 * (1 - 4e-6));
    const targets = new Set<number>();
    for (let t = 32; t < 64; t++) {
      const q = h.queries.subarray(t * 32, t * 32 + 32);
      let found = -1;
      for (let j = 0; j < 32 && found < 0; j++) if (h.keys.subarray(j * 32, j * 32 + 32).every((x, i) => x === q[i])) found = j;
      expect(found).toBeGreaterThanOrEqual(0);
      targets.add(found);
    }
    expect(targets.size).toBeGreaterThan(10);
    // The target's logit is ρ; the others are ρ·<u_i, u_j> with near-orthogonal unit directions.
    const q = h.queries.subarray(63 * 32, 64 * 32);
    const logits = Array.from({ length: 64 }, (_, i) => {
      let s = 0;
      for (let j = 0; j < 32; j++) s += q[j]! * h.keys[i * 32 + j]!;
      return s * w.tau;
    });
    const m = Math.max(...logits);
    const z = logits.reduce((acc, l) => acc + Math.exp(l - m), 0);
    expect(1 / z).toBeGreaterThan(0.9);
  });

  it('heavy-hitters: the sinks get most of the attention of a typical query', () => {
    const w = syntheticWorkload({ family: 'heavy-hitters', n: 256, d: 16, rho: 6, params: { sinks: 4, heavy: 0 } }, 2);
    const h = w.heads[0]!;
    const q = h.queries.subarray(255 * 16, 256 * 16);
    const logits = Array.from({ length: 256 }, (_, i) => {
      let s = 0;
      for (let j = 0; j < 16; j++) s += q[j]! * h.keys[i * 16 + j]!;
      return s * w.tau;
    });
    const m = Math.max(...logits);
    const p = logits.map((l) => Math.exp(l - m));
    const z = p.reduce((a, b) => a + b, 0);
    expect((p[0]! + p[1]! + p[2]! + p[3]!) / z).toBeGreaterThan(0.5);
  });

  it('rejects bad sizes and radii with InvalidParamsError', () => {
    expect(() => buildWorkload({ family: 'gaussian', n: 0 }, 0)).toThrow(InvalidParamsError);
    expect(() => buildWorkload({ family: 'gaussian', d: 2.5 }, 0)).toThrow(InvalidParamsError);
    expect(() => buildWorkload({ family: 'gaussian', rho: -1 }, 0)).toThrow(InvalidParamsError);
    expect(() => buildWorkload({ family: 'gaussian', r: 0 }, 0)).toThrow(InvalidParamsError);
    expect(() => buildWorkload({ family: 'nope' as SyntheticFamily }, 0)).toThrow(InvalidParamsError);
    expect(() => buildWorkload({ family: 'clustered', params: { clusters: Number.NaN } }, 0)).toThrow(InvalidParamsError);
  });
});
