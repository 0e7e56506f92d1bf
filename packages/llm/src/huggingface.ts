import { UnsupportedError } from '@kv/core';
import { ModelFormatError } from './errors.js';
import { readSafetensors, type SafeTensor, type TensorToWrite, writeSafetensors } from './safetensors.js';
import { type LlamaConfig, type LlamaLayerWeights, type LlamaWeights, validateWeights } from './weights.js';

/**
 * A Hugging Face checkpoint held in memory: the parsed `config.json` and the safetensors files.
 * Bytes rather than paths, so the parser runs where there is no file system.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { LlamaModel, parseHuggingFace, type HuggingFaceCheckpoint } from '@kv/llm';
 * const CHECKPOINT_DIR = 'models/my-llama';
 * const checkpoint: HuggingFaceCheckpoint = {
 *   config: JSON.parse(readFileSync(`${CHECKPOINT_DIR}/config.json`, 'utf8')),
 *   safetensors: [readFileSync(`${CHECKPOINT_DIR}/model.safetensors`)],
 * };
 * const model = new LlamaModel(parseHuggingFace(checkpoint));
 * ```
 */
export interface HuggingFaceCheckpoint {
  /** The parsed `config.json`. */
  readonly config: Record<string, unknown>;
  /** The bytes of every `.safetensors` shard (one for `model.safetensors`). */
  readonly safetensors: readonly Uint8Array[];
}

function intField(cfg: Record<string, unknown>, name: string, fallback?: number): number {
  const v = cfg[name] ?? fallback;
  if (!Number.isInteger(v) || (v as number) < 1) throw new ModelFormatError(`config.json field ${name} is ${JSON.stringify(v)}, expected an integer >= 1`);
  return v as number;
}

/**
 * Maps a Hugging Face `config.json` of a Llama model to a {@link LlamaConfig}.
 *
 * @param cfg - The parsed `config.json`.
 * @param hasLmHead - Whether the checkpoint holds a separate `lm_head.weight`.
 * @returns The config.
 * @throws {@link ModelFormatError} on a missing or non-integer size; `UnsupportedError` for a
 *   `model_type` other than `llama`, an activation other than SiLU, biases, or any `rope_scaling`.
 * @example
 * ```ts
 * import { huggingFaceConfig } from '@kv/llm';
 * huggingFaceConfig({ hidden_size: 192, intermediate_size: 512, num_hidden_layers: 4,
 *   num_attention_heads: 3, vocab_size: 256 }, false).headDim; // 64
 * ```
 * @remarks Checkpoints that need what this decoder lacks are refused, not run approximately:
 * Llama 3.1-style `rope_scaling` would change every rotation angle, and attention or MLP biases
 * would change every projection.
 */
export function huggingFaceConfig(cfg: Record<string, unknown>, hasLmHead: boolean): LlamaConfig {
  if (cfg.model_type !== undefined && cfg.model_type !== 'llama') {
    throw new UnsupportedError(`model_type is ${JSON.stringify(cfg.model_type)}; only "llama" checkpoints are supported`);
  }
  if (cfg.hidden_act !== undefined && cfg.hidden_act !== 'silu') {
    throw new UnsupportedError(`hidden_act is ${JSON.stringify(cfg.hidden_act)}; only "silu" (SwiGLU) is supported`);
  }
  if (cfg.rope_scaling !== undefined && cfg.rope_scaling !== null) {
    throw new UnsupportedError(`rope_scaling ${JSON.stringify(cfg.rope_scaling)} is not supported`);
  }
  if (cfg.attention_bias === true || cfg.mlp_bias === true) throw new UnsupportedError('attention or MLP biases are not supported');
  const dim = intField(cfg, 'hidden_size');
  const nHeads = intField(cfg, 'num_attention_heads');
  const headDim = intField(cfg, 'head_dim', Math.floor(dim / nHeads));
  const eps = cfg.rms_norm_eps ?? 1e-6;
  const theta = cfg.rope_theta ?? 10000;
  if (typeof eps !== 'number' || !(eps > 0)) throw new ModelFormatError(`rms_norm_eps is ${JSON.stringify(eps)}, expected a number > 0`);
  if (typeof theta !== 'number' || !(theta > 0)) throw new ModelFormatError(`rope_theta is ${JSON.stringify(theta)}, expected a number > 0`);
  return {
    dim,
    hiddenDim: intField(cfg, 'intermediate_size'),
    nLayers: intField(cfg, 'num_hidden_layers'),
    nHeads,
    nKvHeads: intField(cfg, 'num_key_value_heads', nHeads),
    headDim,
    vocabSize: intField(cfg, 'vocab_size'),
    seqLen: intField(cfg, 'max_position_embeddings', 2048),
    normEps: eps,
    ropeTheta: theta,
    sharedClassifier: !hasLmHead || cfg.tie_word_embeddings === true,
  };
}

/**
 * Reorders the rows of a query or key projection between Hugging Face's and llama2.c's RoPE
 * conventions. HF's `rotate_half` pairs element i of a head with element i + headDim/2, llama2.c
 * pairs 2i with 2i+1; HF's conversion script permutes the rows so both compute the same thing.
 *
 * @param w - Row-major (heads·headDim, cols) matrix.
 * @param heads - Number of heads the rows hold.
 * @param headDim - Rows per head (even).
 * @param cols - Columns.
 * @param direction - `'fromHf'` maps HF rows to llama2.c rows, `'toHf'` the reverse.
 * @returns A new matrix.
 * @example
 * ```ts
 * import { permuteRope } from '@kv/llm';
 * const nHeads = 2;
 * const headDim = 4;
 * const dim = 8;
 * const hfQ = Float32Array.from({ length: nHeads * headDim * dim }, (_, i) => i); // q_proj as HF stores it
 * const wq = permuteRope(hfQ, nHeads, headDim, dim, 'fromHf');
 * permuteRope(wq, nHeads, headDim, dim, 'toHf'); // hfQ again
 * ```
 * @remarks llama2.c row (h, 2i + j) is HF row (h, j·headDim/2 + i), j ∈ {0, 1}.
 * @see https://github.com/huggingface/transformers/blob/main/src/transformers/models/llama/convert_llama_weights_to_hf.py
 */
export function permuteRope(w: Float32Array, heads: number, headDim: number, cols: number, direction: 'fromHf' | 'toHf'): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const llamaRow = h * headDim + 2 * i + j;
        const hfRow = h * headDim + j * half + i;
        const [src, dst] = direction === 'fromHf' ? [hfRow, llamaRow] : [llamaRow, hfRow];
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

/**
 * Builds weights from a Hugging Face Llama checkpoint (`config.json` and safetensors shards), with
 * names `model.embed_tokens.weight`, `model.layers.{i}.self_attn.{q,k,v,o}_proj.weight`,
 * `model.layers.{i}.mlp.{gate,up,down}_proj.weight`, `model.layers.{i}.input_layernorm.weight`,
 * `model.layers.{i}.post_attention_layernorm.weight`, `model.norm.weight` and `lm_head.weight`.
 *
 * @param checkpoint - The config and the shard bytes.
 * @returns Weights in llama2.c conventions (q/k rows un-permuted, see {@link permuteRope}).
 * @throws {@link ModelFormatError} when a tensor is missing or has the wrong shape;
 *   `UnsupportedError` for features {@link huggingFaceConfig} refuses; any error of
 *   {@link readSafetensors}.
 * @throws {UnsupportedDtypeError} for a tensor dtype other than F32, F16, BF16, F64.
 * @throws {InvalidParamsError} when the weights disagree with the config (see `validateWeights`).
 * @example
 * ```ts
 * import { readFile } from 'node:fs/promises';
 * import { LlamaModel, parseHuggingFace } from '@kv/llm';
 * const CHECKPOINT_DIR = 'models/my-llama';
 * const configText = await readFile(`${CHECKPOINT_DIR}/config.json`, 'utf8');
 * const bytes = new Uint8Array(await readFile(`${CHECKPOINT_DIR}/model.safetensors`));
 * const model = new LlamaModel(parseHuggingFace({ config: JSON.parse(configText), safetensors: [bytes] }));
 * ```
 * @remarks Tensors in F16 or BF16 are widened to float32 (4 bytes per parameter in memory).
 */
export function parseHuggingFace(checkpoint: HuggingFaceCheckpoint): LlamaWeights {
  const tensors = new Map<string, SafeTensor>();
  for (const file of checkpoint.safetensors) for (const [k, v] of readSafetensors(file).tensors) tensors.set(k, v);
  const c = huggingFaceConfig(checkpoint.config, tensors.has('lm_head.weight'));
  const get = (name: string, shape: number[]): Float32Array => {
    const t = tensors.get(name);
    if (!t) throw new ModelFormatError(`tensor ${name} is missing from the checkpoint`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ModelFormatError(`tensor ${name} has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`);
    }
    return t.data;
  };
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const layers: LlamaLayerWeights[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `model.layers.${i}.`;
    layers.push({
      rmsAtt: get(`${p}input_layernorm.weight`, [c.dim]),
      wq: permuteRope(get(`${p}self_attn.q_proj.weight`, [qDim, c.dim]), c.nHeads, c.headDim, c.dim, 'fromHf'),
      wk: permuteRope(get(`${p}self_attn.k_proj.weight`, [kvDim, c.dim]), c.nKvHeads, c.headDim, c.dim, 'fromHf'),
      wv: get(`${p}self_attn.v_proj.weight`, [kvDim, c.dim]),
      wo: get(`${p}self_attn.o_proj.weight`, [c.dim, qDim]),
      rmsFfn: get(`${p}post_attention_layernorm.weight`, [c.dim]),
      w1: get(`${p}mlp.gate_proj.weight`, [c.hiddenDim, c.dim]),
      w2: get(`${p}mlp.down_proj.weight`, [c.dim, c.hiddenDim]),
      w3: get(`${p}mlp.up_proj.weight`, [c.hiddenDim, c.dim]),
    });
  }
  const tokenEmbedding = get('model.embed_tokens.weight', [c.vocabSize, c.dim]);
  return validateWeights({
    config: c,
    tokenEmbedding,
    layers,
    rmsFinal: get('model.norm.weight', [c.dim]),
    wcls: c.sharedClassifier ? tokenEmbedding : get('lm_head.weight', [c.vocabSize, c.dim]),
  });
}

/**
 * Converts weights to a Hugging Face Llama checkpoint (one `model.safetensors`, F32 unless asked), the inverse
 * of {@link parseHuggingFace}; for example to hand a llama2.c model to other Hugging Face tools.
 *
 * @param w - Weights in llama2.c conventions.
 * @param options - `dtype: 'F16'` stores every tensor as float16 (half the bytes; see `writeSafetensors`).
 * @returns The `config.json` object and the safetensors bytes.
 * @throws {ModelFormatError} when an array's length disagrees with the config's shapes.
 * @throws {UnsupportedDtypeError} for a dtype other than F32 and F16.
 * @example
 * ```ts
 * import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
 * import { parseLlama2c, toHuggingFace } from '@kv/llm';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const bin = readFileSync(MODEL_PATH);
 * const { config, safetensors } = toHuggingFace(parseLlama2c(bin));
 * mkdirSync('tinyllama-hf', { recursive: true });
 * writeFileSync('tinyllama-hf/config.json', JSON.stringify(config, null, 2));
 * writeFileSync('tinyllama-hf/model.safetensors', safetensors[0]!);
 * ```
 * @remarks A shared classifier is written as `tie_word_embeddings: true` without `lm_head.weight`.
 */
export function toHuggingFace(w: LlamaWeights, options: { readonly dtype?: 'F32' | 'F16' } = {}): HuggingFaceCheckpoint {
  const c = w.config;
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const tensors: Record<string, TensorToWrite> = { 'model.embed_tokens.weight': { shape: [c.vocabSize, c.dim], data: w.tokenEmbedding } };
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}.`;
    tensors[`${p}input_layernorm.weight`] = { shape: [c.dim], data: l.rmsAtt };
    tensors[`${p}self_attn.q_proj.weight`] = { shape: [qDim, c.dim], data: permuteRope(l.wq, c.nHeads, c.headDim, c.dim, 'toHf') };
    tensors[`${p}self_attn.k_proj.weight`] = { shape: [kvDim, c.dim], data: permuteRope(l.wk, c.nKvHeads, c.headDim, c.dim, 'toHf') };
    tensors[`${p}self_attn.v_proj.weight`] = { shape: [kvDim, c.dim], data: l.wv };
    tensors[`${p}self_attn.o_proj.weight`] = { shape: [c.dim, qDim], data: l.wo };
    tensors[`${p}post_attention_layernorm.weight`] = { shape: [c.dim], data: l.rmsFfn };
    tensors[`${p}mlp.gate_proj.weight`] = { shape: [c.hiddenDim, c.dim], data: l.w1 };
    tensors[`${p}mlp.down_proj.weight`] = { shape: [c.dim, c.hiddenDim], data: l.w2 };
    tensors[`${p}mlp.up_proj.weight`] = { shape: [c.hiddenDim, c.dim], data: l.w3 };
  });
  tensors['model.norm.weight'] = { shape: [c.dim], data: w.rmsFinal };
  if (!c.sharedClassifier) tensors['lm_head.weight'] = { shape: [c.vocabSize, c.dim], data: w.wcls };
  const dtype = options.dtype ?? 'F32';
  for (const t of Object.values(tensors)) t.dtype = dtype;
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_act: 'silu',
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.headDim,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.seqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: c.sharedClassifier,
    attention_bias: false,
    mlp_bias: false,
    torch_dtype: dtype === 'F16' ? 'float16' : 'float32',
  };
  return { config, safetensors: [writeSafetensors(tensors, { format: 'pt' })] };
}
