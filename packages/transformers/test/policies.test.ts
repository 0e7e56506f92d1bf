import { BaseHeadCache, type CacheState, InvalidParamsError, type KernelSums, type PolicyDefinition, PolicyRegistry, SlotStore, type StateReader, UnsupportedError } from '@kv/core';
import { heuristicPolicies } from '@kv/heuristics';
import { describe, expect, it } from 'vitest';
import { CompressedSession } from '../src/index.js';
import { registry } from './lockstep.js';
import { tinyModel, validationBytes } from './helpers.js';

const prompt = validationBytes(200);

// A policy that keeps the last rows with a weight each (a logit bias), one that keeps them as int8
// codes, and one that keeps no rows at all.
class Weighted extends BaseHeadCache {
  protected readonly store = new SlotStore(this.keyDim, this.valueDim, { weighted: true });
  get stored(): number {
    return this.store.count;
  }
  protected onAppend(k: Float32Array, v: Float32Array, pos: number): void {
    this.store.push(k, 0, v, 0, pos, Math.log(2));
  }
  protected onSums(q: Float32Array, out: KernelSums): KernelSums {
    return this.store.sums(q, this.tau, out);
  }
  protected onReset(): void {
    this.store.clear();
  }
  protected saveState(): CacheState {
    return { scalars: {}, arrays: {}, parts: { store: this.store.state() } };
  }
  protected restoreState(r: StateReader): void {
    this.store.loadState(r.part('store'));
  }
  positions(): Int32Array {
    return this.store.positions();
  }
  keptRows(keys: Float32Array, values: Float32Array, start?: number, end?: number): number {
    return this.store.keptRows(keys, values, start, end);
  }
}
// The recent rows stored as int8 codes (the precision layer's storage at rest).
class Int8Recent extends Weighted {
  protected override readonly store = new SlotStore(this.keyDim, this.valueDim, { precision: 'int8' });
  protected override onAppend(k: Float32Array, v: Float32Array, pos: number): void {
    this.store.push(k, 0, v, 0, pos, 0);
  }
}
class MeanValue extends BaseHeadCache {
  private readonly sum = new Float32Array(this.valueDim);
  get stored(): number {
    return this.seen > 0 ? 1 : 0;
  }
  protected onAppend(_k: Float32Array, v: Float32Array): void {
    for (let j = 0; j < v.length; j++) this.sum[j] += v[j]!;
  }
  protected onSums(_q: Float32Array, out: KernelSums): KernelSums {
    out.m = 0;
    out.z = this.seen;
    for (let j = 0; j < this.sum.length; j++) out.n[j] = this.sum[j]!;
    return out;
  }
  protected onReset(): void {
    this.sum.fill(0);
  }
  protected saveState(): CacheState {
    return { scalars: {}, arrays: { sum: this.sum } };
  }
  protected restoreState(r: StateReader): void {
    this.sum.set(r.array('sum', Float32Array, this.valueDim));
  }
}
const custom: PolicyDefinition[] = [
  { name: 'weighted-recent', summary: 'test', params: [], budget: 'none', traits: { inputs: 'keys', weighted: true, summary: false }, create: (spec) => new Weighted(spec) },
  { name: 'mean-value', summary: 'test', params: [], budget: 'none', create: (spec) => new MeanValue(spec) },
  { name: 'int8-recent', summary: 'test', params: [], budget: 'none', traits: { inputs: 'keys', weighted: false, summary: false }, create: (spec) => new Int8Recent(spec) },
];

describe('which policies a session runs', () => {
  it.each([
    ['h2o', /queries.*queryProxy/],
    ['snapkv', /queries.*queryProxy/],
    ['uniform', /0\/1 attention_mask/],
    ['balancekv', /logit biases/],
    ['taylor', /no past/],
    ['my-policy', /declare it with kinds/],
  ])('refuses %s with a typed error that says why', async (policy, why) => {
    const model = await tinyModel();
    const attempt = CompressedSession.create(model, { policy: { policy }, budget: 64, registry });
    await expect(attempt).rejects.toThrow(UnsupportedError);
    await expect(attempt).rejects.toThrow(why);
  });

  it('refuses AdaKV head pools, whose heads keep different numbers of rows', async () => {
    const model = await tinyModel();
    const attempt = CompressedSession.create(model, { policy: { policy: 'knorm', params: { pool: { heads: 3, head: 0 } } }, budget: 64, registry });
    await expect(attempt).rejects.toThrow(/same rows in every head/);
  });

  it('stops with a typed error when heads end up with unequal rows, and stays stopped', async () => {
    const model = await tinyModel();
    const s = await CompressedSession.create(model, { policy: (_l, h) => ({ policy: 'sliding-window', budget: h === 1 ? 8 : 16 }), registry });
    for (let i = 0; i < 8; i++) await s.step(prompt[i]!);
    await expect(s.step(prompt[8]!)).rejects.toThrow(/layer 0 head 1 holds 8 rows.*same number/);
    await expect(s.step(prompt[9]!)).rejects.toThrow(UnsupportedError);
    // reset() starts over from an empty past.
    s.reset();
    expect(s.position).toBe(0);
    expect(s.logits).toBeUndefined();
    for (let i = 0; i < 8; i++) await s.step(prompt[i]!);
    expect(s.pastRows).toBe(8);
  });

  it('goes by the traits a definition declares, and catches a summary declared query-free when it reads its rows', async () => {
    const model = await tinyModel();
    const withCustom = new PolicyRegistry().register(...heuristicPolicies, ...custom);
    await expect(CompressedSession.create(model, { policy: { policy: 'weighted-recent' }, registry: withCustom })).rejects.toThrow(/logit biases/);
    // Declared query-free, a summary is caught as soon as the session reads the (empty) caches.
    await expect(CompressedSession.create(model, { policy: { policy: 'mean-value' }, registry: withCustom, kinds: { 'mean-value': 'query-free' } })).rejects.toThrow(/keeps no rows it can decode/);
    // Rows stored as int8 codes are handed to the model decoded.
    const q = await CompressedSession.create(model, { policy: { policy: 'int8-recent' }, registry: withCustom });
    for (let i = 0; i < 8; i++) await q.step(prompt[i]!);
    expect(q.pastRows).toBe(8);
  });

  it('runs a declared custom query-free policy', async () => {
    const model = await tinyModel();
    const s = await CompressedSession.create(model, { policy: { policy: 'sliding-window' }, budget: 16, registry, kinds: { 'sliding-window': 'query-free' } });
    await s.prefill(prompt.subarray(0, 40), { chunk: 8 });
    expect(s.pastRows).toBe(16);
  });

  it('runs H2O and SnapKV with key proxies, within the budget, choosing otherwise than a window', async () => {
    const model = await tinyModel();
    const h2o = await CompressedSession.create(model, { policy: { policy: 'h2o' }, budget: 32, registry, queryProxy: 'key' });
    for (const b of prompt) await h2o.step(b);
    expect(h2o.maxPastRows).toBe(32);
    const kept = Array.from(h2o.cache.head(1, 0).positions!()).sort((a, b) => a - b);
    expect(kept).not.toEqual(Array.from({ length: 32 }, (_, i) => prompt.length - 32 + i));
    // SnapKV compresses a whole prompt fed in one call, with the last window's keys as queries.
    const snap = await CompressedSession.create(model, { policy: { policy: 'snapkv', params: { window: 8 } }, budget: 32, registry, queryProxy: 'key' });
    await snap.prefill(prompt);
    expect(snap.pastRows).toBe(32);
    await snap.step(32);
    expect(snap.maxPastRows).toBe(32);
  });

  it('keeps a byte budget at every step: 1/8 of the full cache, past rows within what the bytes hold', async () => {
    const model = await tinyModel();
    const minBytes = 16 * 516;
    const s = await CompressedSession.create(model, { policy: { policy: 'streaming-llm', params: { sinks: 4 } }, budget: { fraction: 1 / 8, minBytes }, registry });
    const text = validationBytes(400);
    for (let i = 0; i < text.length; i++) {
      const perHead = Math.max((4 * 128 * i) / 8, minBytes); // the budget of a head after i tokens
      expect(s.pastRows).toBeLessThanOrEqual(Math.floor(perHead / 516));
      await s.step(text[i]!);
      expect(s.bytes).toBeLessThanOrEqual(12 * Math.max((4 * 128 * (i + 1)) / 8, minBytes));
    }
    expect(s.pastRows).toBeGreaterThan(16);
  });

  it('rejects bad tokens and options without changing the session', async () => {
    const model = await tinyModel();
    const s = await CompressedSession.create(model, { policy: { policy: 'sliding-window' }, budget: 16, registry });
    await s.step(65);
    await expect(s.step(256)).rejects.toThrow(InvalidParamsError);
    await expect(s.step(1.5)).rejects.toThrow(InvalidParamsError);
    await expect(s.prefill([])).rejects.toThrow(InvalidParamsError);
    await expect(s.prefill([65], { chunk: 0 })).rejects.toThrow(InvalidParamsError);
    await expect(s.generate([], { maxNewTokens: -1 })).rejects.toThrow(InvalidParamsError);
    await expect(s.generate([], { maxNewTokens: 2, sample: { temperature: 0 } })).rejects.toThrow(InvalidParamsError);
    expect(s.position).toBe(1);
    const fresh = await CompressedSession.create(model, { policy: { policy: 'sliding-window' }, budget: 16, registry });
    await expect(fresh.generate([], { maxNewTokens: 2 })).rejects.toThrow(/pass a prompt/);
    await expect(CompressedSession.create(model, { policy: { policy: 'exact' }, registry, queryProxy: 'query' as 'key' })).rejects.toThrow(InvalidParamsError);
  });
});
