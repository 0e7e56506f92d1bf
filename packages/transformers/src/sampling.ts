import { InvalidParamsError, type Rng } from '@kv/core';

/**
 * How {@link CompressedSession.generate} picks each token when sampling.
 *
 * @example
 * ```ts
 * import type { SampleOptions } from '@kv/transformers';
 * const sample: SampleOptions = { temperature: 0.8, topK: 40 };
 * ```
 */
export interface SampleOptions {
  /** Softmax temperature (> 0, default 1). */
  readonly temperature?: number;
  /** Sample only among the k most likely tokens (default: the whole vocabulary). */
  readonly topK?: number;
}

/** A validated sampler: greedy when `temperature` is 0. */
export interface Sampler {
  readonly temperature: number;
  readonly topK: number;
}

/**
 * Validates the `sample` option of a generate call.
 * @param sample - false/undefined (greedy), true (temperature 1) or the options.
 * @param vocab - Vocabulary size.
 * @returns The sampler.
 * @throws `InvalidParamsError` for a temperature that is not finite and > 0, or a topK that is
 *   not an integer >= 1.
 */
export function sampler(sample: boolean | SampleOptions | undefined, vocab: number): Sampler {
  if (sample === undefined || sample === false) return { temperature: 0, topK: vocab };
  const o = sample === true ? {} : sample;
  const temperature = o.temperature ?? 1;
  if (!(temperature > 0 && Number.isFinite(temperature))) throw new InvalidParamsError(`temperature is ${temperature}, expected a finite number > 0`);
  const topK = o.topK ?? vocab;
  if (!Number.isInteger(topK) || topK < 1) throw new InvalidParamsError(`topK is ${topK}, expected an integer >= 1`);
  return { temperature, topK: Math.min(topK, vocab) };
}

/** Scratch of {@link pickToken}, sized to the vocabulary once. */
export interface SamplerScratch {
  readonly probs: Float64Array;
  readonly order: Int32Array;
}

/**
 * Picks the next token: the argmax (lowest id on ties) when greedy, else one draw of `rng` from
 * the tempered softmax over the top k logits (ties broken by id, so a seed gives one text).
 * @param logits - Next-token logits.
 * @param s - The sampler.
 * @param rng - The session's random stream (one draw per sampled token).
 * @param scratch - Buffers of the vocabulary's size.
 * @returns The token id.
 */
export function pickToken(logits: Float32Array, s: Sampler, rng: Rng, scratch: SamplerScratch): number {
  const v = logits.length;
  if (s.temperature === 0) {
    let best = 0;
    for (let i = 1; i < v; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  const { probs, order } = scratch;
  for (let i = 0; i < v; i++) order[i] = i;
  const k = Math.min(s.topK, v);
  if (k < v) order.sort((a, b) => logits[b]! - logits[a]! || a - b);
  let m = -Infinity;
  for (let i = 0; i < k; i++) m = Math.max(m, logits[order[i]!]!);
  let z = 0;
  for (let i = 0; i < k; i++) {
    probs[i] = Math.exp((logits[order[i]!]! - m) / s.temperature);
    z += probs[i]!;
  }
  let u = rng.uniform() * z;
  for (let i = 0; i < k; i++) {
    u -= probs[i]!;
    if (u < 0) return order[i]!;
  }
  return order[k - 1]!;
}
