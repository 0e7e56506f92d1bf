import { exactPolicy, ModelCache, PolicyRegistry, type PolicySpec } from '@kv/core';
import { heuristicPolicies } from '@kv/heuristics';
import { describe, expect, it } from 'vitest';
import { randomWeights } from '../test/helpers.js';
import { KvzipCache, kvzipPolicy } from './kvzip-cache.js';
import { kvzipScores } from './kvzip.js';
import { LlamaModel } from './model.js';
import { LlamaSession } from './session.js';

const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies, kvzipPolicy);
const model = new LlamaModel(randomWeights({ vocabSize: 256, dim: 32, headDim: 8, nHeads: 4, nKvHeads: 2, hiddenDim: 48 }, 8));
const prompt = Array.from({ length: 30 }, (_, i) => (i * 17 + 2) % 64);

function positions(cache: KvzipCache): number[] {
  return Array.from(cache.positions()).sort((a, b) => a - b);
}

describe('kvzip cache', () => {
  it('keeps the sinks, the recent tokens and the context tokens with the highest KVzip scores', () => {
    const budget = 10;
    const params = { sinks: 2, recent: 3, online: false };
    const cache = model.createCache({ policy: 'kvzip', budget, params }, { registry });
    const scores = kvzipScores(model, prompt);
    for (let l = 0; l < model.config.nLayers; l++) for (let h = 0; h < model.config.nKvHeads; h++) (cache.head(l, h) as KvzipCache).takeContextScores(scores.head(l, h));
    const decoder = model.decoder(cache);
    for (const t of prompt) decoder.step(t);
    for (let l = 0; l < model.config.nLayers; l++) {
      for (let h = 0; h < model.config.nKvHeads; h++) {
        const s = scores.head(l, h);
        const middle = Array.from({ length: prompt.length - 5 }, (_, i) => i + 2).sort((a, b) => s[b]! - s[a]! || a - b);
        const want = [0, 1, ...middle.slice(0, budget - 5), 27, 28, 29].sort((a, b) => a - b);
        expect(positions(cache.head(l, h) as KvzipCache), `head (${l}, ${h})`).toEqual(want);
      }
    }
  });

  it('LlamaDecoder.prefill hands every kvzip head the KVzip scores of the prompt before its prefill', () => {
    const received = new Map<string, Float32Array>();
    class Recording extends KvzipCache {
      constructor(spec: PolicySpec, readonly at: string) {
        super(spec);
      }
      override takeContextScores(scores: Float32Array): void {
        expect(this.seen).toBe(0); // before the prefill
        received.set(this.at, scores.slice());
        super.takeContextScores(scores);
      }
    }
    const options = model.cacheOptions({ policy: 'kvzip', budget: 10 }, { registry });
    const cache = new ModelCache({ ...options, caches: (l, h) => new Recording({ policy: 'kvzip', keyDim: 8, valueDim: 8, budget: 10, tau: 1 / Math.sqrt(8) }, `${l},${h}`) });
    const decoder = model.decoder(cache);
    decoder.prefill(prompt);
    expect(decoder.contextScoringMillis).toBeGreaterThan(0);
    const scores = kvzipScores(model, prompt);
    expect(received.size).toBe(model.config.nLayers * model.config.nKvHeads);
    for (const [at, got] of received) {
      const [l, h] = at.split(',').map(Number) as [number, number];
      expect(Array.from(got)).toEqual(Array.from(scores.head(l, h)));
    }
  });

  it('ranks differently from a cache fed the same tokens without scores (the scores decide)', () => {
    const params = { sinks: 2, recent: 3, online: false };
    const scored = model.decoder(model.createCache({ policy: 'kvzip', budget: 10, params }, { registry }));
    const scores = kvzipScores(model, prompt);
    for (let l = 0; l < model.config.nLayers; l++) for (let h = 0; h < model.config.nKvHeads; h++) (scored.cache.head(l, h) as KvzipCache).takeContextScores(scores.head(l, h));
    for (const t of prompt) scored.step(t);
    const unscored = model.decoder(model.createCache({ policy: 'kvzip', budget: 10, params }, { registry }));
    for (const t of prompt) unscored.step(t); // no reconstruction scores: every token 0, kept by age
    const a = positions(scored.cache.head(0, 0) as KvzipCache);
    const b = positions(unscored.cache.head(0, 0) as KvzipCache);
    expect(a).not.toEqual(b);
  });

  it('with online scores, a generated token a query attends to more than every kept one survives it', () => {
    const cache = registry.create({ policy: 'kvzip', keyDim: 2, valueDim: 2, budget: 3, params: { sinks: 0, recent: 0 } } as PolicySpec) as KvzipCache;
    cache.takeContextScores(new Float32Array([0.9, 0.1, 0.5]));
    cache.prefill(new Float32Array([1, 0, 0, 1, -1, 0]), new Float32Array(6));
    // A generated token pointing where the query points, then the query: it takes (nearly) all the
    // attention, so the next eviction removes the prompt token with the lowest score (position 1).
    cache.append(new Float32Array([0, 8]), new Float32Array(2));
    cache.attend(new Float32Array([0, 8]), new Float32Array(2));
    cache.append(new Float32Array([-8, 0]), new Float32Array(2));
    expect(Array.from(cache.positions())).toContain(3);
    expect(Array.from(cache.positions())).not.toContain(1);
  });

  it('stays within its byte budget at every step and continues bit for bit after a session restore', () => {
    const budget = { fraction: 1 / 4, minBytes: (1 / 4) * 4 * 16 * prompt.length };
    const session = new LlamaSession(model.decoder(model.createCache({ policy: 'kvzip', budget }, { registry })), { temperature: 0.7, seed: 3 });
    session.feed(prompt);
    const check = (): void => {
      for (let l = 0; l < model.config.nLayers; l++) {
        for (let h = 0; h < model.config.nKvHeads; h++) {
          const head = session.decoder.cache.head(l, h);
          const limit = Math.max(budget.minBytes, budget.fraction * 4 * 16 * head.seen);
          expect(head.bytes).toBeLessThanOrEqual(limit);
        }
      }
    };
    check();
    for (let i = 0; i < 10; i++) {
      session.next();
      check();
    }
    const saved = session.save();
    const after = Array.from(session.generate(12));
    expect(Array.from(LlamaSession.restore(model, saved, registry).generate(12))).toEqual(after);
  });
});
