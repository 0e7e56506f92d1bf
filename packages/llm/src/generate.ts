import { type Budget, InvalidParamsError, type PolicyChoice, type PolicyRegistryLike } from '@kv/core';
import type { LlamaModel } from './model.js';
import { Sampler, type SamplingOptions } from './sampler.js';

/**
 * Options of {@link generate}.
 *
 * @example
 * ```ts
 * import { generate, type GenerateOptions } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const options: GenerateOptions = { maxTokens: 80, temperature: 0.8, topK: 40, seed: 7 };
 * generate(model, new TextEncoder().encode('In the beginning'), options);
 * ```
 */
export interface GenerateOptions extends SamplingOptions {
  /** Number of tokens to generate (≥ 0). */
  readonly maxTokens: number;
  /** KV-cache policy (default `{ policy: 'exact' }`). */
  readonly policy?: PolicyChoice;
  /** Registry that builds the policy (default: core's `exact` only). */
  readonly registry?: PolicyRegistryLike;
  /** Budget override for every head. */
  readonly budget?: Budget;
  /** Stop after generating this token (it is included). */
  readonly stopToken?: number;
}

/**
 * What {@link generate} produced.
 *
 * @example
 * ```ts
 * import { generate, type GenerateResult } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const result: GenerateResult = generate(model, new TextEncoder().encode('And God said'), { maxTokens: 40 });
 * console.log(new TextDecoder().decode(Uint8Array.from(result.tokens)), result.cacheBytes);
 * ```
 */
export interface GenerateResult {
  /** The generated tokens (without the prompt). */
  readonly tokens: Int32Array;
  /** Bytes held by the cache at the end. */
  readonly cacheBytes: number;
}

/**
 * Feeds a prompt, then generates tokens greedily or by seeded temperature sampling, with `policy`
 * as the KV cache.
 *
 * @param model - The model.
 * @param prompt - Prompt token ids (at least 1; for byte models, the UTF-8 bytes).
 * @param options - Length, temperature, top-k, seed, policy.
 * @returns The generated tokens and the final cache size.
 * @throws `InvalidParamsError` on an empty prompt, a bad token, a negative length, a
 *   negative or non-finite temperature or a bad top-k; `NonFiniteInputError` or
 *   `DimensionMismatchError` when the cache refuses the model's keys or values (NaN or Infinity
 *   from corrupt weights); any error of the
 *   registry or policy.
 * @example
 * ```ts
 * import { generate } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const { tokens } = generate(model, new TextEncoder().encode('And God said'), { maxTokens: 40 });
 * new TextDecoder().decode(Uint8Array.from(tokens));
 * ```
 * @remarks Sampling draws one uniform number per token from core's seeded `Rng`, so a seed
 * reproduces the text across runs and platforms (up to floating-point ties).
 */
export function generate(model: LlamaModel, prompt: ArrayLike<number>, options: GenerateOptions): GenerateResult {
  if (prompt.length < 1) throw new InvalidParamsError('the prompt is empty; generation needs at least one token');
  if (!Number.isInteger(options.maxTokens) || options.maxTokens < 0) throw new InvalidParamsError(`maxTokens is ${options.maxTokens}, expected an integer >= 0`);
  const sampler = new Sampler(options, model.config.vocabSize);
  const base = options.policy ?? { policy: 'exact' };
  const choice = options.budget !== undefined ? { ...base, budget: options.budget } : base;
  const decoder = model.decoder(model.createCache(choice, options.registry ? { registry: options.registry } : {}));
  let logits: Float32Array = new Float32Array(0);
  for (let i = 0; i < prompt.length; i++) logits = decoder.step(prompt[i]!);
  const out = new Int32Array(options.maxTokens);
  let produced = 0;
  for (; produced < options.maxTokens; produced++) {
    const next = sampler.pick(logits);
    out[produced] = next;
    if (next === options.stopToken) {
      produced++;
      break;
    }
    if (produced + 1 < options.maxTokens) logits = decoder.step(next);
  }
  return { tokens: out.slice(0, produced), cacheBytes: decoder.cache.bytes };
}
