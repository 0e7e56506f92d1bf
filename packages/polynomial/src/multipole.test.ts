import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssumptionViolatedError, InvalidParamsError } from '@kv/core';
import { createKernelSums, ExactCache, exactSums, inBall, onSphere, registry, Rng, sumsError } from '../test/helpers.js';
import { roundingBound, taylorRemainderBound } from './bounds.js';
import { monomialCount } from './monomials.js';
import type { MultipoleCache } from './multipole.js';

const SLACK = 1e-12;

function multipole(d: number, s: number, params: Record<string, unknown>, tau = 1): MultipoleCache {
  return registry.create({ policy: 'multipole', keyDim: d, valueDim: s, tau, params }) as MultipoleCache;
}

interface Built {
  cache: MultipoleCache;
  whole: ExactCache;
  cells: ExactCache[];
}

/** Feeds a clustered stream to a multipole cache, an exact cache, and one exact cache per cell. */
function build(d: number, s: number, params: Record<string, unknown>, n: number, seed: number, clusters: number, spread: number): Built {
  const rng = new Rng(seed);
  const cache = multipole(d, s, params);
  const whole = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau: 1 });
  const cells: ExactCache[] = [];
  const centres = Array.from({ length: clusters }, () => onSphere(rng, d, 3));
  for (let t = 0; t < n; t++) {
    const k = inBall(rng, d, spread, centres[rng.int(clusters)]!);
    const v = rng.fillGaussian(new Float32Array(s));
    cache.append(k, v);
    whole.append(k, v);
    const c = cache.lastCell;
    cells[c] ??= new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau: 1 });
    cells[c]!.append(k, v);
  }
  return { cache, whole, cells };
}

describe('multipole guarantee', () => {
  it('each cell is within its remainder bound, and the answer within the certificate (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          d: fc.integer({ min: 1, max: 4 }),
          s: fc.integer({ min: 1, max: 3 }),
          p: fc.constantFrom(2, 4, 6),
          cells: fc.integer({ min: 1, max: 6 }),
          clusters: fc.integer({ min: 1, max: 5 }),
          radius: fc.double({ min: 0.2, max: 1.5, noNaN: true }),
          qNorm: fc.double({ min: 0.1, max: 4, noNaN: true }),
          seed: fc.integer({ min: 0, max: 1e6 }),
        }),
        ({ d, s, p, cells, clusters, radius, qNorm, seed }) => {
          const { cache, whole, cells: exactCells } = build(d, s, { degree: p, cells, radius, threshold: 1e300 }, 80, seed, clusters, 0.5);
          const rng = new Rng(seed + 1);
          const out = createKernelSums(s);
          const cellOut = createKernelSums(s);
          for (let i = 0; i < 3; i++) {
            const q = onSphere(rng, d, qNorm);
            const cert = cache.sumsWithCertificate(q, out);
            expect(out.z).toBeGreaterThan(0);
            const bounds = cache.cellBounds;
            expect(bounds.length).toBe(cache.cellCount);
            let worst = 0;
            for (let c = 0; c < cache.cellCount; c++) {
              const rho = q.reduce((a, x) => a + x * x, 0) ** 0.5 * cache.cellRadius(c);
              const expected = taylorRemainderBound(rho, p) + roundingBound(exactCells[c]!.seen, monomialCount(d, p), p, rho);
              expect(Math.abs(bounds[c]! - expected)).toBeLessThanOrEqual(1e-9 * expected);
              cache.cellSums(c, q, cellOut);
              const err = sumsError(cellOut, exactSums(exactCells[c]!, q));
              expect(err.z).toBeLessThanOrEqual(bounds[c]! + SLACK);
              worst = Math.max(worst, bounds[c]!);
            }
            expect(cert.relative).toBe(worst);
            const err = sumsError(out, exactSums(whole, q));
            expect(err.z).toBeLessThanOrEqual(cert.relative + SLACK);
            expect(err.output).toBeLessThanOrEqual(cert.output + SLACK);
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('becomes exact (to Float64 rounding) as the degree p grows', () => {
    const errors: number[] = [];
    for (const p of [0, 2, 4, 6, 8, 10, 12, 16, 20]) {
      const { cache, whole } = build(3, 2, { degree: p, cells: 4, radius: 0.8, threshold: 1e300 }, 120, 77, 4, 0.6);
      const q = onSphere(new Rng(78), 3, 2);
      const out = createKernelSums(2);
      cache.sums(q, out);
      errors.push(sumsError(out, exactSums(whole, q)).output);
    }
    for (let i = 1; i < errors.length; i++) expect(errors[i]!).toBeLessThanOrEqual(Math.max(errors[i - 1]!, 1e-13));
    expect(errors[0]!).toBeGreaterThan(1e-3);
    expect(errors[errors.length - 1]!).toBeLessThan(1e-12);
  });

  it('opens cells online up to the maximum, then joins the nearest', () => {
    const cache = multipole(2, 1, { degree: 2, cells: 2, radius: 0.5 });
    const v = new Float32Array([1]);
    cache.append(new Float32Array([0, 0]), v);
    cache.append(new Float32Array([0.1, 0]), v);
    expect(cache.cellCount).toBe(1);
    cache.append(new Float32Array([5, 0]), v);
    expect([cache.cellCount, cache.lastCell]).toEqual([2, 1]);
    cache.append(new Float32Array([0, 3]), v);
    expect([cache.cellCount, cache.lastCell]).toEqual([2, 0]);
    expect(cache.cellRadius(0)).toBeCloseTo(3, 6);
    expect(cache.cellRadius(1)).toBe(0);
  });

  it('degrades as documented when a cell grows, and strict mode refuses instead', () => {
    const loose = multipole(2, 1, { degree: 2, cells: 1, radius: 0.1, threshold: 1e300 });
    const strict = multipole(2, 1, { degree: 2, cells: 1, radius: 0.1, strict: true, rho: 0.5 });
    const rng = new Rng(3);
    for (let t = 0; t < 20; t++) {
      const k = inBall(rng, 2, 3);
      loose.append(k, new Float32Array([1]));
      strict.append(k, new Float32Array([1]));
    }
    const q = onSphere(rng, 2, 1);
    expect(() => strict.attend(q, new Float32Array(1))).toThrow(AssumptionViolatedError);
    loose.attend(q, new Float32Array(1));
    expect(loose.lastCertificate.relative).toBeGreaterThan(0.5);
    expect(() => multipole(2, 1, { strict: true })).toThrow(InvalidParamsError);
    expect(() => multipole(2, 1, { degree: 3 })).toThrow(InvalidParamsError);
    expect(() => multipole(64, 64, { degree: 4, cells: 16 })).toThrow(InvalidParamsError);
    expect(multipole(64, 64, {}).degree).toBe(2); // the default degree 4 is lowered to what fits maxBytes
    expect(() => loose.cellSums(5, q, createKernelSums(1))).toThrow(InvalidParamsError);
  });

  it('holds the same memory after 100 and after 100,000 tokens', () => {
    const rng = new Rng(8);
    const cache = multipole(2, 1, { degree: 2, cells: 4, radius: 0.5 });
    const v = new Float32Array(1);
    let at100 = 0;
    for (let t = 0; t < 100_000; t++) {
      v[0] = rng.gaussian();
      cache.append(inBall(rng, 2, 2), v);
      if (t === 99) at100 = cache.bytes;
    }
    expect(cache.bytes).toBe(at100);
    expect(cache.stored).toBe(Math.ceil(at100 / 12));
  });
});
