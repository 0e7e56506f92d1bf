import { InvalidParamsError, UnsupportedError } from '@kv/core';

/**
 * The part of a transformers.js (3.x and 4.x) or onnxruntime tensor this package reads.
 *
 * @example
 * ```ts
 * import { Tensor } from '@huggingface/transformers';
 * import type { TensorLike } from '@kv/transformers';
 * const t: TensorLike = new Tensor('float32', new Float32Array(6), [1, 2, 3]);
 * t.dims; // [1, 2, 3]
 * ```
 */
export interface TensorLike {
  /** Element type (`float32`, `int64`, ...). */
  readonly type: string;
  /** Shape. */
  readonly dims: readonly number[];
  /** The elements, row-major. */
  readonly data: unknown;
}

/**
 * The part of an ONNX Runtime inference session this package reads.
 *
 * @example
 * ```ts
 * import type { InferenceSessionLike } from '@kv/transformers';
 * const session: InferenceSessionLike = { inputNames: ['input_ids'], outputNames: ['logits'] };
 * ```
 */
export interface InferenceSessionLike {
  /** Names of the graph inputs. */
  readonly inputNames: readonly string[];
  /** Names of the graph outputs. */
  readonly outputNames: readonly string[];
}

/**
 * What a session needs of a causal language model: a transformers.js `PreTrainedModel` from
 * `AutoModelForCausalLM.from_pretrained` (3.x or 4.x) has this shape. The model is called through
 * its own `forward`, so whatever transformers.js does for the graph (device, dtype of the inputs it
 * adds itself) still applies.
 *
 * @example
 * ```ts
 * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
 * import type { CausalLM } from '@kv/transformers';
 * env.allowRemoteModels = false;
 * env.localModelPath = '../shared/models';
 * const model: CausalLM = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
 * ```
 */
export interface CausalLM {
  /** The model's config (`config.json` fields: `num_hidden_layers`, `num_attention_heads`, ...). */
  readonly config: object;
  /** The ONNX sessions; a decoder-only model has one named `model`. */
  readonly sessions: Readonly<Record<string, InferenceSessionLike>>;
  /**
   * Runs the graph once.
   * @param inputs - Named input tensors, with the past under `past_key_values`.
   * @returns Named output tensors (`logits`, `present.{layer}.key`, ...).
   */
  forward(inputs: Record<string, unknown>): Promise<Record<string, TensorLike>>;
}

/**
 * Shape of a decoder as its config and graph describe it.
 *
 * @example
 * ```ts
 * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
 * import { decoderShape, type DecoderShape } from '@kv/transformers';
 * env.allowRemoteModels = false;
 * env.localModelPath = '../shared/models';
 * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
 * const shape: DecoderShape = decoderShape(model); // 4 layers, 3 query / 3 KV heads of 64
 * ```
 */
export interface DecoderShape {
  /** Decoder layers. */
  readonly layers: number;
  /** Query heads per layer. */
  readonly queryHeads: number;
  /** Key/value heads per layer (fewer than `queryHeads` under grouped-query attention). */
  readonly kvHeads: number;
  /** Dimension of one head's keys, values and queries. */
  readonly headDim: number;
  /** Vocabulary size (token ids are 0 … vocabSize − 1). */
  readonly vocabSize: number;
}

/** Graph input name of a layer's past keys or values. */
export const pastName = (layer: number, kind: 'key' | 'value'): string => `past_key_values.${layer}.${kind}`;

/** Graph output name of a layer's present keys or values. */
export const presentName = (layer: number, kind: 'key' | 'value'): string => `present.${layer}.${kind}`;

function positiveInteger(config: Record<string, unknown>, names: readonly string[]): number | undefined {
  for (const name of names) {
    const v = config[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new InvalidParamsError(`the model config has ${name} = ${JSON.stringify(v)}, expected an integer >= 1`);
    }
    return v;
  }
  return undefined;
}

/**
 * Reads a decoder's shape from its config (`num_hidden_layers`, `num_attention_heads`,
 * `num_key_value_heads` — absent means one KV head per query head —, `head_dim` or
 * `hidden_size / num_attention_heads`, `vocab_size`) and checks that its ONNX graph takes what a
 * compressed past needs: `input_ids`, `attention_mask`, `position_ids` and
 * `past_key_values.{layer}.key/value` for every layer, and returns `logits` and `present.*`.
 *
 * @param model - A decoder-only transformers.js model.
 * @returns The shape.
 * @throws `UnsupportedError` for an encoder-decoder model, a graph without `position_ids`
 *   (its positions would come from the mask, so a pruned past would shift RoPE), or one whose
 *   past inputs are not per-layer keys and values (MQA `key_value`, state-space caches).
 * @throws `InvalidParamsError` when the config lacks a field or has a non-integer one.
 * @example
 * ```ts
 * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
 * import { decoderShape } from '@kv/transformers';
 * env.allowRemoteModels = false;
 * env.localModelPath = '../shared/models';
 * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
 * const { layers, kvHeads, headDim } = decoderShape(model);
 * ```
 */
export function decoderShape(model: CausalLM): DecoderShape {
  const sessions = model.sessions ?? {};
  if ('decoder_model_merged' in sessions || !('model' in sessions)) {
    throw new UnsupportedError(`the model has sessions [${Object.keys(sessions).join(', ')}]; a compressed past needs a decoder-only model with one session named "model"`);
  }
  const config = model.config as Record<string, unknown>;
  const layers = positiveInteger(config, ['num_hidden_layers', 'n_layer', 'num_layers']);
  const queryHeads = positiveInteger(config, ['num_attention_heads', 'n_head']);
  if (layers === undefined || queryHeads === undefined) {
    throw new InvalidParamsError('the model config has no num_hidden_layers or num_attention_heads');
  }
  const kvHeads = positiveInteger(config, ['num_key_value_heads']) ?? queryHeads;
  const hidden = positiveInteger(config, ['hidden_size', 'n_embd']);
  const headDim = positiveInteger(config, ['head_dim']) ?? (hidden !== undefined && hidden % queryHeads === 0 ? hidden / queryHeads : undefined);
  const vocabSize = positiveInteger(config, ['vocab_size']);
  if (headDim === undefined || vocabSize === undefined) throw new InvalidParamsError('the model config has no head_dim (or hidden_size) or vocab_size');
  if (queryHeads % kvHeads !== 0) {
    throw new InvalidParamsError(`num_attention_heads (${queryHeads}) is not a multiple of num_key_value_heads (${kvHeads})`);
  }
  const { inputNames, outputNames } = sessions['model']!;
  const missing = ['input_ids', 'attention_mask', 'position_ids'].filter((n) => !inputNames.includes(n));
  if (missing.length > 0) {
    throw new UnsupportedError(
      `the graph has no input ${missing.join(', ')}; a pruned past needs explicit position_ids (the logical position, so kept keys keep their RoPE rotation) and an attention_mask over the kept rows`,
    );
  }
  for (let l = 0; l < layers; l++) {
    for (const kind of ['key', 'value'] as const) {
      if (!inputNames.includes(pastName(l, kind)) || !outputNames.includes(presentName(l, kind))) {
        throw new UnsupportedError(
          `the graph has no ${pastName(l, kind)} input or ${presentName(l, kind)} output; only per-layer key and value pasts ([batch, kvHeads, rows, headDim]) can be compressed`,
        );
      }
    }
  }
  return { layers, queryHeads, kvHeads, headDim, vocabSize };
}
