import {
  crc32,
  decodeSnapshot,
  encodeSnapshot,
  InvalidParamsError,
  type ModelCache,
  type PolicyRegistryLike,
  restoreModel,
  SnapshotError,
  snapshotModel,
} from '@kv/core';
import { exactRegistry, LlamaDecoder, type LlamaModel } from './model.js';
import { Sampler, type SamplingOptions } from './sampler.js';
import type { LlamaConfig } from './weights.js';

const KIND = 'llm-session';
const SESSION_VERSION = 1;
const CONFIG_FIELDS = ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'vocabSize', 'seqLen', 'normEps', 'ropeTheta', 'sharedClassifier'] as const;

/**
 * A generation in progress that can be saved and resumed, in this process or another: a
 * {@link LlamaDecoder} (its cache, position and next-token logits) and its {@link Sampler}.
 * Resumed, it produces the same next tokens as the saved session would have.
 *
 * @example
 * ```ts
 * import { LlamaSession } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const session = new LlamaSession(model.decoder(model.createCache({ policy: 'exact' })), { temperature: 0.8, seed: 1 });
 * session.feed(new TextEncoder().encode('And God said'));
 * session.generate(20);
 * const saved = session.save(); // write it anywhere
 * const resumed = LlamaSession.restore(model, saved);
 * resumed.generate(20); // the same 20 tokens `session.generate(20)` gives
 * ```
 * @remarks The file is core's snapshot format (magic, version, CRC-32): a header with the
 * model's shape and a fingerprint of its weights, the sampler's settings and random state, the
 * logits, and the cache as a `snapshotModel` file. Its size is the cache's `bytes` plus the
 * logits and about a kilobyte of headers.
 */
export class LlamaSession {
  /** The decoder (its cache answers attention). */
  readonly decoder: LlamaDecoder;
  /** Chooses each next token. */
  readonly sampler: Sampler;
  private readonly sampling: SamplingOptions;

  /**
   * @param decoder - The decoder, fresh or already fed.
   * @param sampling - Temperature, top-k and seed (default greedy).
   * @throws {InvalidParamsError} for bad sampling options.
   */
  constructor(decoder: LlamaDecoder, sampling: SamplingOptions = {}) {
    this.decoder = decoder;
    this.sampling = { temperature: sampling.temperature ?? 0, topK: sampling.topK ?? decoder.model.config.vocabSize, seed: sampling.seed ?? 0 };
    this.sampler = new Sampler(this.sampling, decoder.model.config.vocabSize);
  }

  /** Tokens fed so far. */
  get position(): number {
    return this.decoder.position;
  }

  /**
   * Feeds tokens (a prompt, or a user's turn) one at a time.
   * @param tokens - Token ids.
   * @returns The next-token logits after the last one.
   * @throws {InvalidParamsError} for a token outside the vocabulary (the tokens before it stay fed).
   * @throws `NonFiniteInputError` or `DimensionMismatchError` when the cache refuses the model's
   *   keys or values (NaN or Infinity from corrupt weights).
   */
  feed(tokens: ArrayLike<number>): Float32Array {
    for (let i = 0; i < tokens.length; i++) this.decoder.step(tokens[i]!);
    return this.decoder.logits;
  }

  /**
   * Chooses the next token from the current logits and feeds it.
   * @returns The token.
   * @throws {InvalidParamsError} when nothing has been fed yet.
   * @throws `NonFiniteInputError` or `DimensionMismatchError` when the cache refuses the model's
   *   keys or values (NaN or Infinity from corrupt weights).
   */
  next(): number {
    if (this.decoder.position === 0) throw new InvalidParamsError('feed a prompt before generating');
    const token = this.sampler.pick(this.decoder.logits);
    this.decoder.step(token);
    return token;
  }

  /**
   * Generates up to `maxTokens` tokens, each chosen and fed.
   * @param maxTokens - How many (>= 0).
   * @param stopToken - Stop after this token (it is included).
   * @returns The generated tokens.
   * @throws {InvalidParamsError} for a bad count or an unfed session.
   * @throws `NonFiniteInputError` or `DimensionMismatchError` when the cache refuses the model's
   *   keys or values (NaN or Infinity from corrupt weights).
   */
  generate(maxTokens: number, stopToken?: number): Int32Array {
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new InvalidParamsError(`maxTokens is ${maxTokens}, expected an integer >= 0`);
    const out = new Int32Array(maxTokens);
    let n = 0;
    while (n < maxTokens) {
      out[n++] = this.next();
      if (out[n - 1] === stopToken) break;
    }
    return out.slice(0, n);
  }

  /**
   * Saves the session.
   * @returns The file's bytes.
   */
  save(): Uint8Array {
    const model = this.decoder.model;
    const header = {
      kind: KIND,
      session: SESSION_VERSION,
      config: configOf(model.config),
      weights: fingerprint(model),
      sampling: this.sampling,
    };
    const state = {
      scalars: { position: this.decoder.position, rng: this.sampler.getState() },
      // cannot throw: snapshotModel reads heads by in-range indices only
      arrays: { logits: this.decoder.logits, cache: snapshotModel(this.decoder.cache) },
    };
    return encodeSnapshot(header, [state]);
  }

  /**
   * Resumes a session saved by {@link LlamaSession.save}.
   * @param model - The same model (checked: shape and a fingerprint of the weights).
   * @param bytes - The file.
   * @param registry - A registry holding the cache's policies (default: core's `exact` only).
   * @returns The session, which continues exactly as the saved one would.
   * @throws {SnapshotError} for a truncated, corrupt or newer file, or one saved with another
   *   model; `UnknownPolicyError` when the registry lacks a saved policy.
   * @throws {InvalidParamsError} when a saved policy's parameters are refused by this registry's
   *   version of the policy.
   */
  static restore(model: LlamaModel, bytes: Uint8Array, registry: PolicyRegistryLike = exactRegistry()): LlamaSession {
    const { header, states } = decodeSnapshot(bytes);
    if (header['kind'] !== KIND || states.length !== 1) throw new SnapshotError('mismatch', `a ${String(header['kind'])} snapshot, expected an ${KIND}`);
    if (typeof header['session'] !== 'number' || header['session'] > SESSION_VERSION) {
      throw new SnapshotError('version', `session version ${String(header['session'])}, this build reads up to ${SESSION_VERSION}`);
    }
    const want = configOf(model.config);
    const saved = header['config'] as Record<string, unknown> | undefined;
    for (const f of CONFIG_FIELDS) {
      if (saved?.[f] !== want[f]) throw new SnapshotError('mismatch', `the session was saved with ${f} = ${JSON.stringify(saved?.[f])}, this model has ${JSON.stringify(want[f])}`);
    }
    if (header['weights'] !== fingerprint(model)) throw new SnapshotError('mismatch', 'the session was saved with other weights (their fingerprints differ)');
    const state = states[0]!;
    const { position, rng } = state.scalars;
    const { logits, cache } = state.arrays;
    if (!Number.isSafeInteger(position) || (position as number) < 0 || !Array.isArray(rng) || !(logits instanceof Float32Array) || !(cache instanceof Uint8Array)) {
      throw new SnapshotError('format', 'the session state lacks its position, sampler state, logits or cache');
    }
    const c = model.config;
    const restored: ModelCache = restoreModel(cache, registry, { layers: c.nLayers, kvHeads: c.nKvHeads, queryHeads: c.nHeads, keyDim: c.headDim, valueDim: c.headDim });
    let decoder: LlamaDecoder;
    try {
      decoder = new LlamaDecoder(model, restored, { position: position as number, logits });
    } catch (e) {
      throw new SnapshotError('mismatch', (e as Error).message);
    }
    const session = new LlamaSession(decoder, header['sampling'] as SamplingOptions);
    session.sampler.setState(rng as number[]);
    return session;
  }
}

function configOf(c: LlamaConfig): Record<(typeof CONFIG_FIELDS)[number], number | boolean> {
  const out = {} as Record<(typeof CONFIG_FIELDS)[number], number | boolean>;
  for (const f of CONFIG_FIELDS) out[f] = c[f];
  return out;
}

const fingerprints = new WeakMap<LlamaModel, number>();

// CRC-32 of up to 4096 evenly spaced floats of every weight array: cheap even for large models,
// and two checkpoints (or a float32 model and its float16 copy) differ in it.
function fingerprint(model: LlamaModel): number {
  const have = fingerprints.get(model);
  if (have !== undefined) return have;
  const w = model.weights;
  const arrays = [w.tokenEmbedding, w.rmsFinal, w.wcls, ...w.layers.flatMap((l) => [l.rmsAtt, l.wq, l.wk, l.wv, l.wo, l.rmsFfn, l.w1, l.w2, l.w3])];
  const sample = new Float32Array(arrays.length * 4096);
  let n = 0;
  for (const a of arrays) {
    const step = Math.max(1, Math.floor(a.length / 4096));
    for (let i = 0, k = 0; i < a.length && k < 4096; i += step, k++) sample[n++] = a[i]!;
  }
  const crc = crc32(new Uint8Array(sample.buffer, 0, n * 4), 0, n * 4);
  fingerprints.set(model, crc);
  return crc;
}
