import * as transformers from '@huggingface/transformers';
import type { DynamicCache } from '@huggingface/transformers';
import { InvalidParamsError, type ModelCache, UnsupportedError } from '@kv/core';
import { type CausalLM, type DecoderShape, decoderShape, presentName, type TensorLike } from './model.js';
import { buildCache, type SessionOptions } from './options.js';
import { CompressedPast } from './past.js';
import { readSession, type RestoreOptions, writeSession } from './session-file.js';

const HOOKED = Symbol.for('@kv/transformers.forward');

/**
 * A drop-in for transformers.js 4.x's `DynamicCache` whose past is a kv policy cache, for
 * `model.generate({ ..., past_key_values: cache })` and the `text-generation` pipeline
 * (`generator(messages, { past_key_values: cache })`), one conversation across calls.
 *
 * Its own enumerable properties are the compressed past tensors `past_key_values.{layer}.key/value`
 * (`[1, kvHeads, rows, headDim]`); `get_seq_length()` is the logical length, so `generate` feeds
 * only the tokens the cache has not seen; `update()` (called by `generate` after each step)
 * appends the new rows of `present.*` to the policies. Because `generate` builds the attention
 * mask and positions from the logical length, {@link CompressedCache.create} wraps the model's
 * `forward` once: a call whose `past_key_values` is a `CompressedCache` gets an all-ones
 * `attention_mask` over the kept rows plus the new tokens and `position_ids` at the logical
 * positions; any other call passes through unchanged.
 *
 * @example
 * ```ts
 * import { AutoModelForCausalLM, Tensor, env } from '@huggingface/transformers';
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * import { CompressedCache } from '@kv/transformers';
 * env.allowRemoteModels = false;
 * env.localModelPath = '../shared/models';
 * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
 * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
 * const past_key_values = await CompressedCache.create(model, { policy: { policy: 'streaming-llm' }, budget: 128, registry });
 * const prompt = Array.from(new TextEncoder().encode('And God said, '), BigInt);
 * const input_ids = new Tensor('int64', BigInt64Array.from(prompt), [1, prompt.length]);
 * const out = await model.generate({ input_ids, max_new_tokens: 40, past_key_values });
 * past_key_values.pastRows; // at most 128
 * ```
 * @remarks Supports: batch 1, greedy or sampled `generate`, multi-turn chat (pass the whole
 * conversation each turn, as with a `DynamicCache`). Not supported: transformers.js 3.x (its
 * `generate` replaces the cache object by a plain record each step; use {@link CompressedSession}),
 * batches, beam search, models whose graph lacks `position_ids`.
 */
export class CompressedCache {
  // Native private fields stay out of sight of Object.assign and Object.values, which
  // transformers.js applies to a cache's own properties: those are the past tensors only.
  readonly #past: CompressedPast;
  #absorbed: unknown;

  private constructor(past: CompressedPast) {
    this.#past = past;
    Object.assign(this, past.past);
  }

  /**
   * Creates an empty compressed cache for `model` and wraps the model's `forward` (once).
   * @param model - A decoder-only transformers.js 4.x model with float32 pasts.
   * @param options - Policy, registry, budget, seed, query proxies, declared kinds.
   * @returns The cache, typed also as transformers.js's `DynamicCache` so that `generate()` takes it.
   * @throws `UnsupportedError` under transformers.js 3.x, and as {@link CompressedSession.create}.
   * @throws `InvalidParamsError` for bad options; any error of the registry.
   * @example
   * ```ts
   * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
   * import { PolicyRegistry, exactPolicy } from '@kv/core';
   * import { heuristicPolicies } from '@kv/heuristics';
   * import { CompressedCache } from '@kv/transformers';
   * env.allowRemoteModels = false;
   * env.localModelPath = '../shared/models';
   * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
   * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
   * const cache = await CompressedCache.create(model, { policy: { policy: 'sliding-window' }, budget: 256, registry });
   * ```
   */
  static async create(model: CausalLM, options: SessionOptions): Promise<CompressedCache & DynamicCache> {
    const shape = CompressedCache.#checkModel(model);
    const { cache, proxies } = buildCache(shape, options);
    return new CompressedCache(new CompressedPast(shape, cache, proxies)) as CompressedCache & DynamicCache;
  }

  /**
   * Restores a cache saved by {@link CompressedCache.save} and wraps the model's `forward`.
   * @param model - The model it was saved from.
   * @param bytes - The saved cache.
   * @param options - Registry holding the saved policies; `kinds` as at creation.
   * @returns The cache, at the saved logical length.
   * @throws `SnapshotError` (from `@kv/core`) for a truncated, corrupt or mismatched file;
   *   `UnknownPolicyError` when the registry lacks a saved policy; `UnsupportedError` and
   *   `InvalidParamsError` as {@link CompressedCache.create}.
   * @example
   * ```ts
   * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
   * import { PolicyRegistry, exactPolicy } from '@kv/core';
   * import { CompressedCache } from '@kv/transformers';
   * env.allowRemoteModels = false;
   * env.localModelPath = '../shared/models';
   * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
   * const registry = new PolicyRegistry().register(exactPolicy);
   * const cache = await CompressedCache.create(model, { policy: { policy: 'exact' }, registry });
   * const again = await CompressedCache.restore(model, cache.save(), { registry });
   * ```
   */
  static async restore(model: CausalLM, bytes: Uint8Array, options: RestoreOptions): Promise<CompressedCache & DynamicCache> {
    const shape = CompressedCache.#checkModel(model);
    const r = readSession('kv-transformers-cache', bytes, shape, options);
    return new CompressedCache(new CompressedPast(shape, r.cache, r.proxies)) as CompressedCache & DynamicCache;
  }

  /**
   * The logical length (tokens seen), which `generate` uses to feed only unseen tokens.
   * @returns Tokens absorbed so far.
   */
  get_seq_length(): number {
    return this.#past.position;
  }

  /**
   * Absorbs a step's outputs: appends the new rows of each `present.*` (or, as transformers.js
   * renames them, `past_key_values.*`) to the policies and replaces this object's past tensors.
   * Outputs already absorbed are ignored, so calling it after `generate` did is harmless.
   * @param entries - The model's outputs of a call made with this cache as `past_key_values`.
   * @throws `UnsupportedError` as `CompressedSession.step` (non-float32 presents, heads with
   *   unequal rows); `InvalidParamsError` when the entries hold no present of layer 0.
   */
  update(entries: Readonly<Record<string, TensorLike>>): void {
    const p = this.#past;
    const first = entries[presentName(0, 'key')] ?? entries['past_key_values.0.key'];
    if (first === undefined) throw new InvalidParamsError('update() needs the outputs of a call (present.* or past_key_values.* tensors)');
    if (this.#absorbed === first) return;
    const presents: Record<string, TensorLike> = {};
    for (let l = 0; l < p.shape.layers; l++) {
      for (const kind of ['key', 'value'] as const) {
        const t = entries[presentName(l, kind)] ?? entries[`past_key_values.${l}.${kind}`];
        if (t !== undefined) presents[presentName(l, kind)] = t;
      }
    }
    p.absorb(presents, (first.dims[2] ?? 0) - p.rows);
    this.#absorbed = first;
    Object.assign(this, p.past);
  }

  /** Nothing to release: the past lives in JavaScript memory (DynamicCache API). */
  async dispose(): Promise<void> {}

  /** Bytes held by the policy caches. */
  get bytes(): number {
    return this.#past.bytes;
  }

  /** Rows per (layer, KV head) of the past the next call receives. */
  get pastRows(): number {
    return this.#past.rows;
  }

  /** The most rows any call has received. */
  get maxPastRows(): number {
    return this.#past.maxRows;
  }

  /** The policy caches. */
  get cache(): ModelCache {
    return this.#past.cache;
  }

  /**
   * Saves the caches and the logical length (core's snapshot format, nested).
   * @returns The bytes; {@link CompressedCache.restore} continues from them.
   * @example
   * ```ts
   * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
   * import { PolicyRegistry, exactPolicy } from '@kv/core';
   * import { CompressedCache } from '@kv/transformers';
   * env.allowRemoteModels = false;
   * env.localModelPath = '../shared/models';
   * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
   * const cache = await CompressedCache.create(model, { policy: { policy: 'exact' }, registry: new PolicyRegistry().register(exactPolicy) });
   * const bytes: Uint8Array = cache.save();
   * ```
   */
  save(): Uint8Array {
    const p = this.#past;
    // cannot throw: the caches are read at indices inside their own shape
    return writeSession('kv-transformers-cache', p.shape, p.cache, undefined, [], p.proxied);
  }

  static #checkModel(model: CausalLM): DecoderShape {
    if (typeof (transformers as Record<string, unknown>)['DynamicCache'] !== 'function') {
      throw new UnsupportedError('CompressedCache needs transformers.js 4.x (whose generate() keeps one DynamicCache across steps); with 3.x use CompressedSession');
    }
    const shape = decoderShape(model);
    CompressedCache.#hookForward(model);
    return shape;
  }

  // Wraps model.forward once so that calls with a CompressedCache get the mask and positions of
  // the compressed past: generate() builds both from the logical length, which a pruned past is not.
  static #hookForward(model: CausalLM): void {
    const m = model as CausalLM & { [HOOKED]?: true };
    if (m[HOOKED]) return;
    const original = model.forward;
    const forward = function (this: CausalLM, inputs: Record<string, unknown>): Promise<Record<string, TensorLike>> {
      const cache = inputs?.['past_key_values'];
      if (!(cache instanceof CompressedCache)) return original.call(this, inputs);
      const ids = (inputs['input_ids'] ?? inputs['inputs_embeds']) as TensorLike | undefined;
      if (!ids || ids.dims[0] !== 1) throw new UnsupportedError(`a CompressedCache serves batch 1; the input has shape [${ids?.dims.join(', ') ?? ''}]`);
      const p = cache.#past;
      return original.call(this, { ...inputs, ...p.frame(ids.dims[1]!), past_key_values: { ...p.past } });
    };
    Object.defineProperty(model, 'forward', { value: forward, configurable: true, writable: true });
    Object.defineProperty(model, HOOKED, { value: true });
  }
}
