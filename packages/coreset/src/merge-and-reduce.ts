import { type CacheState, createKernelSums, InvalidParamsError, type KernelSums, mergeSums, type Precision, Rng, SlotStore, type StateReader } from '@kv/core';
import { type Halver, halveBatch, RowBatch } from './row-batch.js';

/**
 * Options of {@link MergeAndReduce}.
 *
 * @example
 * ```ts
 * import { MergeAndReduce, type MergeAndReduceOptions, SoftmaxBalance } from '@kv/coreset';
 * // The practical BalanceKV layout: blocks of 64 halved twice, merged only on demand.
 * const options: MergeAndReduceOptions = { blockSize: 64, firstHalvings: 2, carry: 'lazy' };
 * const mr = new MergeAndReduce(16, 16, new SoftmaxBalance({ tau: 0.25 }), 1, options);
 * ```
 */
export interface MergeAndReduceOptions {
  /** Block size t: raw tokens collected before the first halving (even, ≥ 2). */
  readonly blockSize: number;
  /**
   * Halvings applied to a full raw block (default 1: the paper's structure). With `lazy` carry it
   * may be 0: a full block becomes a weight-1 group, halved only when a reduction asks for room.
   */
  readonly firstHalvings?: number;
  /**
   * When groups merge: `binary` (default) merges two groups of equal weight as soon as both exist
   * (the binary counter); `lazy` merges only when {@link MergeAndReduce.reduceTo} asks for room.
   */
  readonly carry?: 'binary' | 'lazy';
  /**
   * How {@link MergeAndReduce.sums} evaluates the held rows (default: the exponential kernel,
   * `SlotStore.sums` from `@kv/core`). A different kernel changes only the answers: the halver
   * decides what is kept, so it should balance the same kernel.
   */
  readonly kernel?: RowKernel;
  /**
   * Allocates this many group rows up front and makes it the groups' hard limit. The caller keeps
   * the groups below it (e.g. {@link MergeAndReduce.reduceTo} after every flush, with a limit at
   * least t/2 above its target); going past it throws a `RangeError` (a bug, not a user error).
   * Default: grow by doubling.
   */
  readonly groupRows?: number;
  /**
   * Storage precision of the raw block and the groups (default float32; rows are decoded for the
   * halvings). Key groups must be token-wise: groups are evicted in any order.
   */
  readonly precision?: Precision;
}

/**
 * The evaluation hook of {@link MergeAndReduce}: Σ_i w_i·κ(<q,k_i>τ)·[1, v_i] over the live rows of
 * one of its stores (the raw block, unweighted, or the groups, weighted by e^{logWeight(i)}), in
 * log-scaled `KernelSums` form (from `@kv/core`). The stores are read-only
 * here; read rows through their accessors (`keyDot`, `readValue`). The default is the exponential
 * kernel κ = exp; a kernel may return signed sums.
 *
 * @example
 * ```ts
 * import { createKernelSums } from '@kv/core';
 * import { MergeAndReduce, type RowKernel, SoftmaxBalance } from '@kv/coreset';
 * // The linear kernel κ(x) = x (signed sums, m = 0), weights applied as e^{logWeight}.
 * const linear: RowKernel = {
 *   sums(store, query, tau, out) {
 *     out.m = 0;
 *     out.z = 0;
 *     out.n.fill(0);
 *     const v = new Float64Array(store.s);
 *     for (let i = 0; i < store.count; i++) {
 *       const w = tau * store.keyDot(i, query) * Math.exp(store.logWeight(i));
 *       out.z += w;
 *       store.readValue(i, v);
 *       for (let j = 0; j < store.s; j++) out.n[j]! += w * v[j]!;
 *     }
 *     return out;
 *   },
 * };
 * const mr = new MergeAndReduce(2, 1, new SoftmaxBalance({ tau: 1 }), 1, { blockSize: 8, kernel: linear });
 * for (let i = 0; i < 20; i++) mr.push([1, 0], 0, [1], 0, i);
 * mr.sums(new Float32Array([1, 0]), 1, createKernelSums(1));
 * ```
 */
export interface RowKernel {
  /**
   * Kernel sums of the live rows of `store`.
   * @param store - The rows (`count` live; an unweighted store has weight 1).
   * @param query - Query of length d.
   * @param tau - Logit scale.
   * @param out - Receives the sums (overwritten).
   * @returns `out`.
   */
  sums(store: SlotStore, query: Float32Array, tau: number, out: KernelSums): KernelSums;
}

const exponentialKernel: RowKernel = {
  sums: (store, query, tau, out) => store.sums(query, tau, out),
};

/**
 * MergeAndReduce (BalanceKV Thm 3.4): the streaming binary counter over a {@link Halver}. Tokens
 * fill a raw block of t rows (weight 1); a full block is halved and becomes a group of weight 2;
 * two groups of weight 2^i are concatenated and halved into one group of weight 2^{i+1}.
 * Weights are stored per slot as log-weights ln 2^i, applied as logit biases (algorithms.md §2.2).
 *
 * @remarks
 * - Memory: with a halver that keeps at most half (both provided halvers do), a group never has
 *   more than t/2 rows and at most one group per weight remains, so for n ≥ t tokens at most
 *   t + (t/2)·(⌊log2(n/t)⌋ + 1) ≤ t·(log2(n/t) + 2) rows are held. {@link MergeAndReduce.heldBytes}
 *   counts the rows (keys, values, positions, group log-weights) and one Int32 size per group;
 *   the halving batch is scratch, not held.
 * - Weights are integer levels (2^ℓ), so no rounding enters the count: they sum to n exactly when
 *   every halving keeps exactly half of an even batch ({@link BalancedHalving}); {@link SoftmaxBalance}
 *   keeps the smaller sign class, so with it they sum to at most n.
 * - Guarantee with {@link SoftmaxBalance}: each halving at weight 2^{ℓ−1} errs by at most 2^{ℓ−1}
 *   times the {@link softmaxBalanceBound}; at most n/(t·2^{ℓ−1}) halvings happen at that weight, so
 *   over L levels the error is ≤ L·(n/t)·(one-halving bound): with t = O(√s·e^{2ρ}/ε) (up to
 *   logarithms) the estimate is within ε·n·e^{−ρ}·max||v|| of the true kernel sum.
 * - `lazy` carry with `firstHalvings` h gives the practical BalanceKV layout: full blocks become
 *   groups of t/2^h rows that merge only when a budget demands it ({@link MergeAndReduce.reduceTo},
 *   {@link MergeAndReduce.compressOnce}).
 * - Other kernels: the `kernel` option ({@link RowKernel}) replaces the exponential evaluation of
 *   `sums` (e.g. the residual kernel of `@kv/hybrid`'s Taylor + coreset construction); with a
 *   halver that keeps fewer than half of the rows, the memory bound only improves, but the weights
 *   then no longer sum to n.
 * - {@link MergeAndReduce.state} / {@link MergeAndReduce.loadState} save and continue it bit for
 *   bit (rows, group sizes, the halvings' generator).
 * @see BalanceKV, arXiv 2502.07861, Thm 3.4 (MergeAndReduce).
 * @example
 * ```ts
 * import { MergeAndReduce, SoftmaxBalance } from '@kv/coreset';
 * import { createKernelSums } from '@kv/core';
 * const mr = new MergeAndReduce(2, 1, new SoftmaxBalance({ tau: 1 }), 1, { blockSize: 8 });
 * for (let i = 0; i < 64; i++) mr.push(new Float32Array([Math.cos(i), Math.sin(i)]), 0, new Float32Array([1]), 0, i);
 * mr.totalWeight; // ≤ 64
 * mr.sums(new Float32Array([1, 0]), 1, createKernelSums(1));
 * ```
 */
export class MergeAndReduce {
  /** Key dimension. */
  readonly d: number;
  /** Value dimension (0: key-only rows for a denominator). */
  readonly s: number;
  /** Block size t. */
  readonly blockSize: number;
  /** Halvings applied to a full raw block. */
  readonly firstHalvings: number;
  /** Carry rule. */
  readonly carry: 'binary' | 'lazy';
  /** Halvings run so far (each one reduces a batch of ≤ t rows, or 2t with lazy weight-1 groups). */
  halvings = 0;
  /**
   * Σ over the halvings run so far of the largest row weight in the halved batch: the factor that
   * multiplies a one-halving discrepancy bound in the accumulated error (see the class remarks).
   */
  halvedWeight = 0;
  /** Halvings of rows of different weights (a budget forced them; weights then only approximate the count). */
  mixedHalvings = 0;
  /** Tokens dropped outright because a budget left no room even for one row. */
  droppedWeight = 0;
  private readonly halver: Halver;
  private readonly seed: number;
  private rng: Rng;
  private readonly raw: SlotStore;
  private readonly groups: SlotStore;
  private groupStart = new Int32Array(8);
  private groupSize = new Int32Array(8);
  private groupLevel = new Int32Array(8);
  private groupCount = 0;
  private readonly batch: RowBatch;
  private keep = new Int32Array(0);
  private readonly partial: KernelSums;
  private readonly kernel: RowKernel;

  /**
   * @param d - Key dimension.
   * @param s - Value dimension (0 for key-only rows).
   * @param halver - The halving rule.
   * @param seed - Seed of the halvings' randomness (reset() restarts from it).
   * @param options - Block size, first halvings, carry rule, and optionally the evaluation kernel
   *   and a preallocated group-row limit.
   * @throws `InvalidParamsError` when t is not an even integer ≥ 2 or not divisible by 2^h, when
   *   h = 0 without lazy carry, or when `groupRows` is not an integer ≥ t/2.
   */
  constructor(d: number, s: number, halver: Halver, seed: number, options: MergeAndReduceOptions) {
    const t = options.blockSize;
    const h = options.firstHalvings ?? 1;
    const carry = options.carry ?? 'binary';
    if (!Number.isInteger(t) || t < 2 || t % 2 !== 0) throw new InvalidParamsError(`blockSize is ${t}, expected an even integer >= 2`);
    if (!Number.isInteger(h) || h < (carry === 'lazy' ? 0 : 1) || t % 2 ** h !== 0) {
      throw new InvalidParamsError(`firstHalvings is ${h}, expected an integer >= ${carry === 'lazy' ? 0 : 1} with blockSize divisible by 2^firstHalvings`);
    }
    const rows = options.groupRows;
    if (rows !== undefined && !(Number.isInteger(rows) && rows >= t / 2)) {
      throw new InvalidParamsError(`groupRows is ${rows}, expected an integer >= blockSize/2 = ${t / 2}`);
    }
    this.d = d;
    this.s = s;
    this.blockSize = t;
    this.firstHalvings = h;
    this.carry = carry;
    this.halver = halver;
    this.seed = seed;
    this.rng = new Rng(seed);
    const store = { seed, ...(options.precision === undefined ? {} : { precision: options.precision }) };
    this.raw = new SlotStore(d, s, { maxSlots: t, initialSlots: Math.min(16, t), ...store });
    this.groups = new SlotStore(d, s, { weighted: true, ...store, ...(rows === undefined ? {} : { initialSlots: rows, maxSlots: rows }) });
    this.batch = new RowBatch(d, s, Math.min(16, t));
    this.partial = createKernelSums(s);
    this.kernel = options.kernel ?? exponentialKernel;
  }

  /** Rows held (raw block plus groups). */
  get stored(): number {
    return this.raw.count + this.groups.count;
  }

  /** Rows in groups (everything but the raw block). */
  get groupSlots(): number {
    return this.groups.count;
  }

  /** Rows in the raw block. */
  get rawCount(): number {
    return this.raw.count;
  }

  /** Number of groups. */
  get groupTotal(): number {
    return this.groupCount;
  }

  /** Bytes of one raw row (key, value, position). */
  get rawRowBytes(): number {
    return this.raw.perRowBytes;
  }

  /** Bytes of one group row (key, value, position, log-weight) plus its share of a group size. */
  get groupRowBytes(): number {
    return this.groups.perRowBytes + 4;
  }

  /** Bytes the stores hold whatever their rows (a precision's residual and rotation signs). */
  get fixedBytes(): number {
    return this.raw.fixedBytes + this.groups.fixedBytes;
  }

  /** A short label of the rows' precision. */
  get precisionLabel(): string {
    return this.groups.precisionLabel;
  }

  /** Bytes held: raw rows, group rows and one Int32 size per group (the arrays of {@link MergeAndReduce.state}). */
  get heldBytes(): number {
    return this.raw.heldBytes + this.groups.heldBytes + 4 * this.groupCount;
  }

  /** Largest weight level held (0 when only raw rows or nothing). */
  get topLevel(): number {
    let top = 0;
    for (let g = 0; g < this.groupCount; g++) if (this.groupLevel[g]! > top) top = this.groupLevel[g]!;
    return top;
  }

  /**
   * Tokens the held rows stand for: Σ 2^level, an exact integer. It equals the tokens pushed when
   * every halving keeps exactly half of an even batch ({@link BalancedHalving} does) and no budget
   * forced a mixed halving or a drop; a halver that keeps fewer rows ({@link SoftmaxBalance} keeps
   * the smaller sign class) makes it smaller.
   */
  get totalWeight(): number {
    let total = this.raw.count;
    for (let i = 0; i < this.groups.count; i++) total += 2 ** Math.round(this.groups.logWeight(i) / Math.LN2);
    return total;
  }

  /**
   * Adds one token of weight 1; a full raw block is halved `firstHalvings` times and carried.
   * @param key - Key storage.
   * @param keyOffset - Index of the key's first element.
   * @param value - Value storage (ignored when s = 0).
   * @param valueOffset - Index of the value's first element.
   * @param position - Logical position.
   * @returns Whether the raw block was flushed into a group.
    * @throws `InvalidInputError` or `UnsupportedError` (from `@kv/core`) when the row stores cannot encode or move a row.
   */
  push(key: ArrayLike<number>, keyOffset: number, value: ArrayLike<number>, valueOffset: number, position: number): boolean {
    this.raw.push(key, keyOffset, value, valueOffset, position, 0);
    if (this.raw.count < this.blockSize) return false;
    this.flushRaw(this.firstHalvings);
    if (this.carry === 'binary') {
      let level = this.groupLevel[this.groupCount - 1]!;
      for (;;) {
        const newest = this.groupCount - 1;
        let twin = -1;
        for (let g = 0; g < newest; g++) if (this.groupLevel[g] === level) twin = g;
        if (twin < 0) break;
        level = this.mergeGroups(twin, newest);
      }
    }
    return true;
  }

  /**
   * Halves the lightest rows until the groups hold at most `maxGroupSlots` rows: at the lowest
   * weight level holding ≥ 2 rows, the two smallest groups are concatenated and halved (or the
   * only group is halved alone; an odd row out keeps its weight as its own group), so every halving
   * sees equal weights, weights stay exact, and a halving never sees more than two groups.
   * Stops early only when no level holds 2 rows, that is with at most one row per level
   * (≤ 32 rows for any stream of Int32 positions), unless `mixLevels` is set: then the two
   * lightest groups are concatenated and halved although their weights differ (each kept row
   * doubles its own weight, so Σ weights is no longer preserved exactly), down to the limit or a
   * single group. Used by budgeted structures (`lazy` carry, or a capped binary counter).
   * @param maxGroupSlots - Row limit for the groups.
   * @param mixLevels - Allow halvings across weight levels when no level holds 2 rows (default false).
    * @throws `InvalidInputError` or `UnsupportedError` (from `@kv/core`) when the row stores cannot encode or move a row.
   */
  reduceTo(maxGroupSlots: number, mixLevels = false): void {
    while (this.groups.count > maxGroupSlots) {
      if (this.halveLowestLevel()) continue;
      if (!mixLevels || this.groupCount < 2) return;
      this.mergeLightest();
    }
  }

  /**
   * One step of budget-driven compression, freeing at least one row when anything can be freed:
   * in order, halving at the lowest weight level of the groups (as {@link MergeAndReduce.reduceTo}
   * does), halving the open raw block early (≥ 2 rows), a mixed-weight halving of the two lightest
   * groups, and finally dropping the lightest single row (its tokens are then lost, counted in
   * {@link MergeAndReduce.droppedWeight}).
   * @returns Rows freed (0 when nothing is held).
    * @throws `InvalidInputError` or `UnsupportedError` (from `@kv/core`) when the row stores cannot encode or move a row.
   */
  compressOnce(): number {
    const before = this.stored;
    if (this.raw.count >= Math.max(2, this.blockSize / 2) && this.lowestGroupLevel() > 0) this.flushRaw(1);
    else if (!this.halveLowestLevel()) {
      if (this.raw.count >= 2) this.flushRaw(1);
      else if (this.groupCount >= 2) this.mergeLightest();
      else this.dropLightest();
    }
    return before - this.stored;
  }

  /**
   * Weighted kernel sums of the held rows (log-weights as logit biases), evaluated by the
   * `kernel` option (default: the exponential kernel).
   * @param query - Query of length d.
   * @param tau - Logit scale.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  sums(query: Float32Array, tau: number, out: KernelSums): KernelSums {
    this.kernel.sums(this.raw, query, tau, out);
    this.kernel.sums(this.groups, query, tau, this.partial);
    return mergeSums(out, this.partial);
  }

  /**
   * Appends the positions of the held rows to `out` starting at `offset`.
   * @param out - Destination (length ≥ offset + stored).
   * @param offset - First index to write.
   * @returns The index after the last written one.
   */
  writePositions(out: Int32Array, offset: number): number {
    out.set(this.raw.positions(), offset);
    out.set(this.groups.positions(), offset + this.raw.count);
    return offset + this.stored;
  }

  /** Forgets every row (keeps allocations) and restarts the randomness from the seed. */
  reset(): void {
    this.rng = new Rng(this.seed);
    this.raw.clear();
    this.groups.clear();
    this.groupCount = 0;
    this.halvings = 0;
    this.halvedWeight = 0;
    this.mixedHalvings = 0;
    this.droppedWeight = 0;
  }

  /**
   * Everything needed to continue bit for bit: the raw block, the group rows, the group sizes, the
   * counters and the halvings' generator (views of live memory).
   * @returns The state.
   */
  state(): CacheState {
    return {
      scalars: {
        halvings: this.halvings,
        halvedWeight: this.halvedWeight,
        mixedHalvings: this.mixedHalvings,
        droppedWeight: this.droppedWeight,
        rng: this.rng.getState(),
      },
      arrays: { groupSizes: this.groupSize.subarray(0, this.groupCount) },
      parts: { raw: this.raw.state(), groups: this.groups.state() },
    };
  }

  /**
   * Loads a state of a structure of the same shape (dimensions, block size).
   * @param r - A reader of the state.
   * @throws `SnapshotError` when it does not fit.
   */
  loadState(r: StateReader): void {
    const halvings = r.integer('halvings', 0, 2 ** 53);
    const halvedWeight = r.number('halvedWeight');
    const mixed = r.integer('mixedHalvings', 0, 2 ** 53);
    const dropped = r.number('droppedWeight');
    const gen = new Rng(0);
    gen.setState(r.numbers('rng', 6));
    const raw = r.part('raw');
    const groups = r.part('groups');
    const rows = groups.integer('count', 0, Math.min(this.groups.maxSlots, 2 ** 31 - 1));
    const sizes = r.array('groupSizes', Int32Array);
    let total = 0;
    for (const size of sizes) {
      if (!(size >= 1)) r.refuse(`a group of ${size} rows`);
      total += size;
    }
    if (total !== rows) r.refuse(`group sizes add up to ${total}, the groups hold ${rows} rows`);
    this.raw.loadState(raw);
    this.groups.loadState(groups);
    for (let i = 0; i < rows; i++) {
      const w = this.groups.logWeight(i);
      const level = Math.round(w / Math.LN2);
      if (!(level >= 0 && level < 64) || Math.abs(w - level * Math.LN2) > 1e-4) r.refuse(`log-weight ${w} is not a weight level`);
    }
    this.groupCount = 0;
    let start = 0;
    for (const size of sizes) {
      this.growGroupTable();
      let level = 0;
      for (let i = start; i < start + size; i++) level = Math.max(level, Math.round(this.groups.logWeight(i) / Math.LN2));
      const g = this.groupCount++;
      this.groupStart[g] = start;
      this.groupSize[g] = size;
      this.groupLevel[g] = level;
      start += size;
    }
    this.halvings = halvings;
    this.halvedWeight = halvedWeight;
    this.mixedHalvings = mixed;
    this.droppedWeight = dropped;
    this.rng = gen;
  }

  // Halves the raw block `halvings` times (fewer when it runs out of rows) into a new group.
  private flushRaw(halvings: number): void {
    const batch = this.batch;
    batch.clear();
    batch.pushFromStore(this.raw, 0, this.raw.count);
    this.raw.clear();
    for (let i = 0; i < halvings && batch.count > 1; i++) {
      if (batch.count % 2 === 1) {
        // An odd row out (an early flush) keeps its weight in a group of its own.
        const last = batch.count - 1;
        this.appendRows(batch, last, 1);
        batch.count = last;
      }
      this.halve(batch);
    }
    this.appendGroup(batch);
  }

  // The lowest level of any group (Infinity without groups).
  private lowestGroupLevel(): number {
    let low = Infinity;
    for (let g = 0; g < this.groupCount; g++) low = Math.min(low, this.groupLevel[g]!);
    return low;
  }

  // One equal-weight halving at the lowest level with ≥ 2 rows; false when no level has 2 rows.
  private halveLowestLevel(): boolean {
    let level = -1;
    for (let g = 0; g < this.groupCount; g++) {
      const l = this.groupLevel[g]!;
      if (level >= 0 && l >= level) continue;
      let rows = 0;
      for (let h = 0; h < this.groupCount; h++) if (this.groupLevel[h] === l) rows += this.groupSize[h]!;
      if (rows >= 2) level = l;
    }
    if (level < 0) return false;
    let a = -1;
    let b = -1;
    for (let g = 0; g < this.groupCount; g++) {
      if (this.groupLevel[g] !== level) continue;
      const size = this.groupSize[g]!;
      if (a < 0 || size < this.groupSize[a]!) {
        b = a;
        a = g;
      } else if (b < 0 || size < this.groupSize[b]!) b = g;
    }
    const batch = this.batch;
    batch.clear();
    batch.pushFromStore(this.groups, this.groupStart[a]!, this.groupSize[a]!);
    if (b >= 0) batch.pushFromStore(this.groups, this.groupStart[b]!, this.groupSize[b]!);
    if (b > a) {
      this.removeGroup(b);
      this.removeGroup(a);
    } else {
      this.removeGroup(a);
      if (b >= 0) this.removeGroup(b);
    }
    if (batch.count % 2 === 1) {
      // The odd row out keeps its weight in a group of its own.
      const last = batch.count - 1;
      this.appendRows(batch, last, 1);
      batch.count = last;
    }
    this.halve(batch);
    this.appendGroup(batch);
    return true;
  }

  private halve(batch: RowBatch): void {
    if (this.keep.length < batch.count) this.keep = new Int32Array(Math.max(batch.count, 2 * this.keep.length));
    let top = 0;
    let low = Infinity;
    for (let i = 0; i < batch.count; i++) {
      top = Math.max(top, batch.levels[i]!);
      low = Math.min(low, batch.levels[i]!);
    }
    if (low < top) this.mixedHalvings++;
    halveBatch(this.halver, batch, this.rng, this.keep);
    this.halvings++;
    this.halvedWeight += 2 ** top;
  }

  // Appends the batch as a new group; returns its level (the largest row level).
  private appendGroup(batch: RowBatch): number {
    return this.appendRows(batch, 0, batch.count);
  }

  private growGroupTable(): void {
    if (this.groupCount < this.groupStart.length) return;
    const grow = (a: Int32Array): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.groupStart = grow(this.groupStart);
    this.groupSize = grow(this.groupSize);
    this.groupLevel = grow(this.groupLevel);
  }

  // Appends rows [from, from + count) of the batch as a new group; returns its level.
  private appendRows(batch: RowBatch, from: number, count: number): number {
    if (count === 0) return 0;
    this.growGroupTable();
    const store = this.groups;
    const start = store.count;
    let level = 0;
    for (let r = from; r < from + count; r++) {
      const l = batch.levels[r]!;
      if (l > level) level = l;
      store.push(batch.keys, r * this.d, batch.values, r * this.s, batch.positions[r]!, l * Math.LN2);
    }
    const g = this.groupCount++;
    this.groupStart[g] = start;
    this.groupSize[g] = count;
    this.groupLevel[g] = level;
    return level;
  }

  // Concatenates and halves the two groups of lowest level (their rows keep their own weights).
  private mergeLightest(): void {
    let a = -1;
    let b = -1;
    for (let g = 0; g < this.groupCount; g++) {
      if (a < 0 || this.groupLevel[g]! < this.groupLevel[a]!) {
        b = a;
        a = g;
      } else if (b < 0 || this.groupLevel[g]! < this.groupLevel[b]!) b = g;
    }
    this.mergeGroups(Math.min(a, b), Math.max(a, b));
  }

  // Drops the single row of lowest weight (the raw block's oldest row first).
  private dropLightest(): void {
    if (this.raw.count > 0) {
      this.droppedWeight += 1;
      this.raw.removeRange(0, 1);
      return;
    }
    if (this.groupCount === 0) return;
    let g = 0;
    for (let h = 1; h < this.groupCount; h++) if (this.groupLevel[h]! < this.groupLevel[g]!) g = h;
    this.droppedWeight += 2 ** this.groupLevel[g]!;
    this.removeGroup(g);
  }

  // Concatenates groups a < b, removes them, halves once and appends the result (last group).
  private mergeGroups(a: number, b: number): number {
    const batch = this.batch;
    batch.clear();
    batch.pushFromStore(this.groups, this.groupStart[a]!, this.groupSize[a]!);
    batch.pushFromStore(this.groups, this.groupStart[b]!, this.groupSize[b]!);
    this.removeGroup(b);
    this.removeGroup(a);
    if (batch.count > 1) this.halve(batch);
    return this.appendGroup(batch);
  }

  // Removes group g's rows, shifting the later groups down so rows stay in group order.
  private removeGroup(g: number): void {
    const start = this.groupStart[g]!;
    const size = this.groupSize[g]!;
    this.groups.removeRange(start, start + size);
    for (let h = g + 1; h < this.groupCount; h++) {
      this.groupStart[h - 1] = this.groupStart[h]! - size;
      this.groupSize[h - 1] = this.groupSize[h]!;
      this.groupLevel[h - 1] = this.groupLevel[h]!;
    }
    this.groupCount--;
  }
}
