import type { Rng, SlotStore } from '@kv/core';

/**
 * A scratch block of weighted rows (keys, values, positions and integer weight levels) that a
 * {@link Halver} reduces in place. A row at level ℓ stands for 2^ℓ tokens, so weights stay exact
 * integers however many halvings they went through.
 *
 * @example
 * ```ts
 * import { RowBatch } from '@kv/coreset';
 * const batch = new RowBatch(4, 2, 8);
 * batch.push(new Float32Array(4), 0, new Float32Array(2), 0, 0, 0);
 * batch.count; // 1
 * ```
 */
export class RowBatch {
  /** Key dimension. */
  readonly d: number;
  /** Value dimension (0 for key-only rows). */
  readonly s: number;
  /** Row-major keys, `rows·d`. */
  keys: Float32Array;
  /** Row-major values, `rows·s`. */
  values: Float32Array;
  /** Logical position of each row. */
  positions: Int32Array;
  /** Weight level ℓ of each row: the row stands for 2^ℓ tokens. */
  levels: Int32Array;
  /** Live rows. */
  count = 0;

  /**
   * @param d - Key dimension.
   * @param s - Value dimension (0 for key-only rows).
   * @param rows - Initial row capacity (grows by doubling).
   */
  constructor(d: number, s: number, rows: number) {
    this.d = d;
    this.s = s;
    this.keys = new Float32Array(rows * d);
    this.values = new Float32Array(rows * s);
    this.positions = new Int32Array(rows);
    this.levels = new Int32Array(rows);
  }

  /** Allocated rows. */
  get capacity(): number {
    return this.positions.length;
  }

  /**
   * Ensures room for `rows` rows, keeping the live ones.
   * @param rows - Rows needed.
   */
  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    const next = Math.max(rows, this.capacity * 2, 4);
    const keys = new Float32Array(next * this.d);
    keys.set(this.keys.subarray(0, this.count * this.d));
    const values = new Float32Array(next * this.s);
    values.set(this.values.subarray(0, this.count * this.s));
    const positions = new Int32Array(next);
    positions.set(this.positions.subarray(0, this.count));
    const levels = new Int32Array(next);
    levels.set(this.levels.subarray(0, this.count));
    this.keys = keys;
    this.values = values;
    this.positions = positions;
    this.levels = levels;
  }

  /** Forgets every row (keeps the allocation). */
  clear(): void {
    this.count = 0;
  }

  /**
   * Appends a row.
   * @param key - Key storage; the row starts at `keyOffset`.
   * @param keyOffset - Index of the key's first element.
   * @param value - Value storage; the row starts at `valueOffset` (ignored when s = 0).
   * @param valueOffset - Index of the value's first element.
   * @param position - Logical position.
   * @param level - Weight level (the row stands for 2^level tokens).
   */
  push(key: ArrayLike<number>, keyOffset: number, value: ArrayLike<number>, valueOffset: number, position: number, level: number): void {
    this.reserve(this.count + 1);
    const r = this.count++;
    const d = this.d;
    const s = this.s;
    for (let j = 0; j < d; j++) this.keys[r * d + j] = key[keyOffset + j]!;
    for (let j = 0; j < s; j++) this.values[r * s + j] = value[valueOffset + j]!;
    this.positions[r] = position;
    this.levels[r] = level;
  }

  /**
   * Appends `count` rows of a weighted or unweighted {@link SlotStore}, starting at slot `start`,
   * read through the store's accessors (decoded to float32 whatever its storage). The level of a
   * weighted slot is its log-weight divided by ln 2 (rounded, so exact).
   * @param store - Source store (same d; its s must equal this batch's s).
   * @param start - First slot.
   * @param count - Number of slots.
   */
  pushFromStore(store: SlotStore, start: number, count: number): void {
    this.reserve(this.count + count);
    const d = this.d;
    const s = this.s;
    const weighted = store.weighted;
    const pos = store.tracksPositions ? store.positionOf : null;
    for (let i = 0; i < count; i++) {
      const r = this.count + i;
      const slot = start + i;
      store.readKey(slot, this.keys, r * d);
      if (s > 0) store.readValue(slot, this.values, r * s);
      this.positions[r] = pos ? pos[slot]! : slot;
      this.levels[r] = weighted ? Math.round(store.logWeight(slot) / Math.LN2) : 0;
    }
    this.count += count;
  }

  /**
   * Keeps the rows listed in `keep` (ascending indices), in that order, and raises their level
   * by one: each kept row now also stands for a discarded one.
   * @param keep - Ascending row indices to keep.
   * @param kept - How many entries of `keep` are used.
   */
  compact(keep: Int32Array, kept: number): void {
    const d = this.d;
    const s = this.s;
    for (let r = 0; r < kept; r++) {
      const from = keep[r]!;
      if (from !== r) {
        this.keys.copyWithin(r * d, from * d, (from + 1) * d);
        if (s > 0) this.values.copyWithin(r * s, from * s, (from + 1) * s);
        this.positions[r] = this.positions[from]!;
      }
      this.levels[r] = this.levels[from]! + 1;
    }
    this.count = kept;
  }
}

/**
 * A halving rule: picks about half of a batch's rows to keep; each kept row then stands for twice
 * its tokens. {@link SoftmaxBalance} (the theorem's walk) and {@link BalancedHalving} (the released
 * code's walk) implement it; {@link MergeAndReduce} is generic over it.
 *
 * @example
 * ```ts
 * import type { Halver, RowBatch } from '@kv/coreset';
 * // Keeps every other row (a deterministic, non-balancing rule, for illustration).
 * const everyOther: Halver = {
 *   select(batch: RowBatch, _rng, keep) {
 *     let k = 0;
 *     for (let i = 0; i < batch.count; i += 2) keep[k++] = i;
 *     return k;
 *   },
 * };
 * ```
 */
export interface Halver {
  /**
   * Chooses the rows of `batch` to keep, without modifying the batch.
   * @param batch - Rows to halve.
   * @param rng - Source of randomness.
   * @param keep - Receives the kept row indices, ascending (length ≥ batch.count).
   * @returns How many rows are kept.
   */
  select(batch: RowBatch, rng: Rng, keep: Int32Array): number;
}

/**
 * Halves a batch in place with `halver`: keeps the rows it selects and doubles their weights.
 *
 * @param halver - The halving rule.
 * @param batch - Rows to halve (updated in place).
 * @param rng - Source of randomness.
 * @param keep - Scratch of length ≥ batch.count.
 * @returns The number of rows kept.
 * @example
 * ```ts
 * import { halveBatch, RowBatch, SoftmaxBalance } from '@kv/coreset';
 * import { Rng } from '@kv/core';
 * const batch = new RowBatch(2, 1, 4);
 * for (let i = 0; i < 4; i++) batch.push([i, 0], 0, [1], 0, i, 0);
 * halveBatch(new SoftmaxBalance({ tau: 0.5 }), batch, new Rng(1), new Int32Array(4));
 * ```
 */
export function halveBatch(halver: Halver, batch: RowBatch, rng: Rng, keep: Int32Array): number {
  const kept = halver.select(batch, rng, keep);
  batch.compact(keep, kept);
  return kept;
}
