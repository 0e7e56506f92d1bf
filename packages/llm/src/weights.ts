import { InvalidParamsError } from '@kv/core';

/**
 * The shape of a Llama-architecture decoder.
 *
 * @example
 * ```ts
 * import type { LlamaConfig } from '@kv/llm';
 * // A tiny grouped-query model: two query heads share one KV head.
 * const config: LlamaConfig = {
 *   dim: 8, hiddenDim: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, headDim: 4,
 *   vocabSize: 16, seqLen: 64, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: true,
 * };
 * ```
 */
export interface LlamaConfig {
  /** Model (residual stream) width. */
  readonly dim: number;
  /** Width of the SwiGLU feed-forward layer. */
  readonly hiddenDim: number;
  /** Number of transformer layers. */
  readonly nLayers: number;
  /** Number of query heads. */
  readonly nHeads: number;
  /** Number of key/value heads (divides `nHeads`; fewer than `nHeads` means grouped-query attention). */
  readonly nKvHeads: number;
  /** Width of one attention head (`dim / nHeads` for llama2.c checkpoints). */
  readonly headDim: number;
  /** Vocabulary size. */
  readonly vocabSize: number;
  /** Context length the model was trained for (positions beyond it still run, with degraded quality). */
  readonly seqLen: number;
  /** The ε added to the mean square in RMSNorm (llama2.c: 1e-5). */
  readonly normEps: number;
  /** RoPE base θ: pair i of a head turns by `pos · θ^(−2i/headDim)` (llama2.c: 10000). */
  readonly ropeTheta: number;
  /** Whether the classifier is the token embedding (weight tying). */
  readonly sharedClassifier: boolean;
}

/**
 * The weights of one layer; every matrix is row-major (out, in), so `y = W x`.
 *
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import type { LlamaLayerWeights } from '@kv/llm';
 * // dim 8, hiddenDim 16, 2 query heads and 1 KV head of width 4.
 * const rng = new Rng(1);
 * const random = (n: number) => rng.fillGaussian(new Float32Array(n), 0.3);
 * const ones = (n: number) => new Float32Array(n).fill(1);
 * const layer: LlamaLayerWeights = {
 *   rmsAtt: ones(8), wq: random(8 * 8), wk: random(4 * 8), wv: random(4 * 8), wo: random(8 * 8),
 *   rmsFfn: ones(8), w1: random(16 * 8), w2: random(8 * 16), w3: random(16 * 8),
 * };
 * ```
 */
export interface LlamaLayerWeights {
  /** RMSNorm weight before attention, `dim`. */
  readonly rmsAtt: Float32Array;
  /** Query projection, (nHeads·headDim, dim). */
  readonly wq: Float32Array;
  /** Key projection, (nKvHeads·headDim, dim), rows in llama2.c's interleaved RoPE order. */
  readonly wk: Float32Array;
  /** Value projection, (nKvHeads·headDim, dim). */
  readonly wv: Float32Array;
  /** Output projection, (dim, nHeads·headDim). */
  readonly wo: Float32Array;
  /** RMSNorm weight before the feed-forward layer, `dim`. */
  readonly rmsFfn: Float32Array;
  /** Gate projection (HF `gate_proj`), (hiddenDim, dim). */
  readonly w1: Float32Array;
  /** Down projection (HF `down_proj`), (dim, hiddenDim). */
  readonly w2: Float32Array;
  /** Up projection (HF `up_proj`), (hiddenDim, dim). */
  readonly w3: Float32Array;
}

/**
 * All weights of a Llama decoder in llama2.c conventions: query and key rows ordered so that RoPE
 * rotates adjacent pairs (2i, 2i+1) of each head.
 *
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { LlamaModel, type LlamaConfig, type LlamaLayerWeights, type LlamaWeights } from '@kv/llm';
 * const config: LlamaConfig = {
 *   dim: 8, hiddenDim: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, headDim: 4,
 *   vocabSize: 16, seqLen: 64, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: true,
 * };
 * const rng = new Rng(1);
 * const random = (n: number) => rng.fillGaussian(new Float32Array(n), 0.3);
 * const ones = (n: number) => new Float32Array(n).fill(1);
 * const layer: LlamaLayerWeights = {
 *   rmsAtt: ones(8), wq: random(8 * 8), wk: random(4 * 8), wv: random(4 * 8), wo: random(8 * 8),
 *   rmsFfn: ones(8), w1: random(16 * 8), w2: random(8 * 16), w3: random(16 * 8),
 * };
 * const tokenEmbedding = random(16 * 8);
 * const weights: LlamaWeights = { config, tokenEmbedding, layers: [layer], rmsFinal: ones(8), wcls: tokenEmbedding };
 * const model = new LlamaModel(weights); // a random but runnable model
 * model.decoder(model.createCache({ policy: 'exact' })).step(3);
 * ```
 */
export interface LlamaWeights {
  /** The model shape. */
  readonly config: LlamaConfig;
  /** Token embedding, (vocabSize, dim). */
  readonly tokenEmbedding: Float32Array;
  /** Per-layer weights, `nLayers` entries. */
  readonly layers: readonly LlamaLayerWeights[];
  /** Final RMSNorm weight, `dim`. */
  readonly rmsFinal: Float32Array;
  /** Classifier, (vocabSize, dim); the same array as `tokenEmbedding` when shared. */
  readonly wcls: Float32Array;
}

function positiveInt(name: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) < 1) throw new InvalidParamsError(`${name} is ${String(v)}, expected an integer >= 1`);
}

/**
 * Checks a config's fields and that every weight array has the length the config implies.
 *
 * @param w - The weights.
 * @returns `w`, for chaining.
 * @throws `InvalidParamsError` on a non-positive size, `nHeads` not a multiple of `nKvHeads`,
 *   an odd `headDim`, a bad ε or θ, or an array of the wrong length.
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { parseHuggingFace, validateWeights } from '@kv/llm';
 * const CHECKPOINT_DIR = 'models/my-llama';
 * const weights = parseHuggingFace({
 *   config: JSON.parse(readFileSync(`${CHECKPOINT_DIR}/config.json`, 'utf8')),
 *   safetensors: [readFileSync(`${CHECKPOINT_DIR}/model.safetensors`)],
 * });
 * // Edited weights (here: the first layer's attention switched off) must still fit the config.
 * validateWeights({ ...weights, layers: [{ ...weights.layers[0]!, wo: new Float32Array(weights.layers[0]!.wo.length) }, ...weights.layers.slice(1)] });
 * ```
 * @remarks Every loader calls this, so a {@link LlamaModel} never indexes past an array.
 */
export function validateWeights(w: LlamaWeights): LlamaWeights {
  const c = w.config;
  for (const k of ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'vocabSize', 'seqLen'] as const) positiveInt(k, c[k]);
  if (c.nHeads % c.nKvHeads !== 0) throw new InvalidParamsError(`nHeads (${c.nHeads}) must be a multiple of nKvHeads (${c.nKvHeads})`);
  if (c.headDim % 2 !== 0) throw new InvalidParamsError(`headDim is ${c.headDim}, expected an even number (RoPE rotates pairs)`);
  if (!(c.normEps > 0 && Number.isFinite(c.normEps))) throw new InvalidParamsError(`normEps is ${c.normEps}, expected a finite number > 0`);
  if (!(c.ropeTheta > 0 && Number.isFinite(c.ropeTheta))) throw new InvalidParamsError(`ropeTheta is ${c.ropeTheta}, expected a finite number > 0`);
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const check = (name: string, a: Float32Array, n: number): void => {
    if (!(a instanceof Float32Array) || a.length !== n) {
      throw new InvalidParamsError(`${name} has ${a?.length} values, expected ${n}`);
    }
  };
  check('tokenEmbedding', w.tokenEmbedding, c.vocabSize * c.dim);
  check('wcls', w.wcls, c.vocabSize * c.dim);
  check('rmsFinal', w.rmsFinal, c.dim);
  if (w.layers.length !== c.nLayers) throw new InvalidParamsError(`layers has ${w.layers.length} entries, expected ${c.nLayers}`);
  w.layers.forEach((l, i) => {
    check(`layers[${i}].rmsAtt`, l.rmsAtt, c.dim);
    check(`layers[${i}].wq`, l.wq, qDim * c.dim);
    check(`layers[${i}].wk`, l.wk, kvDim * c.dim);
    check(`layers[${i}].wv`, l.wv, kvDim * c.dim);
    check(`layers[${i}].wo`, l.wo, c.dim * qDim);
    check(`layers[${i}].rmsFfn`, l.rmsFfn, c.dim);
    check(`layers[${i}].w1`, l.w1, c.hiddenDim * c.dim);
    check(`layers[${i}].w2`, l.w2, c.dim * c.hiddenDim);
    check(`layers[${i}].w3`, l.w3, c.hiddenDim * c.dim);
  });
  return w;
}

/**
 * Number of parameters of a model, the shared classifier counted once.
 *
 * @param w - The weights.
 * @returns The parameter count (1,820,352 for the shared tinyllama-bytes model).
 * @example
 * ```ts
 * import { parameterCount } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * parameterCount(model.weights); // 1820352
 * ```
 */
export function parameterCount(w: LlamaWeights): number {
  let n = w.tokenEmbedding.length + w.rmsFinal.length + (w.config.sharedClassifier ? 0 : w.wcls.length);
  for (const l of w.layers) {
    n += l.rmsAtt.length + l.wq.length + l.wk.length + l.wv.length + l.wo.length + l.rmsFfn.length + l.w1.length + l.w2.length + l.w3.length;
  }
  return n;
}
