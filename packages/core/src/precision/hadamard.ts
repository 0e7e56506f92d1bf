import { mixSeed, Rng } from '../rng.js';

/**
 * A seeded randomized Hadamard rotation R = H·D/√n (D a diagonal of random signs, H the
 * Walsh–Hadamard matrix), orthogonal, so <R q, R k> = <q, k>. When n is not a power of two the
 * rotation is block-diagonal over the powers of two of n's binary expansion (96 = 64 + 32):
 * still orthogonal, but an outlier channel spreads only within its block.
 *
 * Applying it costs n·log₂ n additions (fast Walsh–Hadamard transform), once per stored row and
 * once per query.
 *
 * @example
 * ```ts
 * import { HadamardRotation } from '@kv/core';
 * const r = new HadamardRotation(4, 7);
 * const x = new Float64Array([1, 0, 0, 0]);
 * r.apply(x); // every entry ±0.5
 * r.invert(x); // back to [1, 0, 0, 0]
 * ```
 */
export class HadamardRotation {
  /** Dimension. */
  readonly n: number;
  /** The random signs, ±1 (held memory: n bytes). */
  readonly signs: Int8Array;
  /** Block sizes, largest first, summing to n. */
  readonly blocks: readonly number[];

  /**
   * @param n - Dimension (≥ 1).
   * @param seed - Seed of the signs.
   */
  constructor(n: number, seed: number) {
    this.n = n;
    const rng = new Rng(mixSeed(seed, 0x4ad, n));
    this.signs = new Int8Array(n);
    for (let i = 0; i < n; i++) this.signs[i] = rng.uniform() < 0.5 ? -1 : 1;
    const blocks: number[] = [];
    for (let b = 1 << 30; b >= 1; b >>>= 1) if (n & b) blocks.push(b);
    this.blocks = blocks;
  }

  /**
   * x ← R x in place.
   * @param x - A vector of length n (from `offset`).
   * @param offset - Index of its first element.
   */
  apply(x: Float64Array | Float32Array, offset = 0): void {
    const signs = this.signs;
    for (let j = 0; j < this.n; j++) x[offset + j] = x[offset + j]! * signs[j]!;
    this.transform(x, offset);
  }

  /**
   * x ← R⁻¹ x = Rᵀ x in place.
   * @param x - A vector of length n (from `offset`).
   * @param offset - Index of its first element.
   */
  invert(x: Float64Array | Float32Array, offset = 0): void {
    this.transform(x, offset);
    const signs = this.signs;
    for (let j = 0; j < this.n; j++) x[offset + j] = x[offset + j]! * signs[j]!;
  }

  // Normalised fast Walsh–Hadamard transform of each block (symmetric and its own inverse).
  private transform(x: Float64Array | Float32Array, offset: number): void {
    let start = offset;
    for (const b of this.blocks) {
      for (let h = 1; h < b; h <<= 1) {
        for (let i = start; i < start + b; i += h << 1) {
          for (let j = i; j < i + h; j++) {
            const a = x[j]!;
            const c = x[j + h]!;
            x[j] = a + c;
            x[j + h] = a - c;
          }
        }
      }
      const f = 1 / Math.sqrt(b);
      for (let j = start; j < start + b; j++) x[j] = x[j]! * f;
      start += b;
    }
  }
}
