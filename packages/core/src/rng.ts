import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { SnapshotError } from './errors.js';

/**
 * Mixes integers into a 32-bit seed (a murmur3-style finaliser), so that per-(layer, head) or
 * per-trial seeds derived from one user seed are decorrelated.
 *
 * @param values - Integers to mix (for example seed, layer, head).
 * @returns A 32-bit signed integer seed.
 * @example
 * ```ts
 * import { mixSeed } from '@kv/core';
 * mixSeed(42, 3, 1); // a deterministic seed for layer 3, head 1
 * ```
 */
export function mixSeed(...values: number[]): number {
  let h = 0x9e3779b9 | 0;
  for (const v of values) {
    // Split doubles beyond 32 bits so large safe-integer seeds stay distinct.
    const lo = v | 0;
    const hi = Math.floor(v / 4294967296) | 0;
    for (const part of [lo, hi]) {
      h = Math.imul(h ^ part, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h;
}

/**
 * Seeded random numbers for every randomized policy and workload, on pure-rand's
 * xoroshiro128+ generator: uniform doubles, integers, Gaussians and shuffles, reproducible from
 * the seed on every platform.
 *
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * const rng = new Rng(42);
 * rng.uniform(); // in [0, 1)
 * rng.gaussian(); // standard normal
 * ```
 */
export class Rng {
  private gen: RandomGenerator;
  private spare = 0;
  private hasSpare = false;

  /** @param seed - Any safe integer. */
  constructor(seed: number) {
    this.gen = xoroshiro128plus(mixSeed(seed));
  }

  /**
   * The generator's full state (for snapshots): four 32-bit words, the cached Gaussian and its flag.
   * @returns Six numbers.
   */
  getState(): number[] {
    return [...this.gen.getState(), this.hasSpare ? 1 : 0, this.spare];
  }

  /**
   * Continues from a state of {@link Rng.getState}.
   * @param state - Six numbers.
   * @throws `SnapshotError` when it is not such a state.
   */
  setState(state: readonly number[]): void {
    if (state.length !== 6 || !state.slice(0, 4).every((x) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31)) {
      throw new SnapshotError('mismatch', `rng state has ${state.length} numbers, expected 4 int32 words, a flag and a spare`);
    }
    this.gen = xoroshiro128plusFromState(state.slice(0, 4));
    this.hasSpare = state[4] === 1;
    this.spare = state[5]!;
  }

  /**
   * A uniform double in [0, 1) with 53 random bits.
   * @returns The sample.
   */
  uniform(): number {
    return uniformFloat64(this.gen);
  }

  /**
   * A uniform integer in [0, n).
   * @param n - Exclusive upper bound (≥ 1).
   * @returns The sample.
   */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /**
   * A standard normal sample (Marsaglia polar method; pairs are cached).
   * @returns The sample.
   */
  gaussian(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * f;
    this.hasSpare = true;
    return u * f;
  }

  /**
   * Fills `out[offset..offset+n)` with N(mean, std²) samples.
   * @param out - Destination.
   * @param std - Standard deviation (default 1).
   * @param mean - Mean (default 0).
   * @param offset - First index (default 0).
   * @param n - Count (default the rest of `out`).
   * @returns `out`.
   */
  fillGaussian<T extends Float32Array | Float64Array>(out: T, std = 1, mean = 0, offset = 0, n = out.length - offset): T {
    for (let i = 0; i < n; i++) out[offset + i] = mean + std * this.gaussian();
    return out;
  }

  /**
   * An independent generator for a sub-stream, derived from this generator's state and a label.
   * @param label - Distinguishes sibling streams.
   * @returns A new generator.
   */
  fork(label: number): Rng {
    return new Rng(mixSeed(this.gen.next(), this.gen.next(), label));
  }

  /**
   * Shuffles `a` in place (Fisher–Yates).
   * @param a - Array to shuffle.
   * @returns `a`.
   */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }
}

/**
 * Reservoir sampling of a fixed number of items from a stream (Vitter's Algorithm R): after n
 * offers, every item is in the sample with probability k/n. Allocation-free.
 *
 * @example
 * ```ts
 * import { Reservoir, Rng } from '@kv/core';
 * const r = new Reservoir(2, new Rng(1));
 * for (let i = 0; i < 10; i++) { const slot = r.offer(); if (slot >= 0) { } }
 * ```
 */
export class Reservoir {
  /** Sample size k. */
  readonly size: number;
  /** Items offered so far. */
  offered = 0;
  private readonly rng: Rng;

  /**
   * @param size - Sample size k (≥ 1).
   * @param rng - Source of randomness.
   */
  constructor(size: number, rng: Rng) {
    this.size = size;
    this.rng = rng;
  }

  /**
   * Offers the next stream item.
   * @returns The slot in [0, k) the item should be written to, or −1 when it is not sampled.
   */
  offer(): number {
    const i = this.offered++;
    if (i < this.size) return i;
    const j = this.rng.int(i + 1);
    return j < this.size ? j : -1;
  }

  /** Starts over. */
  reset(): void {
    this.offered = 0;
  }
}
