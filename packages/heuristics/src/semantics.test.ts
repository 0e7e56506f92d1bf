import { compressionRatio, type HeadCache, PolicyRegistry, type PolicySpec, Rng, stateBytes } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { roundSignificand } from './eviction/round-score.js';
import { heuristicPolicies } from './policies.js';

const registry = new PolicyRegistry().register(...heuristicPolicies);
const create = (spec: PolicySpec): HeadCache => registry.create(spec);

function sorted(a: Int32Array): number[] {
  return [...a].sort((x, y) => x - y);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** Gaussian vectors of length n, scaled. */
function gaussian(rng: Rng, n: number, scale = 1): Float32Array {
  return rng.fillGaussian(new Float32Array(n), scale);
}

describe('sliding-window', () => {
  it('keeps exactly the last W positions at every step, in W fp32 rows of real memory', () => {
    const d = 8;
    const s = 4;
    const W = 10;
    const cache = create({ policy: 'sliding-window', keyDim: d, valueDim: s, budget: W });
    const rng = new Rng(1);
    const out = new Float32Array(s);
    for (let t = 0; t < 50; t++) {
      cache.append(gaussian(rng, d), gaussian(rng, s));
      cache.attend(gaussian(rng, d), out);
      expect(sorted(cache.positions!())).toEqual(range(Math.max(0, t + 1 - W), t + 1));
    }
    // Keys, values (fp32) and an int32 position per slot, allocated exactly to W.
    expect(cache.bytes).toBe(W * (4 * d + 4 * s + 4));
    expect(compressionRatio(cache)).toBeCloseTo((50 * 4 * (d + s)) / (W * (4 * d + 4 * s + 4)), 12);
  });

  it('with a ratio budget keeps the last ceil(ratio·seen) positions', () => {
    const cache = create({ policy: 'sliding-window', keyDim: 4, valueDim: 2, budget: { ratio: 0.25 } });
    const rng = new Rng(2);
    for (let t = 0; t < 40; t++) {
      cache.append(gaussian(rng, 4), gaussian(rng, 2));
      const w = Math.max(1, Math.ceil(0.25 * (t + 1)));
      expect(sorted(cache.positions!())).toEqual(range(t + 1 - w, t + 1));
    }
  });
});

describe('streaming-llm', () => {
  it('keeps the sinks forever plus the most recent tokens', () => {
    const cache = create({ policy: 'streaming-llm', keyDim: 4, valueDim: 2, budget: 9, params: { sinks: 3 } });
    const rng = new Rng(3);
    const out = new Float32Array(2);
    for (let t = 0; t < 60; t++) {
      cache.append(gaussian(rng, 4, 3), gaussian(rng, 2));
      cache.attend(gaussian(rng, 4, 3), out);
      const want = t < 9 ? range(0, t + 1) : [0, 1, 2, ...range(t + 1 - 6, t + 1)];
      expect(sorted(cache.positions!())).toEqual(want);
    }
  });

  it('with a budget of S rows or fewer keeps capacity − 1 sinks and the newest token', () => {
    const cache = create({ policy: 'streaming-llm', keyDim: 4, valueDim: 2, budget: 3, params: { sinks: 4 } });
    const rng = new Rng(13);
    for (let t = 0; t < 20; t++) {
      cache.append(gaussian(rng, 4), gaussian(rng, 2));
      expect(sorted(cache.positions!())).toEqual(t < 3 ? range(0, t + 1) : [0, 1, t]);
    }
    expect(cache.describe().stats['sinks']).toBe(2);
  });
});

describe('h2o', () => {
  // τ = 1 and queries along u: the key 3u gets logit 9 from every query, −3u gets −9.
  const d = 8;
  const s = 2;
  const u = new Float32Array(d);
  u[0] = 1;
  const scaled = (f: number): Float32Array => u.map((x) => x * f);

  it('keeps a token every query attends to and evicts first one no query attends to', () => {
    const cache = create({ policy: 'h2o', keyDim: d, valueDim: s, budget: 6, tau: 1, params: { recent: 2 } });
    const rng = new Rng(4);
    const out = new Float32Array(s);
    const query = (): Float32Array => {
      const q = gaussian(rng, d, 0.3);
      q[0]! += 3;
      return q;
    };
    const keyOf = (t: number): Float32Array => (t === 0 ? scaled(3) : t === 1 ? scaled(-3) : gaussian(rng, d, 0.3));
    for (let t = 0; t < 6; t++) {
      cache.append(keyOf(t), gaussian(rng, s));
      cache.attend(query(), out);
    }
    expect(sorted(cache.positions!())).toEqual(range(0, 6));
    // The first eviction must take position 1 (never attended) among the non-recent 0..4.
    cache.append(keyOf(6), gaussian(rng, s));
    expect(sorted(cache.positions!())).toEqual([0, 2, 3, 4, 5, 6]);
    for (let t = 7; t < 80; t++) {
      cache.attend(query(), out);
      cache.append(keyOf(t), gaussian(rng, s));
      const pos = cache.positions!();
      expect(pos).toContain(0);
      expect(pos).toContain(t); // the last R are protected
      expect(pos).toContain(t - 1);
      expect(cache.stored).toBeLessThanOrEqual(6);
    }
  });

  it('refuses both recent and recentRatio', () => {
    expect(() => create({ policy: 'h2o', keyDim: 4, valueDim: 2, budget: 8, params: { recent: 2, recentRatio: 0.5 } })).toThrow(
      expect.objectContaining({ code: 'KV_INVALID_PARAMS' }),
    );
  });
});

describe('tova', () => {
  it('evicts the token the current query attends to least', () => {
    const d = 6;
    const s = 3;
    const budget = 7;
    const cache = create({ policy: 'tova', keyDim: d, valueDim: s, budget });
    const rng = new Rng(5);
    const keys: Float32Array[] = [];
    const out = new Float32Array(s);
    let least = -1;
    let evictions = 0;
    for (let t = 0; t < 80; t++) {
      const k = gaussian(rng, d, 1.5);
      keys.push(k);
      const before = [...cache.positions!()];
      cache.append(k, gaussian(rng, s));
      const after = sorted(cache.positions!());
      if (before.length === budget) {
        // Full: exactly the least-attended token of the previous query made room.
        expect(after).toEqual(sorted(Int32Array.from([...before.filter((p) => p !== least), t])));
        evictions++;
      } else {
        expect(after).toEqual(sorted(Int32Array.from([...before, t])));
      }
      const q = gaussian(rng, d, 1.5);
      cache.attend(q, out);
      // Softmax is monotone in the logit: the least attended kept token has the smallest <q, k>.
      const logit = (p: number): number => keys[p]!.reduce((acc, x, j) => acc + x * q[j]!, 0);
      least = after.reduce((a, b) => (logit(b) < logit(a) ? b : a));
    }
    expect(evictions).toBe(80 - budget);
  });
});

describe('snapkv', () => {
  const d = 8;
  const s = 4;
  const T = 64;
  const window = 8;
  // Prompt: random small keys, a block 20..24 aligned with every observation query.
  function prompt(rng: Rng): { keys: Float32Array; values: Float32Array; queries: Float32Array } {
    const keys = rng.fillGaussian(new Float32Array(T * d), 0.3);
    for (let t = 20; t < 25; t++) keys[t * d] = 4;
    const values = rng.fillGaussian(new Float32Array(T * s));
    const queries = rng.fillGaussian(new Float32Array(window * d), 0.3);
    for (let r = 0; r < window; r++) queries[r * d]! += 3;
    return { keys, values, queries };
  }

  it('keeps the tokens the observation window attends to, plus the window', () => {
    const cache = create({ policy: 'snapkv', keyDim: d, valueDim: s, budget: window + 5, tau: 1, params: { window } });
    const { keys, values, queries } = prompt(new Rng(6));
    cache.prefill(keys, values, queries);
    expect(cache.seen).toBe(T);
    expect(sorted(cache.positions!())).toEqual([...range(20, 25), ...range(T - window, T)]);
  });

  it("after 'window' slides the window past decoded tokens and keeps the heavy hitters", () => {
    const cache = create({ policy: 'snapkv', keyDim: d, valueDim: s, budget: window + 5, tau: 1, params: { window } });
    const rng = new Rng(7);
    const { keys, values, queries } = prompt(rng);
    cache.prefill(keys, values, queries);
    for (let t = T; t < T + 20; t++) cache.append(gaussian(rng, d), gaussian(rng, s));
    expect(sorted(cache.positions!())).toEqual([...range(20, 25), ...range(T + 20 - window, T + 20)]);
  });

  it("after 'keep' keeps decoded tokens and gives up the lowest-scored heavy hitters first", () => {
    const cache = create({ policy: 'snapkv', keyDim: d, valueDim: s, budget: window + 5, tau: 1, params: { window, after: 'keep' } });
    const rng = new Rng(8);
    const { keys, values, queries } = prompt(rng);
    cache.prefill(keys, values, queries);
    for (let t = T; t < T + 2; t++) cache.append(gaussian(rng, d), gaussian(rng, s));
    // Pooled scores: 22 has the whole block in its kernel, 21/23 four, 20/24 three: 20 and 24 go first.
    const pos = sorted(cache.positions!());
    expect(pos).toEqual([...range(21, 24), ...range(T - window, T + 2)]);
    expect(pos).toHaveLength(window + 5);
  });

  it('refuses an even pooling kernel, and PyramidKV a layer out of range', () => {
    const base = { keyDim: 4, valueDim: 2 };
    expect(() => create({ policy: 'snapkv', ...base, budget: 16, params: { kernel: 4 } })).toThrow(
      expect.objectContaining({ code: 'KV_INVALID_PARAMS' }),
    );
    expect(() => create({ policy: 'pyramidkv', ...base, budget: 64, params: { layer: 2, layers: 2 } })).toThrow(
      expect.objectContaining({ code: 'KV_INVALID_PARAMS' }),
    );
  });

  it('refuses a second scored prefill without changing state', () => {
    const cache = create({ policy: 'snapkv', keyDim: d, valueDim: s, budget: 16, params: { window } });
    const { keys, values, queries } = prompt(new Rng(9));
    cache.prefill(keys, values, queries);
    const before = sorted(cache.positions!());
    expect(() => cache.prefill(keys, values, queries)).toThrow(expect.objectContaining({ code: 'KV_UNSUPPORTED' }));
    expect(cache.seen).toBe(T);
    expect(sorted(cache.positions!())).toEqual(before);
  });
});

describe('knorm', () => {
  // −‖k‖ at 10 significand bits, as the scorer compares norms.
  const rounded = (k: Float32Array): number => {
    const n = Math.fround(Math.hypot(...k));
    const e = 2 ** (Math.floor(Math.log2(n)) - 10);
    return Math.round(n / e) * e;
  };

  it('keeps the keys of smallest norm (at 10 significand bits; ties keep the newer)', () => {
    const d = 5;
    const budget = 12;
    const cache = create({ policy: 'knorm', keyDim: d, valueDim: 2, budget });
    const rng = new Rng(10);
    const norms: number[] = [];
    const keys: Float32Array[] = [];
    const out = new Float32Array(2);
    for (let t = 0; t < 70; t++) {
      // Every fourth key is an earlier one reversed: an equal norm, a tie.
      const k = t % 4 === 3 ? keys[t - 2]!.slice().reverse() : gaussian(rng, d, 0.5 + rng.uniform() * 3);
      keys.push(k);
      norms.push(rounded(k));
      cache.append(k, gaussian(rng, 2));
      cache.attend(gaussian(rng, d), out);
      const want = norms
        .map((n, p) => [n, p] as const)
        .sort((a, b) => a[0] - b[0] || b[1] - a[1])
        .slice(0, budget)
        .map(([, p]) => p)
        .sort((a, b) => a - b);
      expect(sorted(cache.positions!())).toEqual(want);
    }
  });

  it('chooses the same keys when their norms differ only by float32 rounding, whichever way it falls', () => {
    // Pairs of keys with equal norms up to ulp-scale noise (as two engines compute them), and a
    // budget that splits one pair: with rounding both signs of the noise keep the same positions;
    // with plain float32 norms (scoreBits 23) the noise decides.
    const d = 4;
    const rng = new Rng(4);
    const base = Array.from({ length: 12 }, () => gaussian(rng, d, 1 + rng.uniform()));
    const run = (sign: number, scoreBits: number): number[] => {
      const cache = create({ policy: 'knorm', keyDim: d, valueDim: 1, budget: 7, params: { scoreBits } });
      for (let t = 0; t < 24; t++) {
        const k = base[t % 12]!.slice();
        // The second occurrence is 3e-7 larger (sign +1) or smaller (−1) in norm.
        if (t >= 12) for (let j = 0; j < d; j++) k[j]! *= 1 + sign * 3e-7;
        cache.append(k, new Float32Array([1]));
      }
      return sorted(cache.positions!());
    };
    expect(run(1, 10)).toEqual(run(-1, 10));
    expect(run(1, 23)).not.toEqual(run(-1, 23));
  });

  it('rounds a score to the nearest value of `bits` significand bits (half a grid step at most), idempotently', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e30, max: 1e30, noNaN: true }), fc.integer({ min: 0, max: 23 }), (x, bits) => {
        const r = roundSignificand(x, bits);
        const f = Math.fround(x);
        expect(Math.abs(r - f)).toBeLessThanOrEqual(Math.abs(f) * 2 ** -(bits + 1));
        expect(roundSignificand(r, bits)).toBe(r);
        if (bits === 23) expect(r).toBe(f);
        // r has no set bit below the kept significand.
        if (r !== 0) expect(Number.isInteger(Math.abs(r) / 2 ** (Math.floor(Math.log2(Math.abs(r))) - bits))).toBe(true);
      }),
    );
  });
});

describe('random', () => {
  it('keeps every position with probability k/n (uniform reservoir)', () => {
    // 600 seeded trials of n = 40, k = 10: each position's count is Binomial(600, 1/4), mean 150,
    // sd ≈ 10.6. A 5-sd margin makes a false failure over 40 positions less likely than 1e-4.
    const n = 40;
    const k = 10;
    const trials = 600;
    const counts = new Array<number>(n).fill(0);
    const key = new Float32Array(2);
    const value = new Float32Array(1);
    for (let trial = 0; trial < trials; trial++) {
      const cache = create({ policy: 'random', keyDim: 2, valueDim: 1, budget: k, seed: trial });
      for (let t = 0; t < n; t++) cache.append(key, value);
      expect(cache.stored).toBe(k);
      for (const p of cache.positions!()) counts[p]!++;
    }
    const mean = (trials * k) / n;
    const sd = Math.sqrt(trials * (k / n) * (1 - k / n));
    for (const c of counts) expect(Math.abs(c - mean)).toBeLessThanOrEqual(5 * sd);
  });

  it('is reproducible from the seed and varies with it', () => {
    const run = (seed: number): number[] => {
      const cache = create({ policy: 'random', keyDim: 2, valueDim: 1, budget: 8, seed });
      for (let t = 0; t < 100; t++) cache.append(new Float32Array(2), new Float32Array(1));
      return sorted(cache.positions!());
    };
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
  });
});

describe('achieved compression ratio', () => {
  it('is the fp32 bytes of every token seen over the bytes really held, for every policy', () => {
    const d = 32;
    const s = 32;
    const n = 600;
    const specs = [
      ...['sliding-window', 'streaming-llm', 'h2o', 'tova', 'snapkv', 'knorm', 'random'].map((policy) => ({ policy, budget: 40 })),
      { policy: 'pyramidkv', budget: 40, params: { layer: 1, layers: 2, window: 8 } },
      { policy: 'kivi', params: { bits: 2 } },
    ];
    const rng = new Rng(12);
    for (const sp of specs) {
      const cache = create({ ...sp, keyDim: d, valueDim: s });
      const out = new Float32Array(s);
      for (let t = 0; t < n; t++) {
        cache.append(gaussian(rng, d), gaussian(rng, s));
        cache.attend(gaussian(rng, d), out);
      }
      const held = stateBytes(cache.state());
      expect(cache.bytes).toBe(held);
      expect(compressionRatio(cache)).toBeCloseTo((4 * n * (d + s)) / held, 12);
      // Eviction keeps ≤ 40 rows of ≤ 4(d+s) + 8 bytes. 2-bit KIVI's codes are 1/8 of fp32 but at
      // n = 600 its 33–64-row fp32 residual still weighs in.
      expect(compressionRatio(cache)).toBeGreaterThan(sp.policy === 'kivi' ? 3 : 12);
    }
  });
});
