import { type Budget, InvalidParamsError, ModelCache, type PolicyChoice, type PolicyRegistryLike } from '@kv/core';
import type { LlamaModel } from './model.js';
import { type AttentionErrors, ShadowedCache } from './shadow.js';

/**
 * Options of {@link evaluateTokens} and {@link evaluateText}.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { exactPolicy, PolicyRegistry } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * import { evaluateText, type EvaluateOptions } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const TEXT_PATH = '../shared/models/sample-validation.txt';
 * const text = readFileSync(TEXT_PATH).subarray(0, 1024);
 * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
 * // SnapKV compresses a 512-byte prompt once, then streams the rest.
 * const options: EvaluateOptions = { registry, budget: 128, prefill: 512, attentionErrors: true };
 * const m = evaluateText(model, text, { policy: 'snapkv' }, options);
 * m.attention?.keyRadius;
 * ```
 */
export interface EvaluateOptions {
  /** Registry that builds the per-head caches (default: core's `exact` only). */
  readonly registry?: PolicyRegistryLike;
  /** Budget for every head, overriding the policy choice's own. */
  readonly budget?: Budget;
  /** Base seed of the policy's random choices (default 0). */
  readonly seed?: number;
  /**
   * The full-cache run of the same tokens, when already computed (see {@link referenceRun});
   * comparing many policies on one text then runs the full-cache model once.
   */
  readonly reference?: ReferenceRun;
  /**
   * Length P of a prompt fed through {@link LlamaDecoder.prefill} (full attention, then handed to
   * the cache at once with the observation queries) before streaming the rest; 0 (default)
   * streams every token. Predictions are then scored from position P − 1 on.
   */
  readonly prefill?: number;
  /**
   * Also measure the attention error of every answered query against an exact shadow cache fed
   * with the same stream (see {@link ShadowedCache}); costs about one more exact attention.
   */
  readonly attentionErrors?: boolean;
  /** Observation window passed to the prefill (default: the policy's `window` param, else 32). */
  readonly observationWindow?: number;
}

/**
 * The full-cache (exact) model's predictions over a token sequence. Computing it once and
 * passing it as {@link EvaluateOptions.reference} saves one full-cache run per compared policy.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { exactPolicy, PolicyRegistry } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * import { evaluateText, referenceRun, type ReferenceRun } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const TEXT_PATH = '../shared/models/sample-validation.txt';
 * const text = readFileSync(TEXT_PATH).subarray(0, 1024);
 * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
 * const reference: ReferenceRun = referenceRun(model, text);
 * for (const budget of [64, 128, 256]) {
 *   const m = evaluateText(model, text, { policy: 'h2o' }, { registry, budget, reference });
 *   console.log(budget, m.bitsPerByte - m.referenceBitsPerByte);
 * }
 * ```
 */
export interface ReferenceRun {
  /** The tokens the run was made on. */
  readonly tokens: Int32Array;
  /** Natural-log next-token distribution at each position, row-major (tokens.length, vocabSize). */
  readonly logProbs: Float64Array;
  /** Most likely next token at each position. */
  readonly argmax: Int32Array;
  /** Bits per token of the real next tokens (positions 0..n−2). */
  readonly bitsPerToken: number;
  /** Bytes held by the exact cache after the last token. */
  readonly cacheBytes: number;
  /** Wall time of the run in milliseconds (for throughput figures; never asserted). */
  readonly millis: number;
}

/**
 * Quality and memory of a cache policy inside the model, over one token sequence.
 *
 * @example
 * ```ts
 * import { exactPolicy, PolicyRegistry } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * import { evaluateTokens, type TokenMetrics } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
 * const ids = Array.from(new TextEncoder().encode('The quick brown fox jumps over the lazy dog. '.repeat(8)));
 * const m: TokenMetrics = evaluateTokens(model, ids, { policy: 'sliding-window' }, { registry, budget: 64 });
 * console.log(m.meanKl, m.top1Agreement, m.cacheBytes / m.referenceCacheBytes);
 * ```
 */
export interface TokenMetrics {
  /** The policy choice that was evaluated (with the budget override applied). */
  readonly policy: PolicyChoice;
  /** Number of tokens fed. */
  readonly tokens: number;
  /** Number of next-token predictions scored (tokens − 1 without prefill, tokens − P with). */
  readonly predictions: number;
  /** Position of the first scored prediction (0, or P − 1 with a prefill of P tokens). */
  readonly firstPosition: number;
  /** Mean −log₂ p(next token) under the policy's model. */
  readonly bitsPerToken: number;
  /** The same for the full-cache model. */
  readonly referenceBitsPerToken: number;
  /** Mean over positions of KL(p_full ‖ p_policy), in nats. */
  readonly meanKl: number;
  /** Largest per-position KL, in nats. */
  readonly maxKl: number;
  /** Fraction of positions where both models' most likely next token agree. */
  readonly top1Agreement: number;
  /** Bytes held by the policy's caches (all layers and heads) after the last token. */
  readonly cacheBytes: number;
  /** Largest `cacheBytes` seen after any token. */
  readonly peakCacheBytes: number;
  /** Bytes held by the exact cache after the last token. */
  readonly referenceCacheBytes: number;
  /** Mean stored token-equivalents per (layer, KV head) after the last token. */
  readonly storedPerHead: number;
  /** KL(p_full ‖ p_policy) at each scored position (index 0 is `firstPosition`), in nats. */
  readonly klPerPosition: Float64Array;
  /** Wall time of the policy's run in milliseconds (never asserted). */
  readonly millis: number;
  /** Attention errors on the model's own stream, when `attentionErrors` was asked. */
  readonly attention?: AttentionErrors;
}

/**
 * {@link TokenMetrics} of a byte-level model over a text, with bits per byte.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { exactPolicy, PolicyRegistry } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * import { evaluateText, type TextMetrics } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const TEXT_PATH = '../shared/models/sample-validation.txt';
 * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
 * const text = readFileSync(TEXT_PATH).subarray(0, 1024);
 * const m: TextMetrics = evaluateText(model, text, { policy: 'sliding-window' }, { registry, budget: 256 });
 * console.log(`perplexity per byte ${2 ** m.bitsPerByte} vs ${2 ** m.referenceBitsPerByte} with the full cache`);
 * ```
 */
export interface TextMetrics extends TokenMetrics {
  /** Bits per byte of the policy's model (= bitsPerToken, one token per byte). */
  readonly bitsPerByte: number;
  /** Bits per byte of the full-cache model. */
  readonly referenceBitsPerByte: number;
}

// log-softmax in float64 into out[off..off+n); returns the argmax.
function logSoftmax(logits: Float32Array, out: Float64Array, off: number): number {
  const n = logits.length;
  let m = -Infinity;
  let am = 0;
  for (let i = 0; i < n; i++) {
    if (logits[i]! > m) {
      m = logits[i]!;
      am = i;
    }
  }
  let z = 0;
  for (let i = 0; i < n; i++) z += Math.exp(logits[i]! - m);
  const lz = m + Math.log(z);
  for (let i = 0; i < n; i++) out[off + i] = logits[i]! - lz;
  return am;
}

function toTokens(model: LlamaModel, tokens: ArrayLike<number>): Int32Array {
  if (tokens.length < 2) throw new InvalidParamsError(`the text has ${tokens.length} tokens, expected at least 2 (one prediction)`);
  const out = Int32Array.from(tokens);
  const v = model.config.vocabSize;
  for (let i = 0; i < out.length; i++) {
    if (out[i]! < 0 || out[i]! >= v || out[i] !== tokens[i]) throw new InvalidParamsError(`token ${i} is ${tokens[i]}, expected an integer in [0, ${v})`);
  }
  return out;
}

/**
 * Runs the full-cache model (core's exact policy) over a token sequence and keeps every
 * next-token distribution, the reference every policy is compared to.
 *
 * @param model - The model.
 * @param tokens - Token ids (at least 2).
 * @returns The log-probabilities, argmaxes, bits per token and cache size.
 * @throws `InvalidParamsError` on fewer than 2 tokens or a token outside the vocabulary;
 *   `NonFiniteInputError` or `DimensionMismatchError` when the cache refuses the model's keys or
 *   values (NaN or Infinity from corrupt weights).
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { referenceRun } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const TEXT_PATH = '../shared/models/sample-validation.txt';
 * const text = readFileSync(TEXT_PATH, 'utf8').slice(0, 1024);
 * const ref = referenceRun(model, new TextEncoder().encode(text));
 * ref.bitsPerToken; // about 1.8 on the shared tiny model
 * ```
 * @remarks Memory: 8·n·vocabSize bytes of log-probabilities (2 MiB for 1024 bytes of a byte model).
 */
export function referenceRun(model: LlamaModel, tokens: ArrayLike<number>): ReferenceRun {
  const ids = toTokens(model, tokens);
  const t0 = performance.now();
  const v = model.config.vocabSize;
  const decoder = model.decoder(model.createCache({ policy: 'exact' }));
  const logProbs = new Float64Array(ids.length * v);
  const argmax = new Int32Array(ids.length);
  let nats = 0;
  for (let i = 0; i < ids.length; i++) {
    argmax[i] = logSoftmax(decoder.step(ids[i]!), logProbs, i * v);
    if (i + 1 < ids.length) nats -= logProbs[i * v + ids[i + 1]!]!;
  }
  return {
    tokens: ids,
    logProbs,
    argmax,
    bitsPerToken: nats / Math.LN2 / (ids.length - 1),
    cacheBytes: decoder.cache.bytes,
    millis: performance.now() - t0,
  };
}

/**
 * Runs the model over a token sequence with `policy` as every layer's KV cache and compares each
 * next-token distribution with the full-cache model's.
 *
 * @param model - The model.
 * @param tokens - Token ids (at least 2).
 * @param policy - The policy choice (name, params, budget, seed).
 * @param options - Registry, budget override, seed, and an optional precomputed reference.
 * @returns Bits per token of both models, KL and top-1 agreement per position, cache memory.
 * @throws `InvalidParamsError` on bad tokens or a reference made on other tokens;
 *   `NonFiniteInputError` or `DimensionMismatchError` when the cache refuses the model's keys or
 *   values (NaN or Infinity from corrupt weights); any error of the registry or the policy.
 * @example
 * ```ts
 * import { exactPolicy, PolicyRegistry } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * import { evaluateTokens } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
 * const ids = new TextEncoder().encode('In the beginning God created the heaven and the earth. '.repeat(10));
 * const m = evaluateTokens(model, ids, { policy: 'sliding-window' }, { registry, budget: 256 });
 * m.meanKl; m.top1Agreement;
 * ```
 * @remarks Without `prefill`, every position is a streaming step (append, then attend), the
 * regime of decoding; with it, the prompt is compressed once by the policy, as serving systems do.
 * KL(p‖q) = Σ p (log p − log q) in float64 over the whole vocabulary; the exact policy gives the
 * same logits bit for bit, hence KL = 0 and agreement = 1.
 */
export function evaluateTokens(model: LlamaModel, tokens: ArrayLike<number>, policy: PolicyChoice, options: EvaluateOptions = {}): TokenMetrics {
  const ids = toTokens(model, tokens);
  const ref = options.reference ?? referenceRun(model, ids);
  if (ref.tokens.length !== ids.length || ref.tokens.some((t, i) => t !== ids[i])) {
    throw new InvalidParamsError('the reference run was made on other tokens');
  }
  const choice: PolicyChoice = options.budget !== undefined ? { ...policy, budget: options.budget } : policy;
  const cacheOptions = model.cacheOptions(choice, {
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
  const cache: ModelCache = options.attentionErrors ? new ShadowedCache(cacheOptions) : new ModelCache(cacheOptions);
  const decoder = model.decoder(cache);
  const v = model.config.vocabSize;
  const P = options.prefill ?? 0;
  if (!Number.isInteger(P) || P < 0 || P >= ids.length) {
    throw new InvalidParamsError(`prefill is ${P}, expected an integer in [0, ${ids.length - 1}]`);
  }
  const first = Math.max(0, P - 1);
  const n = ids.length - 1 - first;
  const lp = new Float64Array(v);
  const klPerPosition = new Float64Array(n);
  let nats = 0;
  let refNats = 0;
  let agree = 0;
  let peak = 0;
  const score = (i: number, logits: Float32Array): void => {
    const am = logSoftmax(logits, lp, 0);
    const off = i * v;
    nats -= lp[ids[i + 1]!]!;
    refNats -= ref.logProbs[off + ids[i + 1]!]!;
    if (am === ref.argmax[i]) agree++;
    let kl = 0;
    for (let j = 0; j < v; j++) {
      const r = ref.logProbs[off + j]!;
      kl += Math.exp(r) * (r - lp[j]!);
    }
    // Rounding can leave a tiny negative sum when the two distributions are nearly equal.
    klPerPosition[i - first] = Math.max(0, kl);
    peak = Math.max(peak, cache.bytes);
  };
  const t0 = performance.now();
  if (P > 0) {
    const window = options.observationWindow ?? (typeof choice.params?.window === 'number' ? choice.params.window : 32);
    score(P - 1, decoder.prefill(ids.subarray(0, P), window));
  }
  for (let i = P; i < ids.length - 1; i++) score(i, decoder.step(ids[i]!));
  const millis = performance.now() - t0;
  let sumKl = 0;
  let maxKl = 0;
  for (const k of klPerPosition) {
    sumKl += k;
    maxKl = Math.max(maxKl, k);
  }
  return {
    policy: choice,
    tokens: ids.length,
    predictions: n,
    firstPosition: first,
    bitsPerToken: nats / Math.LN2 / n,
    referenceBitsPerToken: refNats / Math.LN2 / n,
    meanKl: sumKl / n,
    maxKl,
    top1Agreement: agree / n,
    cacheBytes: cache.bytes,
    peakCacheBytes: peak,
    referenceCacheBytes: ref.cacheBytes,
    storedPerHead: cache.stored / (cache.layers * cache.kvHeads),
    klPerPosition,
    millis,
    ...(cache instanceof ShadowedCache ? { attention: cache.errors() } : {}),
  };
}

/**
 * {@link evaluateTokens} for a byte-level model: each byte of the UTF-8 text is one token, with
 * no BOS, as the shared tinyllama-bytes model was trained.
 *
 * @param model - A model with at least 256 tokens, whose ids 0..255 are bytes.
 * @param bytes - The text's bytes (at least 2).
 * @param policy - The policy choice.
 * @param options - As for {@link evaluateTokens}.
 * @returns The metrics, with bits per byte.
 * @throws `InvalidParamsError` when the vocabulary is smaller than 256; as {@link evaluateTokens}
 *   (`InvalidParamsError`, `NonFiniteInputError`, `DimensionMismatchError`).
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { evaluateText } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const TEXT_PATH = '../shared/models/sample-validation.txt';
 * const text = readFileSync(TEXT_PATH, 'utf8').slice(0, 1024);
 * const m = evaluateText(model, new TextEncoder().encode(text), { policy: 'exact' });
 * m.bitsPerByte; // about 1.8 on 1 KiB of validation text
 * ```
 * @remarks Bits per byte is the perplexity measure of byte models: 2^bitsPerByte is the
 * per-byte perplexity.
 */
export function evaluateText(model: LlamaModel, bytes: Uint8Array, policy: PolicyChoice, options: EvaluateOptions = {}): TextMetrics {
  if (model.config.vocabSize < 256) throw new InvalidParamsError(`a byte model needs vocabSize >= 256, this one has ${model.config.vocabSize}`);
  const m = evaluateTokens(model, bytes, policy, options);
  return { ...m, bitsPerByte: m.bitsPerToken, referenceBitsPerByte: m.referenceBitsPerToken };
}
