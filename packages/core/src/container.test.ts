import { describe, expect, it } from 'vitest';
import { ModelCache } from './container.js';
import type { HeadCache, PolicyRegistryLike, PolicySpec } from './contract.js';
import { isKvError, KvErrorCode } from './errors.js';
import { ExactCache, exactPolicy } from './exact.js';
import { PolicyRegistry } from './registry.js';
import { Rng } from './rng.js';

describe('ModelCache', () => {
  const registry = new PolicyRegistry().register(exactPolicy);

  it('maps GQA query heads onto KV heads and answers each from its own head', () => {
    const cache = new ModelCache({ layers: 2, kvHeads: 2, queryHeads: 4, keyDim: 3, valueDim: 2, policy: { policy: 'exact' }, registry });
    expect([0, 1, 2, 3].map((h) => cache.kvHeadOf(h))).toEqual([0, 0, 1, 1]);
    const rng = new Rng(3);
    const refs = [new ExactCache({ policy: 'exact', keyDim: 3, valueDim: 2 }), new ExactCache({ policy: 'exact', keyDim: 3, valueDim: 2 })];
    for (let t = 0; t < 20; t++) {
      const k = rng.fillGaussian(new Float32Array(6));
      const v = rng.fillGaussian(new Float32Array(4));
      cache.append(1, k, v);
      refs[0]!.append(k.slice(0, 3), v.slice(0, 2));
      refs[1]!.append(k.slice(3), v.slice(2));
    }
    const q = rng.fillGaussian(new Float32Array(12));
    const out = cache.attend(1, q, new Float32Array(8));
    for (let qh = 0; qh < 4; qh++) {
      const want = refs[cache.kvHeadOf(qh)]!.attend(q.slice(qh * 3, qh * 3 + 3), new Float32Array(2));
      expect([...out.slice(qh * 2, qh * 2 + 2)]).toEqual([...want]);
    }
    expect(cache.head(0, 0).seen).toBe(0);
    expect(cache.head(1, 1).seen).toBe(20);
    expect(cache.bytes).toBe([0, 1].reduce((b, l) => b + cache.head(l, 0).bytes + cache.head(l, 1).bytes, 0));
  });

  it('gives per-layer budgets, per-head policies and distinct per-head seeds', () => {
    const seen: PolicySpec[] = [];
    const spy: PolicyRegistryLike = {
      has: (name) => registry.has(name),
      create(spec): HeadCache {
        seen.push(spec);
        return registry.create({ ...spec, budget: undefined });
      },
    };
    new ModelCache({
      layers: 3,
      kvHeads: 2,
      keyDim: 4,
      valueDim: 4,
      seed: 7,
      policy: (layer, head) => ({ policy: 'exact', params: {}, ...(layer === 0 && head === 1 ? { seed: 99 } : {}) }),
      budgets: [64, 32, { ratio: 0.5 }],
      registry: spy,
    });
    expect(seen.map((s) => s.budget)).toEqual([64, 64, 32, 32, { ratio: 0.5 }, { ratio: 0.5 }]);
    expect(new Set(seen.map((s) => s.seed)).size).toBe(6);
    expect(seen.every((s) => s.keyDim === 4 && s.valueDim === 4)).toBe(true);
  });

  it('prefills each KV head with its tokens and its GQA group of observation queries', () => {
    const specs: PolicySpec[] = [];
    const got: { keys: Float32Array; queries?: Float32Array }[] = [];
    const spy: PolicyRegistryLike = {
      has: () => true,
      create(spec) {
        specs.push(spec);
        const c = registry.create({ ...spec, policy: 'exact' });
        const prefill = c.prefill.bind(c);
        c.prefill = (k, v, q) => {
          got.push({ keys: k, ...(q ? { queries: q } : {}) });
          prefill(k, v, q);
        };
        return c;
      },
    };
    const cache = new ModelCache({ layers: 1, kvHeads: 2, queryHeads: 4, keyDim: 1, valueDim: 1, policy: { policy: 'exact' }, registry: spy });
    // Two tokens, keys token-major [t0h0, t0h1, t1h0, t1h1]; one query row [qh0..qh3].
    cache.prefill(0, new Float32Array([1, 2, 3, 4]), new Float32Array([1, 1, 1, 1]), new Float32Array([10, 11, 12, 13]));
    expect([...got[0]!.keys]).toEqual([1, 3]);
    expect([...got[1]!.keys]).toEqual([2, 4]);
    expect([...got[0]!.queries!]).toEqual([10, 11]);
    expect([...got[1]!.queries!]).toEqual([12, 13]);
    expect(cache.seen).toBe(2);
  });

  it('rejects inconsistent shapes and bad tokens without touching any head', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return isKvError(e) ? e.code : String(e);
      }
      return 'nothing thrown';
    };
    const make = (o: object) => () => new ModelCache({ layers: 1, kvHeads: 2, keyDim: 2, valueDim: 2, policy: { policy: 'exact' }, registry, ...o });
    expect(codeOf(make({ queryHeads: 3 }))).toBe(KvErrorCode.InvalidParams);
    expect(codeOf(make({ layers: 0 }))).toBe(KvErrorCode.InvalidParams);
    expect(codeOf(make({ budgets: [1, 2] }))).toBe(KvErrorCode.InvalidParams);
    const cache = make({})();
    const bad = new Float32Array([0, 0, 0, NaN]);
    expect(codeOf(() => cache.append(0, bad, new Float32Array(4)))).toBe(KvErrorCode.NonFiniteInput);
    expect(cache.head(0, 0).seen).toBe(0);
    expect(codeOf(() => cache.attend(0, new Float32Array(4), new Float32Array(3)))).toBe(KvErrorCode.DimensionMismatch);
    cache.append(0, new Float32Array(4), new Float32Array(4));
    cache.reset();
    expect(cache.seen).toBe(0);
  });
});
