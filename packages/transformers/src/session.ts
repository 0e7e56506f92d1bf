import { InvalidParamsError, type ModelCache, Rng, UnsupportedError } from '@kv/core';
import { type CausalLM, type DecoderShape, decoderShape, type TensorLike } from './model.js';
import { buildCache, type SessionOptions } from './options.js';
import { CompressedPast, type ProxyPlan } from './past.js';
import { pickToken, type SampleOptions, sampler, type SamplerScratch } from './sampling.js';
import { readSession, type RestoreOptions, writeSession } from './session-file.js';

/**
 * Options of {@link CompressedSession.generate}.
 *
 * @example
 * ```ts
 * import type { GenerateOptions } from '@kv/transformers';
 * const options: GenerateOptions = { maxNewTokens: 64, sample: { temperature: 0.8 }, stopTokens: [10] };
 * ```
 */
export interface GenerateOptions {
  /** Tokens to generate (an integer >= 0). */
  readonly maxNewTokens: number;
  /** Greedy when absent or false; `true` samples at temperature 1; or temperature and top-k. */
  readonly sample?: boolean | SampleOptions;
  /** Stop after generating any of these tokens (it is included). */
  readonly stopTokens?: readonly number[];
  /** Called with each generated token as soon as it is chosen, before it is fed. */
  readonly onToken?: (token: number, index: number) => void;
}

/**
 * What {@link CompressedSession.generate} produced.
 *
 * @example
 * ```ts
 * import type { GenerateResult } from '@kv/transformers';
 * const show = (r: GenerateResult) => new TextDecoder().decode(Uint8Array.from(r.tokens));
 * ```
 */
export interface GenerateResult {
  /** The generated tokens (without the prompt). */
  readonly tokens: Int32Array;
  /** Logical position after them (every token fed so far). */
  readonly position: number;
  /** Bytes held by the policy caches at the end. */
  readonly bytes: number;
}

/**
 * A transformers.js decoder whose past is a kv policy cache: the session runs the model one call
 * per step with explicit `position_ids` (the logical position, so kept keys keep their RoPE
 * rotation), an all-ones `attention_mask` over the kept rows plus the new ones, and
 * `past_key_values.{layer}.key/value` of shape `[1, kvHeads, rows, headDim]` rebuilt from each
 * layer's policy caches; the new rows come from the graph's `present.*` outputs.
 *
 * @example
 * ```ts
 * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * import { CompressedSession } from '@kv/transformers';
 * env.allowRemoteModels = false;
 * env.localModelPath = '../shared/models';
 * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
 * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
 * const s = await CompressedSession.create(model, { policy: { policy: 'streaming-llm', budget: 128 }, registry });
 * const prompt = new TextEncoder().encode('And God said, ');
 * const { tokens } = await s.generate(prompt, { maxNewTokens: 40 });
 * console.log(new TextDecoder().decode(Uint8Array.from(tokens)), s.bytes, s.pastRows); // at most 128 rows per head
 * ```
 * @remarks Each call attends the kept rows and the new tokens, then appends the new rows to the
 * policies, which evict down to their budgets: a session at a budget of B rows holds B rows
 * between calls and attends B + 1 at a decode step. (kv's own decoder, `@kv/llm`, appends before
 * it attends, so its cache at budget B attends B rows, the current one included; for sliding
 * window and StreamingLLM the session at B attends exactly what `@kv/llm` attends at B + 1.)
 * Memory: the policies hold {@link CompressedSession.bytes}; the session also keeps one float32
 * copy of the past it hands the model ({@link CompressedSession.pastBytes}); during a call ONNX
 * Runtime allocates the present (past + new rows) and the logits.
 */
export class CompressedSession {
  /** The transformers.js model. */
  readonly model: CausalLM;
  /** The decoder's shape (layers, heads, head dimension, vocabulary). */
  readonly shape: DecoderShape;
  private readonly state: CompressedPast;
  private readonly rng: Rng;
  private last: Float32Array | undefined;
  private busy = false;
  private readonly scratch: SamplerScratch;

  private constructor(model: CausalLM, shape: DecoderShape, cache: ModelCache, proxies: ProxyPlan | undefined, rng: Rng, logits: Float32Array | undefined) {
    this.model = model;
    this.shape = shape;
    this.state = new CompressedPast(shape, cache, proxies);
    this.rng = rng;
    this.last = logits;
    this.scratch = { probs: new Float64Array(shape.vocabSize), order: new Int32Array(shape.vocabSize) };
  }

  /**
   * Starts a session at position 0 with an empty compressed past.
   * @param model - A decoder-only transformers.js model (3.x or 4.x) with float32 pasts.
   * @param options - Policy, registry, budget, seed, query proxies, declared kinds.
   * @returns The session.
   * @throws `UnsupportedError` for a model without explicit positions or per-layer pasts
   *   (see {@link decoderShape}), or a policy that cannot drive a past (query-aware without
   *   `queryProxy`, weighted, summaries, or unknown and undeclared).
   * @throws `InvalidParamsError` for bad options; any error of the registry.
   * @example
   * ```ts
   * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
   * import { PolicyRegistry, exactPolicy } from '@kv/core';
   * import { heuristicPolicies } from '@kv/heuristics';
   * import { CompressedSession } from '@kv/transformers';
   * env.allowRemoteModels = false;
   * env.localModelPath = '../shared/models';
   * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
   * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
   * const s = await CompressedSession.create(model, { policy: { policy: 'sliding-window' }, budget: 256, registry });
   * ```
   */
  static async create(model: CausalLM, options: SessionOptions): Promise<CompressedSession> {
    const shape = decoderShape(model);
    const { cache, proxies } = buildCache(shape, options);
    return new CompressedSession(model, shape, cache, proxies, new Rng(options.seed ?? 0), undefined);
  }

  /**
   * Resumes a session saved by {@link CompressedSession.save}: the same caches, position, next-token
   * logits and sampler state, so it continues with the same tokens.
   * @param model - The model the session was saved from.
   * @param bytes - The saved session.
   * @param options - Registry holding the saved policies; `kinds` as at creation (whether query
   *   proxies are on is saved in the file).
   * @returns The session.
   * @throws `SnapshotError` (from `@kv/core`) for a truncated, corrupt or mismatched file (another
   *   model shape); `UnknownPolicyError` when the registry lacks a saved policy;
   *   `UnsupportedError` and `InvalidParamsError` as {@link CompressedSession.create}.
   * @example
   * ```ts
   * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
   * import { PolicyRegistry, exactPolicy } from '@kv/core';
   * import { heuristicPolicies } from '@kv/heuristics';
   * import { CompressedSession } from '@kv/transformers';
   * env.allowRemoteModels = false;
   * env.localModelPath = '../shared/models';
   * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
   * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
   * const s = await CompressedSession.create(model, { policy: { policy: 'streaming-llm' }, budget: 64, registry });
   * await s.generate(new TextEncoder().encode('In the beginning '), { maxNewTokens: 20 });
   * const saved = s.save();
   * const resumed = await CompressedSession.restore(model, saved, { registry });
   * await resumed.generate([], { maxNewTokens: 20 }); // the tokens s would have generated next
   * ```
   */
  static async restore(model: CausalLM, bytes: Uint8Array, options: RestoreOptions): Promise<CompressedSession> {
    const shape = decoderShape(model);
    const r = readSession('kv-transformers-session', bytes, shape, options);
    const rng = new Rng(0);
    rng.setState(r.rng);
    return new CompressedSession(model, shape, r.cache, r.proxies, rng, r.logits);
  }

  /** Tokens fed so far: the logical position of the next token. */
  get position(): number {
    return this.state.position;
  }

  /** Bytes held by the policy caches (every layer and head). */
  get bytes(): number {
    return this.state.bytes;
  }

  /** Rows per (layer, KV head) of the past the next call receives. */
  get pastRows(): number {
    return this.state.rows;
  }

  /** The most rows any call of this session has received (a check against the budget). */
  get maxPastRows(): number {
    return this.state.maxRows;
  }

  /** Bytes of the float32 past tensors the session keeps for the model's next call. */
  get pastBytes(): number {
    return this.state.pastBytes;
  }

  /** The policy caches (per head: `cache.head(layer, kvHead).describe()`, `.positions?.()`). */
  get cache(): ModelCache {
    return this.state.cache;
  }

  /** Next-token logits after the last token fed (a buffer the next call overwrites), if any. */
  get logits(): Float32Array | undefined {
    return this.last;
  }

  /**
   * Feeds a prompt: each chunk of the prompt is one call that attends the kept past and the
   * chunk itself (causally), then the chunk's rows enter the policies.
   * @param tokens - Token ids (at least one).
   * @param options - `chunk`: tokens per call (default: the whole prompt in one call, so the
   *   prompt's own logits come from full attention over it; `chunk: 1` streams it token by token).
   * @returns The next-token logits after the prompt ({@link CompressedSession.logits}).
   * @throws `InvalidParamsError` for an empty prompt, a token outside the vocabulary, a bad
   *   chunk or a call while another runs (the session is then unchanged);
   *   `UnsupportedError` as {@link CompressedSession.step}; any error of the model.
   * @example
   * ```ts
   * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
   * import { PolicyRegistry, exactPolicy } from '@kv/core';
   * import { heuristicPolicies } from '@kv/heuristics';
   * import { CompressedSession } from '@kv/transformers';
   * env.allowRemoteModels = false;
   * env.localModelPath = '../shared/models';
   * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
   * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
   * const s = await CompressedSession.create(model, { policy: { policy: 'sliding-window' }, budget: 64, registry });
   * const logits = await s.prefill(new TextEncoder().encode('Blessed are the meek: '), { chunk: 16 });
   * ```
   */
  async prefill(tokens: ArrayLike<number>, options: { readonly chunk?: number } = {}): Promise<Float32Array> {
    if (tokens.length < 1) throw new InvalidParamsError('the prompt is empty');
    const chunk = options.chunk ?? tokens.length;
    if (!Number.isInteger(chunk) || chunk < 1) throw new InvalidParamsError(`chunk is ${chunk}, expected an integer >= 1`);
    for (let i = 0; i < tokens.length; i++) this.checkToken(tokens[i]!);
    const ids = Array.from(tokens);
    let logits: Float32Array | undefined;
    for (let i = 0; i < ids.length; i += chunk) logits = await this.run(ids.slice(i, i + chunk));
    return logits!;
  }

  /**
   * Feeds one token at the next position.
   * @param token - Token id in [0, vocabSize).
   * @returns The next-token logits ({@link CompressedSession.logits}; overwritten by the next call).
   * @throws `InvalidParamsError` for a token outside the vocabulary or a call while another
   *   runs (the session is then unchanged); `UnsupportedError` as `absorb` of the past
   *   (heads that end up with unequal rows); any error of the model.
   * @example
   * ```ts
   * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
   * import { PolicyRegistry, exactPolicy } from '@kv/core';
   * import { CompressedSession } from '@kv/transformers';
   * env.allowRemoteModels = false;
   * env.localModelPath = '../shared/models';
   * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
   * const s = await CompressedSession.create(model, { policy: { policy: 'exact' }, registry: new PolicyRegistry().register(exactPolicy) });
   * const logits = await s.step(72); // after the byte 'H'
   * ```
   */
  async step(token: number): Promise<Float32Array> {
    this.checkToken(token);
    return this.run([token]);
  }

  /**
   * Feeds `prompt` (if any), then generates up to `maxNewTokens` tokens, feeding each one, so the
   * session can go on (the next turn of a chat, another generate call) from where it stopped.
   * @param prompt - Tokens to feed first; empty to continue from the last logits.
   * @param options - Length, sampling, stop tokens and a per-token callback.
   * @returns The generated tokens.
   * @throws `InvalidParamsError` for bad options, a bad prompt token, or an empty prompt on a
   *   session that has not been fed anything; `UnsupportedError` as
   *   {@link CompressedSession.step}; any error of the model.
   * @example
   * ```ts
   * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
   * import { PolicyRegistry, exactPolicy } from '@kv/core';
   * import { heuristicPolicies } from '@kv/heuristics';
   * import { CompressedSession } from '@kv/transformers';
   * env.allowRemoteModels = false;
   * env.localModelPath = '../shared/models';
   * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
   * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
   * const s = await CompressedSession.create(model, { policy: { policy: 'streaming-llm' }, budget: 64, registry, seed: 7 });
   * const out: number[] = [];
   * await s.generate(new TextEncoder().encode('Love is '), {
   *   maxNewTokens: 30, sample: { temperature: 0.8 }, stopTokens: [10], onToken: (t) => out.push(t),
   * });
   * ```
   */
  async generate(prompt: ArrayLike<number>, options: GenerateOptions): Promise<GenerateResult> {
    const n = options.maxNewTokens;
    if (!Number.isInteger(n) || n < 0) throw new InvalidParamsError(`maxNewTokens is ${n}, expected an integer >= 0`);
    const pick = sampler(options.sample, this.shape.vocabSize);
    const stops = new Set(options.stopTokens ?? []);
    if (prompt.length > 0) await this.prefill(prompt);
    else if (this.last === undefined) throw new InvalidParamsError('the session has not been fed anything; pass a prompt');
    const out = new Int32Array(n);
    let produced = 0;
    while (produced < n) {
      const next = pickToken(this.last!, pick, this.rng, this.scratch);
      out[produced++] = next;
      options.onToken?.(next, produced - 1);
      await this.run([next]);
      if (stops.has(next)) break;
    }
    return { tokens: out.slice(0, produced), position: this.position, bytes: this.bytes };
  }

  /**
   * Saves the session: every policy cache (core's `snapshotModel` format, nested), the position,
   * the next-token logits and the sampler's random state, in core's checksummed snapshot format.
   * @returns The bytes; {@link CompressedSession.restore} continues from them.
   * @throws `InvalidParamsError` while a call is running.
   * @example
   * ```ts
   * import { writeFileSync } from 'node:fs';
   * import { AutoModelForCausalLM, env } from '@huggingface/transformers';
   * import { PolicyRegistry, exactPolicy } from '@kv/core';
   * import { CompressedSession } from '@kv/transformers';
   * env.allowRemoteModels = false;
   * env.localModelPath = '../shared/models';
   * const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });
   * const s = await CompressedSession.create(model, { policy: { policy: 'exact' }, registry: new PolicyRegistry().register(exactPolicy) });
   * await s.prefill([72, 105]);
   * writeFileSync('/tmp/chat.kvsession', s.save());
   * ```
   */
  save(): Uint8Array {
    if (this.busy) throw new InvalidParamsError('a call is running; await it before saving');
    return writeSession('kv-transformers-session', this.shape, this.state.cache, this.last, this.rng.getState(), this.state.proxied);
  }

  /**
   * Forgets every token: position 0, empty caches, no logits (the sampler's stream goes on).
   * @throws `InvalidParamsError` while a call is running.
   * @throws `UnsupportedError` when the emptied caches cannot be read (as at creation).
   */
  reset(): void {
    if (this.busy) throw new InvalidParamsError('a call is running; await it before resetting');
    this.state.reset();
    this.last = undefined;
  }

  private checkToken(token: number): void {
    const v = this.shape.vocabSize;
    if (!Number.isInteger(token) || token < 0 || token >= v) throw new InvalidParamsError(`token is ${token}, expected an integer in [0, ${v})`);
  }

  private async run(tokens: readonly number[]): Promise<Float32Array> {
    if (this.busy) throw new InvalidParamsError('a call is running; await it first');
    this.busy = true;
    try {
      const outputs = await this.model.forward(this.state.inputs(tokens));
      const logits = lastLogits(outputs['logits'], tokens.length);
      this.state.absorb(outputs, tokens.length);
      if (this.last?.length !== logits.length) this.last = new Float32Array(logits.length);
      this.last.set(logits);
      return this.last;
    } finally {
      this.busy = false;
    }
  }
}

function lastLogits(t: TensorLike | undefined, count: number): Float32Array {
  const dims = t?.dims ?? [];
  if (!t || !(t.data instanceof Float32Array) || dims.length !== 3 || dims[0] !== 1 || dims[1] !== count) {
    throw new UnsupportedError(`logits are ${t ? `${t.type} [${dims.join(', ')}]` : 'missing'}, expected float32 [1, ${count}, vocab]`);
  }
  const v = dims[2]!;
  return t.data.subarray((count - 1) * v, count * v);
}
