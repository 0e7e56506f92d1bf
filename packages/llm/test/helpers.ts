import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@kv/core';
import type { LlamaConfig, LlamaLayerWeights, LlamaWeights } from '../src/weights.js';

/** The repository root: three levels up from packages/llm/src (and from packages/llm/test). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The shared model directory (KV_MODEL or ../shared/models), when it holds the tiny model and its reference files. */
export function sharedModelDir(): string | undefined {
  const candidates = [process.env.KV_MODEL, join(repoRoot, '..', 'shared', 'models')].filter((p): p is string => !!p);
  for (const c of candidates) {
    const dir = c.endsWith('.bin') ? dirname(c) : c;
    if (existsSync(join(dir, 'tinyllama-bytes.bin')) && existsSync(join(dir, 'reference-logits.json'))) return dir;
  }
  return undefined;
}

/** Random small weights (N(0, std)), llama2.c conventions. */
export function randomWeights(config: Partial<LlamaConfig> = {}, seed = 1, std = 0.3): LlamaWeights {
  const c: LlamaConfig = {
    dim: 24,
    hiddenDim: 40,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 6,
    vocabSize: 32,
    seqLen: 64,
    normEps: 1e-5,
    ropeTheta: 10000,
    sharedClassifier: false,
    ...config,
  };
  const rng = new Rng(seed);
  const rand = (n: number, s = std): Float32Array => Float32Array.from({ length: n }, () => rng.gaussian() * s);
  const norm = (n: number): Float32Array => Float32Array.from({ length: n }, () => 1 + 0.2 * rng.gaussian());
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const layers: LlamaLayerWeights[] = Array.from({ length: c.nLayers }, () => ({
    rmsAtt: norm(c.dim),
    wq: rand(qDim * c.dim),
    wk: rand(kvDim * c.dim),
    wv: rand(kvDim * c.dim),
    wo: rand(c.dim * qDim),
    rmsFfn: norm(c.dim),
    w1: rand(c.hiddenDim * c.dim),
    w2: rand(c.dim * c.hiddenDim),
    w3: rand(c.hiddenDim * c.dim),
  }));
  const tokenEmbedding = rand(c.vocabSize * c.dim, 1);
  return { config: c, tokenEmbedding, layers, rmsFinal: norm(c.dim), wcls: c.sharedClassifier ? tokenEmbedding : rand(c.vocabSize * c.dim) };
}

/** The random GQA model the session tests save and resume, also rebuilt by test/resume-child.ts. */
export function sessionTestModelWeights(): LlamaWeights {
  return randomWeights({ vocabSize: 64, dim: 32, headDim: 8, nHeads: 4, nKvHeads: 2, hiddenDim: 48 }, 33);
}

/** The float16 copy of the tiny model committed in the repository (always present in a clone). */
export const inRepoModelDir = join(repoRoot, 'packages', 'llm', 'models', 'tinyllama-bytes-f16');
