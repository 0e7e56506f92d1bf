import { describe, expect, it } from 'vitest';
import { mixSeed, Reservoir, Rng } from './rng.js';

describe('Rng', () => {
  it('is reproducible from its seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 8 }, () => a.uniform());
    expect(Array.from({ length: 8 }, () => b.uniform())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.uniform())).not.toEqual(xs);
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
    expect(mixSeed(2 ** 40)).not.toBe(mixSeed(0));
  });

  it('draws uniforms in [0,1) and Gaussians with mean 0, variance 1 (5-sigma intervals)', () => {
    const rng = new Rng(7);
    const n = 200_000;
    let sum = 0;
    let sq = 0;
    let umin = 1;
    let umax = 0;
    let usum = 0;
    for (let i = 0; i < n; i++) {
      const g = rng.gaussian();
      sum += g;
      sq += g * g;
      const u = rng.uniform();
      umin = Math.min(umin, u);
      umax = Math.max(umax, u);
      usum += u;
    }
    expect(Math.abs(sum / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(sq / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(umin).toBeGreaterThanOrEqual(0);
    expect(umax).toBeLessThan(1);
    expect(Math.abs(usum / n - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
  });

  it('shuffles into a permutation and forks independent streams', () => {
    const rng = new Rng(1);
    const a = rng.shuffle([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...a].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const f1 = rng.fork(1).uniform();
    const f2 = rng.fork(1).uniform();
    expect(f1).not.toBe(f2);
  });
});

describe('Reservoir', () => {
  it('keeps each of n items with probability k/n (chi-square over 4000 trials)', () => {
    const n = 20;
    const k = 5;
    const trials = 4000;
    const counts = new Array<number>(n).fill(0);
    const rng = new Rng(11);
    const sample = new Array<number>(k);
    for (let t = 0; t < trials; t++) {
      const r = new Reservoir(k, rng);
      for (let i = 0; i < n; i++) {
        const slot = r.offer();
        if (slot >= 0) sample[slot] = i;
      }
      for (const i of sample) counts[i]!++;
    }
    const expected = (trials * k) / n;
    const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
    // 19 degrees of freedom: P(chi2 > 43.8) = 0.001.
    expect(chi2).toBeLessThan(43.8);
  });
});
