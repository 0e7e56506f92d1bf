import { type Budget, exactPolicy, getKernelBackend, InvalidParamsError, type KernelBackend, ModelCache, type ModelCacheOptions, type PolicyChoice, type PolicyDefinition, PolicyRegistry, type PolicyRegistryLike } from '@kv/core';
import { type ContextScoredHead, contextScoring } from './context-scores.js';
import { createMatvecKernels, type Matvec, type MatvecKernels } from './kernels/matvec.js';
import { type KvzipOptions, scoreContext } from './kvzip.js';
import { type LlamaConfig, type LlamaWeights, validateWeights } from './weights.js';

/**
 * The products of one layer: fused q|k|v, the output projection, fused gate|up, the down
 * projection, and views of q, k, v inside the fused output.
 * @internal
 */
export interface LayerKernels {
  readonly qkv: Matvec;
  readonly wo: Matvec;
  readonly w13: Matvec;
  readonly w2: Matvec;
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
}

/**
 * Every product of a model's forward pass, on one backend.
 * @internal
 */
export interface ModelKernels {
  readonly matvec: MatvecKernels;
  readonly layers: readonly LayerKernels[];
  readonly classifier: Matvec;
}

/**
 * Options of {@link LlamaModel.createCache}.
 *
 * @example
 * ```ts
 * import { exactPolicy, PolicyRegistry } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * import { type CacheOptions } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const options: CacheOptions = {
 *   registry: new PolicyRegistry().register(exactPolicy, ...heuristicPolicies),
 *   budgets: (layer) => (layer === 0 ? 256 : 64), // keep more in the first layer
 *   seed: 1,
 * };
 * const cache = model.createCache({ policy: 'h2o' }, options);
 * ```
 */
export interface CacheOptions {
  /** Registry that builds the per-head caches (default: one holding only core's `exact`). */
  readonly registry?: PolicyRegistryLike;
  /**
   * Budget overriding the policy choice's own, for every head: tokens, `{ bytes }` per head, or
   * `{ fraction }` of the float32 bytes the exact cache would hold for the tokens each head has seen.
   */
  readonly budget?: Budget;
  /** Per-layer budgets, or a function of (layer, KV head); see `ModelCacheOptions.budgets`. */
  readonly budgets?: readonly (Budget | undefined)[] | ((layer: number, kvHead: number) => Budget | undefined);
  /** Base seed; each head gets `mixSeed(seed, layer, head)` (default 0). */
  readonly seed?: number;
}

/**
 * A registry holding only core's exact policy, the default when none is given.
 *
 * @returns A new registry.
 * @example
 * ```ts
 * import { exactRegistry } from '@kv/llm';
 * exactRegistry().has('exact'); // true
 * ```
 */
export function exactRegistry(): PolicyRegistry {
  // cannot throw: one policy, registered once in a new registry
  return new PolicyRegistry().register(exactPolicy);
}

/**
 * A Llama-architecture decoder (RMSNorm, RoPE, grouped-query attention, SwiGLU, tied or separate
 * classifier) whose attention is answered by a `ModelCache`, so any registered KV-cache
 * policy runs inside the model. The model holds weights only; each sequence runs in a
 * {@link LlamaDecoder} with its own cache and scratch buffers.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { LlamaModel, parseLlama2c } from '@kv/llm';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const bytes = readFileSync(MODEL_PATH);
 * const model = new LlamaModel(parseLlama2c(bytes));
 * const decoder = model.decoder(model.createCache({ policy: 'exact' }));
 * const logits = decoder.step(72); // next-token logits after the byte 'H'
 * ```
 * @remarks Platform-neutral: it takes weights parsed from ArrayBuffers (see `@kv/llm/node` for
 * reading files). The matrix-vector products run in WebAssembly SIMD over a copy of the weights
 * packed once for the kernel (q|k|v and gate|up fused), made when the first decoder of core's
 * `wasm` (or `wasm-f64`) kernel backend starts; with the `js` backend (`setKernelBackend('js')`), where
 * WebAssembly SIMD is missing, or for weights beyond 2 GiB, they go through core's `gemv`.
 */
export class LlamaModel {
  /** The weights, in llama2.c conventions. */
  readonly weights: LlamaWeights;
  /** The model shape. */
  readonly config: LlamaConfig;
  private readonly built = new Map<'wasm' | 'js', ModelKernels>();

  /**
   * @param weights - Weights from {@link parseLlama2c} or {@link parseHuggingFace}.
   * @throws `InvalidParamsError` when the weights disagree with their config.
   */
  constructor(weights: LlamaWeights) {
    this.weights = validateWeights(weights);
    this.config = weights.config;
  }

  /**
   * Builds a model-level cache shaped for this model: one policy instance per (layer, KV head),
   * key and value dimension `headDim`, logit scale 1/√headDim.
   *
   * @param policy - One policy choice for every head, or a function of (layer, KV head). A policy
   *   whose definition declares integer params `layer` and `layers` (PyramidKV's per-layer budget
   *   schedule) gets them filled in per layer when the choice leaves them out, and one declaring
   *   `rope` (Expected Attention) gets the model's `{ theta, pairing: 'interleaved' }`.
   * @param options - Registry, budget override(s) and seed.
   * @returns A new, empty cache.
   * @throws Any error of the registry (unknown policy, bad params, missing budget).
   * @example
   * ```ts
   * import { exactPolicy, PolicyRegistry } from '@kv/core';
   * import { heuristicPolicies } from '@kv/heuristics';
   * import { loadModel } from '@kv/llm/node';
   * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
   * const model = await loadModel(MODEL_PATH);
   * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
   * const cache = model.createCache({ policy: 'sliding-window' }, { registry, budget: 128 });
   * ```
   */
  createCache(policy: PolicyChoice | ((layer: number, kvHead: number) => PolicyChoice), options: CacheOptions = {}): ModelCache {
    return new ModelCache(this.cacheOptions(policy, options));
  }

  /**
   * The `ModelCacheOptions` {@link LlamaModel.createCache} uses, for building a cache of
   * another class (such as {@link ShadowedCache}) shaped for this model.
   *
   * @param policy - As for {@link LlamaModel.createCache}.
   * @param options - As for {@link LlamaModel.createCache}.
   * @returns The options.
   * @example
   * ```ts
   * import { exactPolicy, PolicyRegistry } from '@kv/core';
   * import { heuristicPolicies } from '@kv/heuristics';
   * import { ShadowedCache } from '@kv/llm';
   * import { loadModel } from '@kv/llm/node';
   * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
   * const model = await loadModel(MODEL_PATH);
   * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
   * const cache = new ShadowedCache(model.cacheOptions({ policy: 'h2o' }, { registry, budget: 64 }));
   * ```
   */
  cacheOptions(policy: PolicyChoice | ((layer: number, kvHead: number) => PolicyChoice), options: CacheOptions = {}): ModelCacheOptions {
    const c = this.config;
    const registry = options.registry ?? exactRegistry();
    const budgets = options.budgets ?? (options.budget !== undefined ? () => options.budget : undefined);
    return {
      layers: c.nLayers,
      kvHeads: c.nKvHeads,
      queryHeads: c.nHeads,
      keyDim: c.headDim,
      valueDim: c.headDim,
      policy: typeof policy === 'function' ? policy : withModelParams(policy, registry, c),
      registry,
      ...(budgets !== undefined ? { budgets } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
    };
  }

  /**
   * Starts a sequence whose attention is answered by `cache`.
   *
   * @param cache - An empty cache from {@link LlamaModel.createCache} (or any `ModelCache`
   *   of matching shape).
   * @param resume - To continue a sequence whose tokens `cache` already holds: its position and
   *   next-token logits (see {@link LlamaDecoder}'s constructor).
   * @returns A decoder at position 0 (or at `resume.position`).
   * @throws `InvalidParamsError` when the cache's shape does not match the model or it is not empty.
   * @example
   * ```ts
   * import { loadModel } from '@kv/llm/node';
   * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
   * const model = await loadModel(MODEL_PATH);
   * const decoder = model.decoder(model.createCache({ policy: 'exact' }));
   * ```
   */
  decoder(cache: ModelCache, resume?: { readonly position: number; readonly logits: Float32Array }): LlamaDecoder {
    return new LlamaDecoder(this, cache, resume);
  }

  /**
   * The forward pass's products on a backend, built on first use and shared by every decoder.
   * @param kernelBackend - Core's kernel backend: the products run in WebAssembly for `wasm` and
   *   `wasm-f64` (whose bit-identical promise is about attention sums; the products are float32
   *   either way), falling back to `js` where unavailable.
   * @returns The kernels.
   * @internal
   */
  kernels(kernelBackend: KernelBackend = getKernelBackend()): ModelKernels {
    const backend = kernelBackend === 'js' ? 'js' : 'wasm';
    const have = this.built.get(backend);
    if (have) return have;
    const c = this.config;
    const w = this.weights;
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    const matrices = w.layers.flatMap((l) => [
      { cols: c.dim, parts: [l.wq, l.wk, l.wv] },
      { cols: qDim, parts: [l.wo] },
      { cols: c.dim, parts: [l.w1, l.w3] },
      { cols: c.hiddenDim, parts: [l.w2] },
    ]);
    matrices.push({ cols: c.dim, parts: [w.wcls] });
    const matvec = createMatvecKernels(matrices, backend === 'wasm');
    const m = matvec.matrices;
    const layers = w.layers.map((_, i): LayerKernels => {
      const qkv = m[4 * i]!;
      return {
        qkv,
        wo: m[4 * i + 1]!,
        w13: m[4 * i + 2]!,
        w2: m[4 * i + 3]!,
        q: qkv.output.subarray(0, qDim),
        k: qkv.output.subarray(qDim, qDim + kvDim),
        v: qkv.output.subarray(qDim + kvDim, qDim + 2 * kvDim),
      };
    });
    const built: ModelKernels = { matvec, layers, classifier: m[m.length - 1]! };
    this.built.set(backend, built);
    if (matvec.backend !== backend) this.built.set(matvec.backend, built);
    return built;
  }
}

/**
 * One sequence running through a {@link LlamaModel}: feeds tokens one at a time and returns
 * next-token logits, appending each layer's keys and values to the cache and asking the cache
 * for each layer's attention output.
 *
 * @example
 * ```ts
 * import type { LlamaDecoder } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const decoder: LlamaDecoder = model.decoder(model.createCache({ policy: 'exact' }));
 * for (const byte of new TextEncoder().encode('Hello')) decoder.step(byte);
 * decoder.logits; // next-token logits after "Hello"
 * ```
 * @remarks Keys are cached AFTER RoPE. Each key then already carries its absolute position, so a
 * policy that evicts, merges or summarises keys never has to re-rotate anything, and a query
 * (rotated by its own position) scores every kept key exactly as the full model would. Pre-RoPE
 * caching would let a policy compare keys independent of position, but every answer would then
 * have to rotate each kept key by its position, which summaries that do not keep tokens (sketches,
 * moments) cannot do. `step` allocates nothing: every buffer is made once in the constructor.
 */
export class LlamaDecoder {
  /** The model. */
  readonly model: LlamaModel;
  /** The cache answering attention. */
  readonly cache: ModelCache;
  /** Next-token logits after the last {@link LlamaDecoder.step} (overwritten by each step). */
  readonly logits: Float32Array;
  private pos = 0;
  private scoringMillis = 0;
  private readonly kern: ModelKernels;
  private readonly x: Float32Array;
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly invFreq: Float64Array;

  /**
   * @param model - The model.
   * @param cache - An empty cache of matching shape.
   * @param resume - The position and next-token logits of a saved sequence whose tokens `cache`
   *   already holds (used by `LlamaSession.restore`); a fresh decoder when left out.
   * @throws `InvalidParamsError` when the cache does not match the model, is not empty (or, with
   *   `resume`, has not seen exactly `resume.position` tokens), or the logits have the wrong length.
   */
  constructor(model: LlamaModel, cache: ModelCache, resume?: { readonly position: number; readonly logits: Float32Array }) {
    const c = model.config;
    if (cache.layers !== c.nLayers || cache.kvHeads !== c.nKvHeads || cache.queryHeads !== c.nHeads || cache.keyDim !== c.headDim || cache.valueDim !== c.headDim) {
      throw new InvalidParamsError(
        `cache shape (${cache.layers} layers, ${cache.queryHeads}/${cache.kvHeads} heads, d=${cache.keyDim}, s=${cache.valueDim}) does not match the model (${c.nLayers}, ${c.nHeads}/${c.nKvHeads}, ${c.headDim})`,
      );
    }
    const position = resume?.position ?? 0;
    if (cache.seen !== position) {
      throw new InvalidParamsError(
        resume ? `the cache has seen ${cache.seen} tokens, the saved position is ${position}` : `the cache already holds ${cache.seen} tokens; a decoder needs an empty one`,
      );
    }
    if (resume && resume.logits.length !== c.vocabSize) throw new InvalidParamsError(`${resume.logits.length} saved logits, expected ${c.vocabSize}`);
    this.model = model;
    this.cache = cache;
    this.kern = model.kernels();
    this.x = new Float32Array(c.dim);
    this.logits = new Float32Array(c.vocabSize);
    if (resume) this.logits.set(resume.logits);
    this.pos = position;
    const half = c.headDim / 2;
    this.cos = new Float64Array(half);
    this.sin = new Float64Array(half);
    this.invFreq = new Float64Array(half);
    for (let i = 0; i < half; i++) this.invFreq[i] = c.ropeTheta ** ((-2 * i) / c.headDim);
  }

  /**
   * Wall time of the last {@link LlamaDecoder.prefill}'s context scoring (KVzip's reconstruction
   * passes, when the cache's heads rank the prompt by them; else 0), ms.
   */
  get contextScoringMillis(): number {
    return this.scoringMillis;
  }

  /** Tokens fed so far (the position of the next token). */
  get position(): number {
    return this.pos;
  }

  /**
   * Feeds one token at the next position and computes the next-token logits.
   *
   * @param token - Token id in [0, vocabSize).
   * @returns {@link LlamaDecoder.logits} (a buffer reused by the next step).
   * @throws `InvalidParamsError` for a token outside the vocabulary (the decoder is then
   *   unchanged); `NonFiniteInputError` or `DimensionMismatchError` when the cache refuses the
   *   model's keys or values (NaN or Infinity from corrupt weights); any error the cache's policy
   *   throws.
   * @example
   * ```ts
   * import { loadModel } from '@kv/llm/node';
   * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
   * const model = await loadModel(MODEL_PATH);
   * const decoder = model.decoder(model.createCache({ policy: 'exact' }));
   * const logits = decoder.step(65); // after the byte 'A'
   * ```
   */
  step(token: number): Float32Array {
    this.checkToken(token);
    return this.forward(token, this.cache, undefined);
  }

  /**
   * Feeds a whole prompt the way serving systems do: the prompt runs with full attention, then each
   * layer's keys and values are handed to the cache at once through `ModelCache.prefill`, together
   * with the queries of the last `observationWindow` prompt positions, so query-aware prefill
   * policies (SnapKV) can choose what to keep.
   *
   * @param tokens - The prompt (at least 1 token).
   * @param observationWindow - Prompt positions whose queries are passed (default 32, SnapKV's
   *   default window; it should equal the policy's own window).
   * @returns The next-token logits after the prompt ({@link LlamaDecoder.logits}).
   * @throws `InvalidParamsError` for an empty prompt, a bad token or window, or a decoder that has
   *   already been fed (the decoder is then unchanged); any error the cache's policy throws.
   * @example
   * ```ts
   * import { exactPolicy, PolicyRegistry } from '@kv/core';
   * import { heuristicPolicies } from '@kv/heuristics';
   * import { loadModel } from '@kv/llm/node';
   * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
   * const model = await loadModel(MODEL_PATH);
   * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
   * const promptBytes = new TextEncoder().encode('In the beginning God created the heaven and the earth. '.repeat(4));
   * const decoder = model.decoder(model.createCache({ policy: 'snapkv' }, { registry, budget: 64 }));
   * decoder.prefill(promptBytes, 32);
   * const nextByte = decoder.logits.indexOf(Math.max(...decoder.logits)); // greedy
   * decoder.step(nextByte);
   * ```
   * @remarks The prompt's own logits come from full attention (as in SnapKV); only what follows
   * sees the compressed cache. Memory: the prompt's keys and values for every layer, once.
   */
  prefill(tokens: ArrayLike<number>, observationWindow = 32): Float32Array {
    const c = this.model.config;
    if (this.pos !== 0) throw new InvalidParamsError(`prefill needs a fresh decoder; this one is at position ${this.pos}`);
    if (tokens.length < 1) throw new InvalidParamsError('the prompt is empty');
    if (!Number.isInteger(observationWindow) || observationWindow < 0) {
      throw new InvalidParamsError(`observationWindow is ${observationWindow}, expected an integer >= 0`);
    }
    for (let i = 0; i < tokens.length; i++) this.checkToken(tokens[i]!);
    const n = tokens.length;
    const kvDim = c.nKvHeads * c.headDim;
    const qDim = c.nHeads * c.headDim;
    const w = Math.min(observationWindow, n);
    const keys = Array.from({ length: c.nLayers }, () => new Float32Array(n * kvDim));
    const values = Array.from({ length: c.nLayers }, () => new Float32Array(n * kvDim));
    const queries = Array.from({ length: c.nLayers }, () => new Float32Array(w * qDim));
    const full = this.model.createCache({ policy: 'exact' });
    try {
      for (let i = 0; i < n; i++) {
        this.forward(tokens[i]!, full, (layer, q, k, v) => {
          keys[layer]!.set(k, i * kvDim);
          values[layer]!.set(v, i * kvDim);
          if (i >= n - w) queries[layer]!.set(q, (i - (n - w)) * qDim);
        });
      }
      this.scoreContext(tokens, keys, values);
      for (let l = 0; l < c.nLayers; l++) this.cache.prefill(l, keys[l]!, values[l]!, w > 0 ? queries[l]! : undefined);
    } catch (e) {
      this.reset();
      throw e;
    }
    return this.logits;
  }

  // Heads that rank the prompt by KVzip scores (kvzip caches) get them before their prefill.
  private scoreContext(tokens: ArrayLike<number>, keys: readonly Float32Array[], values: readonly Float32Array[]): void {
    const c = this.model.config;
    let options: KvzipOptions | undefined;
    for (let l = 0; l < c.nLayers && !options; l++) for (let h = 0; h < c.nKvHeads && !options; h++) options = contextScoring(this.cache.head(l, h));
    this.scoringMillis = 0;
    if (!options) return;
    const scores = scoreContext(this.model, tokens, keys, values, this.logits, options);
    this.scoringMillis = scores.scoringMillis;
    for (let l = 0; l < c.nLayers; l++) {
      for (let h = 0; h < c.nKvHeads; h++) {
        const head = this.cache.head(l, h);
        if (contextScoring(head)) (head as unknown as ContextScoredHead).takeContextScores(scores.head(l, h));
      }
    }
  }

  /**
   * {@link LlamaDecoder.step}, showing each layer's post-RoPE query, key and value to `observe`
   * before they reach the cache (the views are overwritten by the next layer: copy what you keep).
   * @param token - Token id.
   * @param observe - Called once per layer.
   * @returns The logits.
   * @throws `InvalidParamsError` for a token outside the vocabulary.
   * @internal
   */
  stepObserved(token: number, observe: (layer: number, q: Float32Array, k: Float32Array, v: Float32Array) => void): Float32Array {
    this.checkToken(token);
    return this.forward(token, this.cache, observe);
  }

  private checkToken(token: number): void {
    const v = this.model.config.vocabSize;
    if (!Number.isInteger(token) || token < 0 || token >= v) {
      throw new InvalidParamsError(`token is ${token}, expected an integer in [0, ${v})`);
    }
  }

  private forward(token: number, cache: ModelCache, capture: ((layer: number, q: Float32Array, k: Float32Array, v: Float32Array) => void) | undefined): Float32Array {
    const c = this.model.config;
    const w = this.model.weights;
    const { dim, hiddenDim, headDim } = c;
    const qDim = c.nHeads * headDim;
    const kvDim = c.nKvHeads * headDim;
    const x = this.x;
    const emb = w.tokenEmbedding;
    for (let i = 0, o = token * dim; i < dim; i++) x[i] = emb[o + i]!;
    for (let i = 0; i < this.cos.length; i++) {
      const a = this.pos * this.invFreq[i]!;
      this.cos[i] = Math.cos(a);
      this.sin[i] = Math.sin(a);
    }
    for (let l = 0; l < c.nLayers; l++) {
      const lw = w.layers[l]!;
      const { qkv, wo, w13, w2, q, k, v } = this.kern.layers[l]!;
      rmsNorm(qkv.input, x, lw.rmsAtt, dim, c.normEps);
      qkv.run();
      this.rope(q, qDim);
      this.rope(k, kvDim);
      if (capture) capture(l, q, k, v);
      cache.append(l, k, v);
      cache.attend(l, q, wo.input);
      const attended = wo.run();
      for (let i = 0; i < dim; i++) x[i] += attended[i]!;
      rmsNorm(w13.input, x, lw.rmsFfn, dim, c.normEps);
      const gateUp = w13.run();
      const hb = w2.input;
      for (let i = 0; i < hiddenDim; i++) {
        const g = gateUp[i]!;
        hb[i] = (g / (1 + Math.exp(-g))) * gateUp[hiddenDim + i]!;
      }
      const down = w2.run();
      for (let i = 0; i < dim; i++) x[i] += down[i]!;
    }
    const cls = this.kern.classifier;
    rmsNorm(cls.input, x, w.rmsFinal, dim, c.normEps);
    this.logits.set(cls.run());
    this.pos++;
    return this.logits;
  }

  /** Forgets the sequence: position 0 and an empty cache. */
  reset(): void {
    this.pos = 0;
    this.cache.reset();
  }

  // Rotates each head's adjacent pairs (2i, 2i+1) by pos·θ^(−2i/headDim), llama2.c's convention.
  private rope(vec: Float32Array, n: number): void {
    const headDim = this.model.config.headDim;
    for (let j = 0; j < n; j += 2) {
      const i = (j % headDim) >> 1;
      const cs = this.cos[i]!;
      const sn = this.sin[i]!;
      const a = vec[j]!;
      const b = vec[j + 1]!;
      vec[j] = a * cs - b * sn;
      vec[j + 1] = a * sn + b * cs;
    }
  }
}

// What the model knows and some policies declare as params: the layer and the number of layers
// (PyramidKV's per-layer budget), and the RoPE the keys carry (Expected Attention de-rotates
// queries with it: llama2.c's adjacent pairs, θ from the config). A choice that sets one keeps it.
function withModelParams(choice: PolicyChoice, registry: PolicyRegistryLike, config: LlamaConfig): PolicyChoice | ((layer: number) => PolicyChoice) {
  const get = (registry as { get?: (name: string) => PolicyDefinition }).get;
  if (typeof get !== 'function' || !registry.has(choice.policy)) return choice;
  const names = new Set(get.call(registry, choice.policy).params.map((p) => p.name));
  const params: Record<string, unknown> = { ...choice.params };
  if (names.has('rope') && params['rope'] === undefined) params['rope'] = { theta: config.ropeTheta, pairing: 'interleaved' };
  const filled: PolicyChoice = Object.keys(params).length > 0 ? { ...choice, params } : choice;
  if (!names.has('layer') || !names.has('layers') || choice.params?.layer !== undefined) return filled;
  return (layer) => ({ ...filled, params: { ...params, layer, layers: config.nLayers } });
}

// out = weight ⊙ x / sqrt(mean(x²) + ε); out may alias x.
function rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, n: number, eps: number): void {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[i]! * x[i]!;
  const scale = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) out[i] = weight[i]! * (scale * x[i]!);
}
