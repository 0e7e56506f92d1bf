import { type HeadCache, InvalidParamsError, type ModelCache } from '@kv/core';
import type { LlamaModel } from './model.js';

/**
 * Options of {@link kvzipScores}.
 *
 * @example
 * ```ts
 * import type { KvzipOptions } from '@kv/llm';
 * const options: KvzipOptions = { prompt: new TextEncoder().encode('\n\nAgain:\n'), chunk: 256 };
 * ```
 */
export interface KvzipOptions {
  /**
   * Tokens fed before each reconstructed chunk, asking the model to repeat the context (default
   * the UTF-8 bytes of `"\n\nRepeat the previous context:\n"`, for byte-level models; give the
   * tokenized prompt for any other vocabulary).
   */
  readonly prompt?: ArrayLike<number>;
  /** Context tokens reconstructed per pass (default 2048, KVzip's chunk size). */
  readonly chunk?: number;
}

/**
 * KVzip's importance of every context token for every (layer, KV head): how much the model
 * attends to it while reconstructing the context, with the costs of getting it.
 *
 * @example
 * ```ts
 * import { kvzipScores, type KvzipScores } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const s: KvzipScores = kvzipScores(model, new TextEncoder().encode('In the beginning God created the heaven and the earth.'));
 * s.head(0, 0); // one score per context token
 * console.log(`prefill ${s.prefillMillis} ms, scoring ${s.scoringMillis} ms`);
 * ```
 */
export interface KvzipScores {
  /** Layers of the model. */
  readonly layers: number;
  /** KV heads per layer. */
  readonly kvHeads: number;
  /** Context tokens scored. */
  readonly length: number;
  /** Scores, (layer, KV head, position) row-major; each in [0, 1]. */
  readonly scores: Float32Array;
  /** Wall time of the context's own forward pass (the prefill any method pays), ms (0 when the scores were made from a prefill already done). */
  readonly prefillMillis: number;
  /** Wall time of the reconstruction passes that score it (KVzip's extra cost), ms. */
  readonly scoringMillis: number;
  /** Tokens fed by the reconstruction passes (prompt and context, once per chunk). */
  readonly reconstructionTokens: number;
  /**
   * The scores of one head.
   * @param layer - Layer index.
   * @param kvHead - KV head index.
   * @returns A view of `length` scores, indexed by position.
   */
  head(layer: number, kvHead: number): Float32Array;
}

const DEFAULT_PROMPT = '\n\nRepeat the previous context:\n';

/**
 * KVzip (Kim et al., "KVzip: Query-Agnostic KV Cache Compression with Context Reconstruction",
 * arXiv 2505.23416; kvpress `KVzipPress`): after the context's prefill, the model is fed a prompt
 * asking it to repeat the context followed by the context itself (teacher forcing), chunk by
 * chunk, over the context's full cache. A context token's score for a KV head is the largest
 * attention probability any reconstruction query of the head's group gives it (softmax over
 * everything that query sees: the context, the prompt and the chunk so far). Tokens the model
 * needs to reproduce the context score high; the scores depend on no future question.
 *
 * @param model - The model.
 * @param context - The context's tokens (at least 1).
 * @param options - The repeat prompt and the chunk size.
 * @returns The scores and what they cost.
 * @throws {InvalidParamsError} for an empty context, a bad token or a bad chunk size.
 * @throws `NonFiniteInputError` or `DimensionMismatchError` when the cache refuses the model's keys
 *   or values (NaN or Infinity from corrupt weights).
 * @example
 * ```ts
 * import { kvzipScores } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const context = new TextEncoder().encode('And God said, Let there be light: and there was light.');
 * const scores = kvzipScores(model, context, { chunk: 32 });
 * scores.reconstructionTokens; // 2 chunks × (prompt + 32 or fewer tokens)
 * ```
 * @remarks Cost: the prefill, plus one forward pass per context token and per prompt token of
 * each chunk, each attending over the whole context, with the attention probabilities over the
 * context computed once more for the scores: about 2-3 prefills, as the paper reports. Memory:
 * the context's keys and values once more, and the scores (4 bytes per token and KV head).
 */
export function kvzipScores(model: LlamaModel, context: ArrayLike<number>, options: KvzipOptions = {}): KvzipScores {
  const c = model.config;
  const n = context.length;
  if (n < 1) throw new InvalidParamsError('the context is empty');
  const kvDim = c.nKvHeads * c.headDim;
  // The context's prefill, keeping every layer's keys and values for the reconstruction passes.
  const t0 = performance.now();
  const keys = Array.from({ length: c.nLayers }, () => new Float32Array(n * kvDim));
  const values = Array.from({ length: c.nLayers }, () => new Float32Array(n * kvDim));
  const first = model.decoder(model.createCache({ policy: 'exact' }));
  for (let i = 0; i < n; i++) {
    first.stepObserved(context[i]!, (l, _q, k, v) => {
      keys[l]!.set(k, i * kvDim);
      values[l]!.set(v, i * kvDim);
    });
  }
  const prefillMillis = performance.now() - t0;
  return { ...scoreContext(model, context, keys, values, first.logits, options), prefillMillis };
}

/**
 * KVzip's reconstruction passes over a context whose prefill is done: `keys[l]` / `values[l]`
 * are layer l's token-major post-RoPE keys and values, `logits` the next-token logits after the
 * context. Used by {@link kvzipScores} and by `LlamaDecoder.prefill` (which has them already).
 * @internal
 */
export function scoreContext(model: LlamaModel, context: ArrayLike<number>, keys: readonly Float32Array[], values: readonly Float32Array[], logits: Float32Array, options: KvzipOptions = {}): KvzipScores {
  const c = model.config;
  const n = context.length;
  if (n < 1) throw new InvalidParamsError('the context is empty');
  const chunk = options.chunk ?? 2048;
  if (!Number.isInteger(chunk) || chunk < 1) throw new InvalidParamsError(`chunk is ${chunk}, expected an integer >= 1`);
  const prompt = Array.from(options.prompt ?? new TextEncoder().encode(DEFAULT_PROMPT));
  const d = c.headDim;
  const kvDim = c.nKvHeads * d;
  const group = c.nHeads / c.nKvHeads;
  const tau = 1 / Math.sqrt(d);
  const t1 = performance.now();
  const scores = new Float32Array(c.nLayers * c.nKvHeads * n);
  const extraMax = prompt.length + Math.min(chunk, n);
  // Keys of the prompt and the chunk fed so far in this pass, per layer; and one query's logits.
  const extra = Array.from({ length: c.nLayers }, () => new Float32Array(extraMax * kvDim));
  const row = new Float64Array(n + extraMax);
  let fed = 0;
  for (let a = 0; a < n; a += chunk) {
    const b = Math.min(n, a + chunk);
    const cache: ModelCache = model.createCache({ policy: 'exact' });
    for (let l = 0; l < c.nLayers; l++) cache.prefill(l, keys[l]!, values[l]!);
    const decoder = model.decoder(cache, { position: n, logits });
    let e = 0; // tokens of this pass fed so far
    const observe = (l: number, q: Float32Array, k: Float32Array): void => {
      const ex = extra[l]!;
      ex.set(k, e * kvDim);
      const K = keys[l]!;
      for (let qh = 0; qh < c.nHeads; qh++) {
        const g = Math.floor(qh / group);
        const qo = qh * d;
        let m = -Infinity;
        for (let i = 0; i < n; i++) {
          const x = tau * dot(q, qo, K, i * kvDim + g * d, d);
          row[i] = x;
          if (x > m) m = x;
        }
        for (let j = 0; j <= e; j++) {
          const x = tau * dot(q, qo, ex, j * kvDim + g * d, d);
          row[n + j] = x;
          if (x > m) m = x;
        }
        let z = 0;
        for (let i = 0; i <= n + e; i++) {
          const p = Math.exp(row[i]! - m);
          row[i] = p;
          z += p;
        }
        const out = (l * c.nKvHeads + g) * n;
        for (let i = 0; i < n; i++) {
          const p = row[i]! / z;
          if (p > scores[out + i]!) scores[out + i] = p;
        }
      }
    };
    for (const token of prompt) {
      decoder.stepObserved(token, observe);
      e++;
    }
    for (let i = a; i < b; i++) {
      decoder.stepObserved(context[i]!, observe);
      e++;
    }
    fed += e;
  }
  const t2 = performance.now();
  return {
    layers: c.nLayers,
    kvHeads: c.nKvHeads,
    length: n,
    scores,
    prefillMillis: 0,
    scoringMillis: t2 - t1,
    reconstructionTokens: fed,
    head(layer: number, kvHead: number): Float32Array {
      if (!(layer >= 0 && layer < c.nLayers && kvHead >= 0 && kvHead < c.nKvHeads)) {
        throw new InvalidParamsError(`no head (${layer}, ${kvHead}) in a ${c.nLayers}x${c.nKvHeads} model`);
      }
      const o = (layer * c.nKvHeads + kvHead) * n;
      return scores.subarray(o, o + n);
    },
  };
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s = 0;
  for (let j = 0; j < n; j++) s += a[ao + j]! * b[bo + j]!;
  return s;
}
