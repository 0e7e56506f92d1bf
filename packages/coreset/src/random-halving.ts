import type { Rng } from '@kv/core';
import type { Halver, RowBatch } from './row-batch.js';

/**
 * Random halving: keeps a uniformly random ⌊n/2⌋ of a batch's rows (each kept row then doubles
 * its weight). The baseline a balanced walk must beat: the same merge-and-reduce structure with
 * this halver is an unbiased sample whose weights follow the same levels, so the difference
 * between the two is what the walk's balancing buys.
 *
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { RandomHalving, RowBatch } from '@kv/coreset';
 * const batch = new RowBatch(2, 1, 8);
 * for (let i = 0; i < 8; i++) batch.push(new Float32Array([i, 0]), 0, new Float32Array([1]), 0, i, 0);
 * new RandomHalving().select(batch, new Rng(1), new Int32Array(8)); // 4
 * ```
 */
export class RandomHalving implements Halver {
  private order = new Int32Array(0);

  /**
   * Chooses a uniformly random ⌊n/2⌋ of the rows.
   * @param batch - Rows to halve (unchanged).
   * @param rng - Source of randomness.
   * @param keep - Receives the kept row indices, ascending.
   * @returns ⌊n/2⌋.
   */
  select(batch: RowBatch, rng: Rng, keep: Int32Array): number {
    const n = batch.count;
    if (this.order.length < n) this.order = new Int32Array(Math.max(n, 2 * this.order.length));
    const order = this.order;
    for (let i = 0; i < n; i++) order[i] = i;
    const k = Math.floor(n / 2);
    // Partial Fisher–Yates: the first k entries become a uniform k-subset.
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(n - i);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    const chosen = order.subarray(0, k).sort();
    keep.set(chosen);
    return k;
  }
}
