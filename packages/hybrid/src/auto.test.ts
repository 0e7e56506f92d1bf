import { exactPolicy, PolicyRegistry, Rng, SlotStore } from '@kv/core';
import { checkByteBudget, conformanceChecks } from '@kv/core/testing';
import { polynomialPolicies } from '@kv/polynomial';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AutoCache, autoPolicy } from './auto.js';
import { defaultAutoCandidates, scoreCandidate } from './auto-trial.js';
import { tieredPolicy } from './tiered.js';

const registry = new PolicyRegistry().register(exactPolicy, autoPolicy, tieredPolicy, ...polynomialPolicies);
const d = 8;
const s = 4;

/**
 * A stream whose attention is spread over old tokens (`spread`: keys around four topics that
 * follow each other in long runs, values carrying their topic, queries from any topic) or
 * concentrated on the latest ones (`local`: each query points at the current key, which drifts).
 */
function stream(kind: 'spread' | 'local', seed: number, n: number): { keys: Float32Array[]; values: Float32Array[]; queries: Float32Array[] } {
  const rng = new Rng(seed);
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  const queries: Float32Array[] = [];
  const drift = rng.fillGaussian(new Float32Array(d));
  const topics = Array.from({ length: 4 }, () => rng.fillGaussian(new Float32Array(d), 1.2));
  const topicValues = Array.from({ length: 4 }, () => rng.fillGaussian(new Float32Array(s)));
  for (let t = 0; t < n; t++) {
    if (kind === 'local') {
      for (let j = 0; j < d; j++) drift[j]! += 0.6 * rng.gaussian();
      keys.push(drift.slice());
      values.push(rng.fillGaussian(new Float32Array(s)));
      queries.push(drift.map((x) => 1.6 * x));
      continue;
    }
    const topic = Math.floor((4 * t) / n);
    keys.push(topics[topic]!.map((x) => x + 0.2 * rng.gaussian()));
    values.push(topicValues[topic]!.map((x) => x + 0.1 * rng.gaussian()));
    queries.push(topics[rng.int(4)]!.map((x) => x + 0.2 * rng.gaussian()));
  }
  return { keys, values, queries };
}

describe('auto: conformance', () => {
  for (const budget of [{ bytes: 6000 }, { fraction: 0.25, minBytes: 4000 }, 60, { fraction: 0.25 }]) {
    describe(JSON.stringify(budget), () => {
      for (const c of conformanceChecks({ registry, spec: { policy: 'auto', keyDim: d, valueDim: s, budget, params: { warmup: 64 } }, steps: 120 })) it(c.name, c.run);
    });
  }
});

describe('auto: chooses by measurement', () => {
  it('records a warm-up within the budget, then keeps the first candidate within 10% of the lowest trial error — never worse than sinks + window', () => {
    fc.assert(
      fc.property(fc.constantFrom('spread', 'local') as fc.Arbitrary<'spread' | 'local'>, fc.integer({ min: 0, max: 1e6 }), (kind, seed) => {
        const { keys, values, queries } = stream(kind, seed, 200);
        const budget = { fraction: 0.25, minBytes: 3000 };
        const cache = registry.create({ policy: 'auto', keyDim: d, valueDim: s, budget, seed, params: { warmup: 64 } }) as AutoCache;
        const out = new Float32Array(s);
        for (let t = 0; t < 64; t++) {
          cache.append(keys[t]!, values[t]!);
          cache.attend(queries[t]!, out);
          expect(cache.choice).toBe('');
          expect(cache.bytes).toBeLessThanOrEqual(3000);
        }
        cache.append(keys[64]!, values[64]!);
        const scores = cache.trialScores;
        const window = scores.find((x) => x.name === 'sinks + window')!;
        const chosen = scores.find((x) => x.name === cache.choice)!;
        const best = Math.min(...scores.map((x) => x.error));
        expect(chosen.error).toBeLessThanOrEqual(1.1 * best);
        expect(chosen.error).toBeLessThanOrEqual(window.error);
        // Nothing earlier in the order of preference scored within the tie margin.
        const index = scores.indexOf(chosen);
        for (const x of scores.slice(0, index)) expect(x.error > Math.min(1.1 * best, window.error)).toBe(true);
        expect(cache.describe().summary).toContain(`auto chose ${cache.choice}`);
        expect(cache.describe().parts![0]!.policy).toBe('tiered');
        // The scores are what an independent replay of the same warm-up measures.
        const tokens = new SlotStore(d, s, { positions: false, precision: 'f16', seed });
        const recorded = new SlotStore(d, 1, { precision: 'f16', seed: seed + 1 });
        for (let t = 0; t < 64; t++) {
          tokens.push(keys[t]!, 0, values[t]!, 0, 0, 0);
          if (t % 2 === 1) recorded.push(queries[t]!, 0, new Float32Array(1), 0, t, 0);
        }
        const order = Int32Array.from({ length: 64 }, (_, i) => i);
        const trial = { fraction: 0.25, minBytes: Math.floor(0.25 * 4 * (d + s) * 16) };
        const again = scoreCandidate(registry, { keyDim: d, valueDim: s, tau: cache.tau, seed }, defaultAutoCandidates(registry).find((c) => c.name === cache.choice)!, trial, tokens, recorded, order);
        expect(again.error).toBe(chosen.error);
        for (let t = 65; t < 200; t++) {
          cache.append(keys[t]!, values[t]!);
          cache.attend(queries[t]!, out);
          expect(cache.bytes).toBeLessThanOrEqual(Math.max(3000, Math.floor(0.25 * 4 * (d + s) * (t + 1))));
        }
      }),
      { numRuns: 8 },
    );
  });

  it('on attention spread over old tokens, what keeps more of them (cells or int8 rows) beats float32 sinks + window on the warm-up and is chosen', () => {
    const { keys, values, queries } = stream('spread', 4, 100);
    const cache = registry.create({ policy: 'auto', keyDim: d, valueDim: s, budget: { fraction: 0.25, minBytes: 3000 }, params: { warmup: 64 } }) as AutoCache;
    for (let t = 0; t < 100; t++) {
      cache.append(keys[t]!, values[t]!);
      cache.attend(queries[t]!, new Float32Array(s));
    }
    expect(cache.choice).not.toBe('sinks + window');
    const window = cache.trialScores.find((x) => x.name === 'sinks + window')!.error;
    expect(cache.trialScores.find((x) => x.name === 'cells 1/2')!.error).toBeLessThan(window);
    expect(cache.trialScores.find((x) => x.name === cache.choice)!.error).toBeLessThan(0.8 * window);
  });

  it('scores a candidate by the median relative L2 error of its answers against exact attention over the recorded rows', () => {
    const { keys, values, queries } = stream('spread', 9, 64);
    const tokens = new SlotStore(d, s, { positions: false });
    const recorded = new SlotStore(d, 1);
    for (let t = 0; t < 64; t++) {
      tokens.push(keys[t]!, 0, values[t]!, 0, 0, 0);
      recorded.push(queries[t]!, 0, new Float32Array(1), 0, t, 0);
    }
    const budget = { fraction: 0.25, minBytes: 800 };
    const choice = { policy: 'tiered', params: { sinks: 4, window: { share: 0.5 }, middle: { policy: 'moment-cells' } } };
    const order = Int32Array.from({ length: 64 }, (_, i) => i);
    const score = scoreCandidate(registry, { keyDim: d, valueDim: s, tau: 1 / Math.sqrt(d), seed: 3 }, { name: 'x', choice }, budget, tokens, recorded, order);
    const cache = registry.create({ ...choice, keyDim: d, valueDim: s, tau: 1 / Math.sqrt(d), seed: 3, budget });
    const exact = registry.create({ policy: 'exact', keyDim: d, valueDim: s, tau: 1 / Math.sqrt(d) });
    const errors: number[] = [];
    for (let t = 0; t < 64; t++) {
      cache.append(keys[t]!, values[t]!);
      exact.append(keys[t]!, values[t]!);
      const out = cache.attend(queries[t]!, new Float32Array(s));
      const want = exact.attend(queries[t]!, new Float32Array(s));
      if (t >= 16) errors.push(Math.hypot(...out.map((x, j) => x - want[j]!)) / Math.hypot(...want));
    }
    errors.sort((a, b) => a - b);
    expect(errors.length).toBe(48);
    expect(score.error).toBeCloseTo((errors[23]! + errors[24]!) / 2, 5);
    expect(score.error).toBeGreaterThan(0);
  });

  it('measures only when its trial holds 16 rows (a fixed budget trials at a quarter of the warm-up)', () => {
    const measured = registry.create({ policy: 'auto', keyDim: d, valueDim: s, budget: { bytes: 6000 }, params: { warmup: 64 } }) as AutoCache;
    expect(measured.warmup).toBe(64);
    const short = registry.create({ policy: 'auto', keyDim: d, valueDim: s, budget: { bytes: 6000 }, params: { warmup: 60 } }) as AutoCache;
    expect(short.warmup).toBe(0);
    expect(short.choice).toBe('cells 1/2 int8');
  });

  it('accepts every budget of 1 to 64 float32 tokens in every form, stays within it and answers finite values, measuring when its trial holds 16 rows', () => {
    const dd = 16;
    const row = 4 * (dd + dd);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.constantFrom('tokens', 'bytes', '1/4', '1/8', '1/16'), fc.integer({ min: 0, max: 1e6 }), (tokens, form, seed) => {
        const fraction = form === 'tokens' || form === 'bytes' ? undefined : 1 / Number(form.slice(2));
        const budget = fraction !== undefined ? { fraction, minBytes: tokens * row } : form === 'bytes' ? { bytes: tokens * row } : tokens;
        const spec = { policy: 'auto', keyDim: dd, valueDim: dd, budget, seed };
        checkByteBudget(registry, spec, { steps: 96, seed });
        const cache = registry.create(spec) as AutoCache;
        if (cache.warmup === 0) expect(cache.describe().summary).toContain('without a measurement');
        else expect(cache.warmup * (fraction ?? 0.25)).toBeGreaterThanOrEqual(16);
      }),
      { numRuns: 30 },
    );
  });

  it('without room for a warm-up takes its fallback and says so', () => {
    const cache = registry.create({ policy: 'auto', keyDim: d, valueDim: s, budget: { fraction: 0.25 } }) as AutoCache;
    expect(cache.choice).toBe('cells 1/2 int8');
    expect(cache.describe().summary).toContain('without a measurement');
  });
});
