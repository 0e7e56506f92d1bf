import { InvalidParamsError, referenceAttention } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { inRepoModelDir, randomWeights } from '../test/helpers.js';
import { kvzipScores } from './kvzip.js';
import { LlamaModel } from './model.js';
import { loadModel } from './node.js';

// KVzip's definition, computed the slow way: for each chunk, one plain run of context ++ prompt
// ++ chunk from position 0 on an exact cache, recording every query and key; a context token's
// score is the largest softmax probability (core's reference normaliser over every key the query
// sees) any reconstruction query of the head's group gives it.
function bruteForce(model: LlamaModel, context: number[], prompt: number[], chunk: number): Float64Array {
  const c = model.config;
  const d = c.headDim;
  const n = context.length;
  const group = c.nHeads / c.nKvHeads;
  const out = new Float64Array(c.nLayers * c.nKvHeads * n);
  for (let a = 0; a < n; a += chunk) {
    const seq = [...context, ...prompt, ...context.slice(a, a + chunk)];
    const qs: Float32Array[][] = Array.from({ length: c.nLayers }, () => []);
    const ks: Float32Array[][] = Array.from({ length: c.nLayers }, () => []);
    const decoder = model.decoder(model.createCache({ policy: 'exact' }));
    for (const t of seq) decoder.stepObserved(t, (l, q, k) => (qs[l]!.push(q.slice()), ks[l]!.push(k.slice())));
    for (let l = 0; l < c.nLayers; l++) {
      for (let t = n; t < seq.length; t++) {
        for (let qh = 0; qh < c.nHeads; qh++) {
          const g = Math.floor(qh / group);
          const q = qs[l]![t]!.subarray(qh * d, (qh + 1) * d);
          const keys = new Float32Array((t + 1) * d);
          for (let i = 0; i <= t; i++) keys.set(ks[l]![i]!.subarray(g * d, (g + 1) * d), i * d);
          const { logZ } = referenceAttention(q, keys, keys, t + 1, 1 / Math.sqrt(d), new Float64Array(d));
          for (let i = 0; i < n; i++) {
            let s = 0;
            for (let j = 0; j < d; j++) s += q[j]! * keys[i * d + j]!;
            const p = Math.exp(s / Math.sqrt(d) - logZ);
            const o = (l * c.nKvHeads + g) * n + i;
            out[o] = Math.max(out[o]!, p);
          }
        }
      }
    }
  }
  return out;
}

describe('KVzip scores', () => {
  const model = new LlamaModel(randomWeights({ vocabSize: 64, dim: 32, headDim: 8, nHeads: 4, nKvHeads: 2, hiddenDim: 48 }, 5));
  const context = Array.from({ length: 23 }, (_, i) => (i * 29 + 3) % 64);
  const prompt = [7, 8, 9];

  for (const chunk of [23, 10]) {
    it(`equal the largest attention probability of any reconstruction query (grouped heads, chunk ${chunk})`, () => {
      const s = kvzipScores(model, context, { prompt, chunk });
      const want = bruteForce(model, context, prompt, chunk);
      expect(s.scores).toHaveLength(want.length);
      for (let i = 0; i < want.length; i++) expect(Math.abs(s.scores[i]! - want[i]!), `entry ${i}`).toBeLessThanOrEqual(1e-6 * want[i]! + 1e-9);
      expect(s.reconstructionTokens).toBe(Math.ceil(23 / chunk) * prompt.length + 23);
      expect(s.head(1, 1)).toEqual(s.scores.subarray(3 * 23, 4 * 23));
    });
  }

  it('rejects an empty context, a bad chunk size and bad tokens', () => {
    expect(() => kvzipScores(model, [])).toThrow(InvalidParamsError);
    expect(() => kvzipScores(model, context, { chunk: 0 })).toThrow(InvalidParamsError);
    expect(() => kvzipScores(model, [1, 64])).toThrow(InvalidParamsError);
    expect(() => kvzipScores(model, context, { prompt: [-1] })).toThrow(InvalidParamsError);
    expect(() => kvzipScores(model, context).head(2, 0)).toThrow(InvalidParamsError);
  });

  // The method's premise on a real model: what cannot be predicted must be attended to when the
  // model reproduces the text. Measured on the in-repo model: the six letters of a random code
  // word in a 180-byte KJV passage rank 1st to 14th of 180 by score averaged over the 12 heads.
  it('rank the unpredictable letters of a code word among the top tenth of a KJV passage (in-repo model)', async () => {
    const real = await loadModel(inRepoModelDir);
    const text = 'And God said, Let there be light: and there was light. The secret word is XQZJVK, remember it. And God saw the light, that it was good: and God divided the light from the darkness.';
    const s = kvzipScores(real, new TextEncoder().encode(text));
    const n = text.length;
    const mean = new Float64Array(n);
    for (let l = 0; l < s.layers; l++) for (let h = 0; h < s.kvHeads; h++) s.head(l, h).forEach((x, i) => (mean[i] += x));
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => mean[b]! - mean[a]!);
    const at = text.indexOf('XQZJVK');
    for (let i = at; i < at + 6; i++) expect(order.indexOf(i), text[i]).toBeLessThan(n / 10);
    expect(s.prefillMillis).toBeGreaterThan(0);
    expect(s.scoringMillis).toBeGreaterThan(0);
  });
});
