import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExactCache, ModelCache, Rng } from '@kv/core';
import { LlamaModel, type LlamaWeights, parseLlama2c, writeLlama2c } from '@kv/llm';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { buildWorkload } from './build.js';
import { modelLocation, modelWorkload } from './model.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-eval-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A small random byte-level model with grouped queries (4 query heads on 2 KV heads).
function randomByteModel(): LlamaWeights {
  const rng = new Rng(7);
  const dim = 16;
  const hidden = 24;
  const headDim = 4;
  const rand = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => rng.gaussian() * s);
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
  const tokenEmbedding = rand(256 * dim, 1);
  return {
    config: { dim, hiddenDim: hidden, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim, vocabSize: 256, seqLen: 128, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: true },
    tokenEmbedding,
    layers: Array.from({ length: 2 }, () => ({
      rmsAtt: ones(dim), wq: rand(dim * dim, 0.5), wk: rand(2 * headDim * dim, 0.5), wv: rand(2 * headDim * dim, 0.5), wo: rand(dim * dim, 0.3),
      rmsFfn: ones(dim), w1: rand(hidden * dim, 0.3), w2: rand(dim * hidden, 0.3), w3: rand(hidden * dim, 0.3),
    })),
    rmsFinal: ones(dim),
    wcls: tokenEmbedding,
  };
}

const modelPath = join(dir, 'tiny.bin');
const bytes = writeLlama2c(randomByteModel());
writeFileSync(modelPath, bytes);
const textPath = join(dir, 'sample-validation.txt');
const text = 'In the beginning God created the heaven and the earth. And the earth was without form, and void.';
writeFileSync(textPath, text);

describe('model workload', () => {
  it('records the queries, post-RoPE keys and values each (layer, query head) sees, keys shared within a GQA group', () => {
    const w = buildWorkload({ family: 'model', model: modelPath, n: 40, layers: [1], heads: [0, 1, 3] }, 0);
    expect(w.family).toBe('model');
    expect(w.heads.map((h) => h.label)).toEqual(['L1.H0', 'L1.H1', 'L1.H3']);
    expect(w.length).toBe(40);
    expect(w.keyDim).toBe(4);
    expect(w.tau).toBe(0.5);
    const [h0, h1, h3] = w.heads;
    // Query heads 0 and 1 read KV head 0; head 3 reads KV head 1.
    expect(h1!.keys).toEqual(h0!.keys);
    expect(h1!.queries).not.toEqual(h0!.queries);
    expect(h3!.keys).not.toEqual(h0!.keys);
    // The same keys and values as an exact cache of the model holds after the same bytes.
    const model = new LlamaModel(parseLlama2c(bytes));
    const exact: ExactCache[] = [];
    const cache = new ModelCache({ ...model.cacheOptions({ policy: 'exact' }), policy: undefined, caches: () => (exact.push(new ExactCache({ policy: 'exact', keyDim: 4, valueDim: 4 })), exact.at(-1)!) });
    const decoder = model.decoder(cache);
    for (const b of new TextEncoder().encode(text.slice(0, 40))) decoder.step(b);
    expect(Float32Array.from(exact[2 * 1 + 1]!.keys)).toEqual(h3!.keys);
    expect(Float32Array.from(exact[2 * 1 + 1]!.values)).toEqual(h3!.values);
    // Built once per process and spec.
    expect(buildWorkload({ family: 'model', model: modelPath, n: 40, layers: [1], heads: [0, 1, 3] }, 5)).toBe(w);
  });

  it('reads the sample text beside the model by default, at most what the text holds', () => {
    const w = modelWorkload({ family: 'model', model: dir, offset: 10 });
    expect(w.length).toBe(text.length - 10);
    expect(w.heads.length).toBe(2 * 4);
  });

  it('says what is wrong with a bad model, text, layer or head', () => {
    expect(() => modelLocation({ family: 'model', model: join(dir, 'nope.bin') })).toThrow(ConfigError);
    expect(() => modelWorkload({ family: 'model', model: modelPath, text: join(dir, 'none.txt') })).toThrow(/cannot read the text/);
    expect(() => modelWorkload({ family: 'model', model: modelPath, layers: [2] })).toThrow(/layer 2 does not exist \(the model has 2\)/);
    expect(() => modelWorkload({ family: 'model', model: modelPath, heads: [4] })).toThrow(/head 4 does not exist/);
    expect(() => modelWorkload({ family: 'model', model: modelPath, offset: 1000 })).toThrow(/no byte from offset 1000/);
    writeFileSync(join(dir, 'garbage.bin'), new Uint8Array(10));
    expect(() => modelWorkload({ family: 'model', model: join(dir, 'garbage.bin') })).toThrow(ConfigError);
  });
});
