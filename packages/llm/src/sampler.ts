import { InvalidParamsError, Rng } from '@kv/core';

/**
 * How the next token is chosen from the logits.
 *
 * @example
 * ```ts
 * import type { SamplingOptions } from '@kv/llm';
 * const creative: SamplingOptions = { temperature: 0.8, topK: 40, seed: 7 };
 * const greedy: SamplingOptions = {};
 * ```
 */
export interface SamplingOptions {
  /** Sampling temperature; 0 (the default) is greedy decoding. */
  readonly temperature?: number;
  /** Sample only among the k most likely tokens (default: the whole vocabulary). */
  readonly topK?: number;
  /** Seed of the sampler (default 0); the same seed gives the same text. */
  readonly seed?: number;
}

/**
 * Picks next tokens greedily or by seeded temperature / top-k sampling, drawing one uniform
 * number from core's `Rng` per sampled token (none when greedy), so a seed reproduces the text
 * across runs and platforms, and the state (`getState`) continues it exactly.
 *
 * @example
 * ```ts
 * import { Sampler } from '@kv/llm';
 * const sampler = new Sampler({ temperature: 1, seed: 3 }, 4);
 * sampler.pick(new Float32Array([0, 1, 2, 3])); // a token in 0..3, most often 3
 * ```
 */
export class Sampler {
  /** The temperature (0 = greedy). */
  readonly temperature: number;
  /** The top-k cut (the vocabulary size when not cut). */
  readonly topK: number;
  private readonly rng: Rng;
  private readonly probs: Float64Array;
  private readonly order: Int32Array;

  /**
   * @param options - Temperature, top-k, seed.
   * @param vocabSize - Number of logits `pick` receives.
   * @throws {InvalidParamsError} for a negative or non-finite temperature or a top-k below 1.
   */
  constructor(options: SamplingOptions, vocabSize: number) {
    const temperature = options.temperature ?? 0;
    if (!(temperature >= 0 && Number.isFinite(temperature))) throw new InvalidParamsError(`temperature is ${temperature}, expected a finite number >= 0`);
    const topK = options.topK ?? vocabSize;
    if (!Number.isInteger(topK) || topK < 1) throw new InvalidParamsError(`topK is ${topK}, expected an integer >= 1`);
    this.temperature = temperature;
    this.topK = Math.min(topK, vocabSize);
    this.rng = new Rng(options.seed ?? 0);
    this.probs = new Float64Array(vocabSize);
    this.order = new Int32Array(vocabSize);
  }

  /**
   * Chooses the next token.
   * @param logits - The next-token logits.
   * @returns The token id.
   */
  pick(logits: Float32Array): number {
    if (this.temperature === 0) return argmax(logits);
    const { probs, order, temperature } = this;
    const v = logits.length;
    const k = Math.min(this.topK, v);
    for (let i = 0; i < v; i++) order[i] = i;
    if (k < v) order.sort((a, b) => logits[b]! - logits[a]! || a - b);
    let m = -Infinity;
    for (let i = 0; i < k; i++) m = Math.max(m, logits[order[i]!]!);
    let z = 0;
    for (let i = 0; i < k; i++) {
      probs[i] = Math.exp((logits[order[i]!]! - m) / temperature);
      z += probs[i]!;
    }
    let u = this.rng.uniform() * z;
    for (let i = 0; i < k; i++) {
      u -= probs[i]!;
      if (u < 0) return order[i]!;
    }
    return order[k - 1]!;
  }

  /**
   * The random generator's state, to save with a session.
   * @returns Six numbers (core's `Rng.getState`).
   */
  getState(): number[] {
    return this.rng.getState();
  }

  /**
   * Continues from a state of {@link Sampler.getState}.
   * @param state - The state.
   * @throws {SnapshotError} when it is not such a state.
   */
  setState(state: readonly number[]): void {
    this.rng.setState(state);
  }
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}
