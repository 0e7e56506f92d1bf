import { ModelCache, PolicyRegistry, Rng, UnsupportedError } from '@kv/core';
import { heuristicPolicies } from '@kv/heuristics';
import { tieredPolicy } from '@kv/hybrid';
import { LlamaModel } from '@kv/llm';
import { describe, expect, it } from 'vitest';
import { CompressedSession, decoderShape } from '../src/index.js';
import { DelayedAppendCache } from './delayed-append.js';
import { gqaModel, gqaWeights } from './gqa-decoder.js';
import { registry } from './lockstep.js';

// Grouped-query attention (4 query heads over 2 KV heads) on a decoder with the ONNX graph
// interface, checked against kv's own decoder on the same weights.
const weights = gqaWeights();
const c = weights.config;
// Distinct tokens: a layer-0 key's norm depends on its token only (RoPE keeps norms), so a repeated
// token would tie K-norm's scores exactly, and rounding would break the tie differently here and in
// kv's decoder.
const tokens = new Rng(5).shuffle(Array.from({ length: c.vocabSize }, (_, i) => i)).slice(0, 90);

function llmLogits(cache: ModelCache): Float32Array[] {
  const decoder = new LlamaModel(weights).decoder(cache);
  return tokens.map((t) => decoder.step(t).slice());
}
const shape = { layers: c.nLayers, kvHeads: c.nKvHeads, queryHeads: c.nHeads, keyDim: c.headDim, valueDim: c.headDim };
const worst = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((x, i) => Math.max(...x.map((v, j) => Math.abs(v - b[i]![j]!)))));

describe('grouped-query attention', () => {
  it('reads the KV heads from the config and matches kv\'s decoder with the exact policy, streamed or in chunks', async () => {
    const model = gqaModel(weights);
    expect(decoderShape(model)).toEqual({ layers: 2, queryHeads: 4, kvHeads: 2, headDim: 8, vocabSize: 128 });
    const want = llmLogits(new ModelCache({ ...shape, policy: { policy: 'exact' }, registry }));
    const s = await CompressedSession.create(model, { policy: { policy: 'exact' }, registry });
    const got: Float32Array[] = [];
    for (const t of tokens) got.push((await s.step(t)).slice());
    expect(worst(got, want)).toBeLessThan(1e-4);
    const chunked = await CompressedSession.create(model, { policy: { policy: 'exact' }, registry });
    expect(worst([await chunked.prefill(tokens, { chunk: 7 })], [want.at(-1)!])).toBeLessThan(1e-4);
  });

  it('hands each KV head its own rows under eviction: StreamingLLM and K-norm at 16 rows match kv\'s decoder step by step', async () => {
    for (const choice of [{ policy: 'streaming-llm', params: { sinks: 2 } }, { policy: 'knorm' }]) {
      const want = llmLogits(new ModelCache({ ...shape, caches: () => new DelayedAppendCache(registry.create({ ...choice, ...shape, budget: 16 })) }));
      const s = await CompressedSession.create(gqaModel(weights), { policy: choice, budget: 16, registry });
      const got: Float32Array[] = [];
      for (const t of tokens) got.push((await s.step(t)).slice());
      expect(worst(got, want)).toBeLessThan(1e-4);
      expect(s.maxPastRows).toBe(16);
      // K-norm keeps different tokens in the two KV heads of a layer (the same number of them).
      if (choice.policy === 'knorm') expect(Array.from(s.cache.head(1, 0).positions!()).sort()).not.toEqual(Array.from(s.cache.head(1, 1).positions!()).sort());
    }
  });

  it('hands quantized rows decoded: KIVI int4 (rows re-encoded as their group fills) and an int8 window match kv\'s decoder on the same codes', async () => {
    for (const [choice, budget] of [
      [{ policy: 'kivi', params: { bits: 4, group: 8, residual: 4 } }, 24],
      [{ policy: 'sliding-window', params: { precision: 'int8' } }, 24],
    ] as const) {
      const want = llmLogits(new ModelCache({ ...shape, caches: () => new DelayedAppendCache(registry.create({ ...choice, ...shape, ...(budget ? { budget } : {}) })) }));
      const s = await CompressedSession.create(gqaModel(weights), { policy: choice, ...(budget ? { budget } : {}), registry });
      const got: Float32Array[] = [];
      for (const t of tokens) got.push((await s.step(t)).slice());
      expect(worst(got, want)).toBeLessThan(1e-4);
      // The past is the decoded codes, not the float32 tokens: exact attention differs.
      const exact = llmLogits(new ModelCache({ ...shape, caches: () => new DelayedAppendCache(registry.create({ policy: choice.policy, ...shape, ...(budget ? { budget } : {}) })) }));
      expect(worst(got, exact)).toBeGreaterThan(1e-3);
    }
  });

  it('runs a tiered cache of position parts (sinks, window, K-norm middle) exactly; refuses a query-aware or weighted middle', async () => {
    const withTiered = new PolicyRegistry().register(...heuristicPolicies, tieredPolicy);
    const choice = { policy: 'tiered', params: { sinks: 2, window: 6, middle: { policy: 'knorm' } } };
    const want = llmLogits(new ModelCache({ ...shape, caches: () => new DelayedAppendCache(withTiered.create({ ...choice, ...shape, budget: 16 })) }));
    const s = await CompressedSession.create(gqaModel(weights), { policy: choice, budget: 16, registry: withTiered });
    const got: Float32Array[] = [];
    for (const t of tokens) got.push((await s.step(t)).slice());
    expect(worst(got, want)).toBeLessThan(1e-4);
    expect(s.maxPastRows).toBe(16);
    for (const middle of ['h2o', 'uniform']) {
      await expect(CompressedSession.create(gqaModel(weights), { policy: { policy: 'tiered', params: { middle: { policy: middle } } }, budget: 16, registry: withTiered })).rejects.toThrow(UnsupportedError);
    }
  });

  it('gives every query head its KV head\'s key as the proxy query (H2O)', async () => {
    const s = await CompressedSession.create(gqaModel(weights), { policy: { policy: 'h2o' }, budget: 16, registry, queryProxy: 'key' });
    for (const t of tokens) await s.step(t);
    expect(s.maxPastRows).toBe(16);
  });
});
