import { type HeadCache, PolicyRegistry, type PolicySpec, Rng } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { EvictionCache } from './eviction/eviction-cache.js';
import type { Scorer } from './eviction/scorer.js';
import { heuristicPolicies } from './policies.js';
import type { ScoredEviction } from './scored.js';

const registry = new PolicyRegistry().register(...heuristicPolicies);
const create = (spec: PolicySpec): HeadCache => registry.create(spec);
const unit = (d: number, axis: number, scale = 1): Float32Array => {
  const v = new Float32Array(d);
  v[axis] = scale;
  return v;
};
const kept = (cache: HeadCache): number[] => [...cache.positions!()].sort((a, b) => a - b);

describe('keydiff', () => {
  it('evicts the keys along the common direction and keeps the outliers (equal norms)', () => {
    const d = 8;
    const rng = new Rng(1);
    const cache = create({ policy: 'keydiff', keyDim: d, valueDim: 2, budget: 6 });
    const outliers = [3, 9, 14, 20];
    for (let t = 0; t < 24; t++) {
      let k: Float32Array;
      if (outliers.includes(t)) k = unit(d, 2 + outliers.indexOf(t));
      else {
        k = rng.fillGaussian(new Float32Array(d), 0.05);
        k[0]! += 1;
        const n = Math.hypot(...k);
        for (let j = 0; j < d; j++) k[j]! /= n;
      }
      cache.append(k, rng.fillGaussian(new Float32Array(2)));
    }
    for (const p of outliers) expect(kept(cache)).toContain(p);
    expect(cache.stored).toBe(6);
  });
});

describe('expected-attention', () => {
  const d = 8;
  const s = 2;
  const v = new Float32Array([1, 0]);

  it('keeps the tokens aligned with the mean query over equal-norm tokens orthogonal to it', () => {
    const rng = new Rng(2);
    const cache = create({ policy: 'expected-attention', keyDim: d, valueDim: s, budget: 4, tau: 1, params: { sinks: 0 } });
    const out = new Float32Array(s);
    const aligned = [1, 5];
    for (let t = 0; t < 12; t++) {
      cache.append(aligned.includes(t) ? unit(d, 0) : unit(d, 1 + (t % (d - 1))), v);
      const q = rng.fillGaussian(new Float32Array(d), 0.1);
      q[0]! += 2;
      cache.attend(q, out);
    }
    for (const p of aligned) expect(kept(cache)).toContain(p);
  });

  it('with a covariance keeps the key along the high-variance query direction at an equal mean logit', () => {
    const run = (covariance: string): number[] => {
      // Bytes for a few rows and the statistics (which start once they take at most half).
      const cache = create({ policy: 'expected-attention', keyDim: d, valueDim: s, budget: { bytes: 600 }, tau: 1, params: { sinks: 0, covariance, horizon: 256 } });
      expect(cache.describe().stats['statistics']).toBe(true);
      const out = new Float32Array(s);
      // Mean e0; variance 9 along e3, 1e-4 along e4 (antithetic pairs, so both means are 0):
      // the keys e3 and e4 have equal mean logits, and the fillers 0.5·e0 a higher one.
      const step = (): void => {
        for (const sign of [1, -1]) {
          const q = unit(d, 0, 1);
          q[3] = 3 * sign;
          q[4] = 0.01 * sign;
          cache.attend(q, out);
        }
      };
      cache.append(unit(d, 3), v); // position 0: the older one, which a tie would evict
      step();
      cache.append(unit(d, 4), v);
      step();
      while (cache.describe().stats['evicted'] === 0) {
        cache.append(unit(d, 0, 0.5), v);
        step();
      }
      return kept(cache).filter((p) => p < 2);
    };
    expect(run('diagonal')).toEqual([0]);
    expect(run('full')).toEqual([0]);
    expect(run('none')).toEqual([1]); // equal scores: the oldest goes
  });

  it('with the model RoPE de-rotates the queries and scores keys for the next position', () => {
    // The queries are RoPE(3·e0) at their positions; pair 0 turns one radian per position, so
    // the post-RoPE queries' mean nearly vanishes while the de-rotated mean is 3·e0.
    const theta = 10000;
    const rotate = (x: Float32Array, p: number): Float32Array => {
      const y = x.slice();
      for (let i = 0; i < d / 2; i++) {
        const a = p * theta ** ((-2 * i) / d);
        y[2 * i] = x[2 * i]! * Math.cos(a) - x[2 * i + 1]! * Math.sin(a);
        y[2 * i + 1] = x[2 * i]! * Math.sin(a) + x[2 * i + 1]! * Math.cos(a);
      }
      return y;
    };
    const T = 40;
    const run = (pairing: 'interleaved' | null): number[] => {
      const cache = create({
        policy: 'expected-attention', keyDim: d, valueDim: s, budget: T + 1, tau: 1,
        params: { sinks: 0, future: 1, covariance: 'none', valueNorm: false, ...(pairing ? { rope: { theta, pairing } } : {}) },
      });
      const out = new Float32Array(s);
      // Position 0 holds the key the query at position T + 1 will point at, position 1 its opposite.
      for (let t = 0; t <= T; t++) {
        cache.append(t === 0 ? rotate(unit(d, 0, 2), T + 1) : t === 1 ? rotate(unit(d, 0, -2), T + 1) : unit(d, 7, 1e-3), v);
        cache.attend(rotate(unit(d, 0, 3), t), out);
      }
      cache.append(unit(d, 7, 1e-3), v); // the first eviction, scored for position T + 1
      return kept(cache).filter((p) => p < 2);
    };
    expect(run('interleaved')).toEqual([0]);
    // Without the RoPE the mean of the rotated queries (Σ cos j < 0 over the 41 positions) points away.
    expect(run(null)).toEqual([1]);
  });

  it('takes up its statistics only when the budget also holds a row, and stays within a growing fraction', () => {
    // d = 8: diagonal statistics are 64 bytes, a row 68; at 1/16 the budget grows 4 bytes a token,
    // so it crosses twice the statistics (128) while holding one row (the eval property's case).
    for (const dim of [4, 8, 16]) {
      const row = 4 * (2 * dim) + 4;
      const stats = 8 * dim;
      const cache = create({ policy: 'expected-attention', keyDim: dim, valueDim: dim, budget: { fraction: 1 / 16, minBytes: 32 } });
      const rng = new Rng(dim);
      const out = new Float32Array(dim);
      let activatedAt = -1;
      for (let t = 0; t < 160; t++) {
        cache.append(rng.fillGaussian(new Float32Array(dim)), rng.fillGaussian(new Float32Array(dim)));
        const budget = Math.max(32, (t + 1) * 2 * dim / 4);
        expect(cache.bytes).toBeLessThanOrEqual(budget);
        if (activatedAt < 0 && cache.describe().stats['statistics'] === true) {
          activatedAt = t;
          expect(budget).toBeGreaterThanOrEqual(stats + Math.max(stats, row));
          expect(cache.stored).toBeGreaterThanOrEqual(1);
        }
        cache.attend(rng.fillGaussian(new Float32Array(dim)), out);
      }
      expect(activatedAt).toBeGreaterThan(0);
    }
  });
});

describe('lagkv', () => {
  it('keeps a token whose key stands out of the next partition, while its partition loses others', () => {
    const d = 6;
    const rng = new Rng(4);
    const cache = create({ policy: 'lagkv', keyDim: d, valueDim: d, budget: 9, params: { lag: 4, sinks: 0 } });
    for (let t = 0; t < 12; t++) {
      const k = new Float32Array(d);
      for (let j = 0; j < d; j++) k[j] = rng.uniform();
      if (t === 1) for (let j = 0; j < d; j++) k[j] = j % 2 ? 6 : -6;
      const val = new Float32Array(d);
      for (let j = 0; j < d; j++) val[j] = rng.uniform();
      cache.append(k, val);
    }
    const pos = kept(cache);
    expect(pos).toContain(1);
    expect(pos.filter((p) => p < 4).length).toBeLessThan(4);
  });
});

describe('cur', () => {
  it('keeps the token of largest key and value norms in its window', () => {
    const d = 4;
    const rng = new Rng(5);
    const cache = create({ policy: 'cur', keyDim: d, valueDim: d, budget: 5, params: { sinks: 0, window: 16 } });
    for (let t = 0; t < 16; t++) {
      const f = t === 5 ? 3 : 1;
      const k = rng.fillGaussian(new Float32Array(d));
      const val = rng.fillGaussian(new Float32Array(d));
      const nk = Math.hypot(...k);
      const nv = Math.hypot(...val);
      cache.append(k.map((x) => (f * x) / nk), val.map((x) => (f * x) / nv));
    }
    expect(kept(cache)).toContain(5);
  });
});

describe('leverage', () => {
  it('keeps the key off the span of the others while keys repeating one direction go, on its default schedule too', () => {
    const d = 6;
    // Budget 5 rescores at every eviction; budget 64 every 4 steps (a sixteenth of the capacity).
    for (const [budget, n, every] of [[5, 30, 1], [64, 400, 4]] as const) {
      const rng = new Rng(6);
      const cache = create({ policy: 'leverage', keyDim: d, valueDim: 2, budget });
      expect(cache.describe().stats['every']).toBe(every);
      for (let t = 0; t < n; t++) {
        const k = rng.fillGaussian(new Float32Array(d), 0.01);
        if (t === 7) k[4]! += 3;
        else k[0]! += rng.gaussian();
        cache.append(k, new Float32Array(2));
      }
      expect(kept(cache)).toContain(7);
      expect(cache.stored).toBe(budget);
    }
  });
});

describe('scored (the KVzip hook)', () => {
  it('keeps exactly the capacity highest given scores, and in an AdaKV pool the highest across heads', () => {
    const rng = new Rng(7);
    const n = 40;
    const k = 7;
    const keys = rng.fillGaussian(new Float32Array(n * 2));
    const values = rng.fillGaussian(new Float32Array(n));
    const scores = Float32Array.from({ length: n }, () => rng.uniform());
    const top = (sc: Float32Array, m: number): number[] => [...sc.keys()].sort((a, b) => sc[b]! - sc[a]!).slice(0, m).sort((a, b) => a - b);
    const one = create({ policy: 'scored', keyDim: 2, valueDim: 1, budget: k }) as ScoredEviction;
    one.prefillScored(keys, values, scores);
    expect(kept(one)).toEqual(top(scores, k));
    expect(one.seen).toBe(n);

    const other = Float32Array.from({ length: n }, () => rng.uniform() * 0.5);
    const pool = (head: number): ScoredEviction =>
      create({ policy: 'scored', keyDim: 2, valueDim: 1, budget: k, params: { pool: { heads: 2, head, layer: 'scored-test', alpha: 0 } } }) as ScoredEviction;
    const [a, b] = [pool(0), pool(1)];
    a.prefillScored(keys, values, scores);
    b.prefillScored(keys, values, other);
    const all = [...scores, ...other];
    const threshold = [...all].sort((x, y) => y - x)[2 * k - 1]!;
    expect(a.stored + b.stored).toBe(2 * k);
    for (const p of a.positions()) expect(scores[p]!).toBeGreaterThanOrEqual(threshold);
    for (const p of b.positions()) expect(other[p]!).toBeGreaterThanOrEqual(threshold);
  });

  it('rejects scores of the wrong length or non-finite without changing the cache', () => {
    const c = create({ policy: 'scored', keyDim: 2, valueDim: 1, budget: 4 }) as ScoredEviction;
    expect(() => c.prefillScored(new Float32Array(4), new Float32Array(2), new Float32Array(3))).toThrow(expect.objectContaining({ code: 'KV_DIMENSION_MISMATCH' }));
    expect(() => c.prefillScored(new Float32Array(4), new Float32Array(2), new Float32Array([1, NaN]))).toThrow(expect.objectContaining({ code: 'KV_NON_FINITE_INPUT' }));
    expect(c.seen).toBe(0);
  });
});

describe('shared eviction parameters', () => {
  const d = 4;
  const s = 2;
  const stream = (cache: HeadCache, n: number, seed: number, visit?: (t: number) => void): void => {
    const rng = new Rng(seed);
    const out = new Float32Array(s);
    for (let t = 0; t < n; t++) {
      cache.append(rng.fillGaussian(new Float32Array(d)), rng.fillGaussian(new Float32Array(s)));
      cache.attend(rng.fillGaussian(new Float32Array(d)), out);
      visit?.(t);
    }
  };

  it('buffer (DecodingPress): when full, compresses to capacity − 1 − buffer, so compressions come every buffer + 1 steps', () => {
    const cache = create({ policy: 'h2o', keyDim: d, valueDim: s, budget: 20, params: { buffer: 4 } });
    const rows: number[] = [];
    stream(cache, 80, 8, () => rows.push(cache.stored));
    expect(Math.max(...rows)).toBe(20);
    // After the first fill, the cache cycles 16 → 20 (one compression every 5 appends).
    expect(rows.slice(20)).toEqual(Array.from({ length: 60 }, (_, i) => 16 + (i % 5)));
  });

  it('chunk (ChunkKV): evicts whole chunks of consecutive positions', () => {
    const cache = create({ policy: 'tova', keyDim: d, valueDim: s, budget: 24, params: { chunk: 4 } });
    stream(cache, 100, 9, () => {
      const pos = kept(cache);
      const newest = Math.floor(pos[pos.length - 1]! / 4);
      for (const p of pos) {
        const c = Math.floor(p / 4);
        if (c === newest) continue;
        for (let j = 4 * c; j < 4 * c + 4; j++) expect(pos).toContain(j);
      }
    });
  });

  it('critical (CriticalKV): at equal attention, the larger value goes last', () => {
    const cache = create({ policy: 'tova', keyDim: d, valueDim: s, budget: 3, params: { critical: true, firstStage: 0 } });
    const k = unit(d, 0);
    const out = new Float32Array(s);
    for (const vn of [5, 1, 3]) cache.append(k, unit(s, 0, vn));
    cache.attend(unit(d, 1), out); // equal logits: equal attention to every kept token
    cache.append(k, unit(s, 0, 2));
    expect(kept(cache)).toEqual([0, 2, 3]);
    expect(() => create({ policy: 'knorm', keyDim: d, valueDim: s, budget: 3, params: { critical: true } })).toThrow(
      expect.objectContaining({ code: 'KV_INVALID_PARAMS' }),
    );
  });

  it('every: a computed scorer is scored at most once per `every` steps', () => {
    let calls = 0;
    const counting: Scorer = {
      name: 'counting', columns: 0, probs: false, queries: false, live: false, nonNegative: true,
      fixedBytes: () => 0,
      score(view, out) {
        calls++;
        for (let i = 0; i < view.count; i++) out[i] = view.store.positionOf[i]!;
        return out;
      },
    };
    const cache = new EvictionCache({ policy: 'counting', keyDim: d, valueDim: s, budget: 10, params: { every: 5 } }, counting);
    stream(cache, 110, 10);
    // 100 evictions, one scoring per 5 steps; stale scores keep the new tokens (+∞) meanwhile.
    expect(calls).toBeLessThanOrEqual(21);
    expect(calls).toBeGreaterThanOrEqual(19);
    expect(cache.stored).toBe(10);
  });
});
