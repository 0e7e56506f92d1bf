import { dotUnit, InvalidParamsError, type KernelSums, Rng, SlotStore } from '@kv/core';
import { type Halver, halveBatch, RowBatch } from '@kv/coreset';
import { logAbsResidual, residualSign } from './residual-exp.js';

/**
 * A weighted merge-and-reduce coreset (binary counter) evaluated with the residual kernel
 * exp_{>t}(<q,k>τ) instead of e^{<q,k>τ}: raw tokens fill a block of `blockSize` rows; a full block
 * is halved by the `Halver` (from `@kv/coreset`) into a group of weight 2; two groups of equal weight are
 * concatenated and halved again. Row weights are powers of two kept as log-weights.
 *
 * @remarks
 * - Why not `MergeAndReduce` (from `@kv/coreset`): it evaluates its rows with the exponential kernel
 *   only and keeps its stores private; this structure reuses its parts (`RowBatch`, `halveBatch`,
 *   the `Halver` interface) and core's `SlotStore`, and adds residual-kernel evaluation.
 * - Memory: at most `blockSize` raw rows plus blockSize/2 rows per occupied weight level, i.e.
 *   ≤ t·(log2(n/t) + 2) rows. The raw block is itself the halving batch, so there is no further
 *   row scratch, and a query runs a one-pass online log-sum-exp (no per-row scratch either). With
 *   `maxRows`, when the group rows exceed it the two lightest groups are concatenated and halved
 *   (a kept row doubles its own weight, so mixed weights are fine), so group rows ≤ maxRows + t/2.
 * - Weights need not sum to n: the walk balances the residual features, which have no constant
 *   component, so the kept (smaller) sign class may hold fewer than half the rows; what the walk
 *   keeps close is Σ w_i·exp_{>t}(<q,k_i>τ)·[1, v_i], the only quantity the estimator uses.
 * - Answer: Σ_i w_i·exp_{>t}(<q,k_i>τ)·[1, v_i] in log-scaled `KernelSums` (from `@kv/core`) form (signed z
 *   and n are allowed: exp_{>t} is negative for negative arguments when t is even).
 * @example
 * ```ts
 * import { createKernelSums } from '@kv/core';
 * import { ResidualBalance, ResidualCoreset } from '@kv/hybrid';
 * const halver = new ResidualBalance({ tau: 1, degree: 2, walkConstant: 1 });
 * const coreset = new ResidualCoreset(2, 1, 2, halver, 1, { blockSize: 8 });
 * for (let i = 0; i < 64; i++) coreset.push([Math.cos(i), Math.sin(i)], 0, [1], 0, i);
 * coreset.sums(new Float32Array([1, 0]), 1, createKernelSums(1));
 * ```
 */
export class ResidualCoreset {
  /** Key dimension. */
  readonly d: number;
  /** Value dimension. */
  readonly s: number;
  /** Taylor degree t of the residual kernel. */
  readonly degree: number;
  /** Raw block size (even). */
  readonly blockSize: number;
  /** Row cap of the groups (Infinity: pure binary counter). */
  readonly maxRows: number;
  /** Halvings run. */
  halvings = 0;
  private readonly halver: Halver;
  private readonly seed: number;
  private rng: Rng;
  private readonly groups: SlotStore;
  private groupStart = new Int32Array(8);
  private groupSize = new Int32Array(8);
  private groupLevel = new Int32Array(8);
  private groupCount = 0;
  private readonly batch: RowBatch;
  private keep: Int32Array;

  /**
   * @param d - Key dimension.
   * @param s - Value dimension.
   * @param degree - Taylor degree t.
   * @param halver - Halving rule (normally {@link ResidualBalance}).
   * @param seed - Seed of the halvings.
   * @param options - `blockSize` (even ≥ 2), an optional `maxRows` cap on the group rows, and
   *   `preallocate` (with a cap: allocate every array at its final size, so bytes never change).
   * @throws `InvalidParamsError` (from `@kv/core`) for a bad block size or cap.
   */
  constructor(d: number, s: number, degree: number, halver: Halver, seed: number, options: { blockSize: number; maxRows?: number; preallocate?: boolean }) {
    const t = options.blockSize;
    if (!Number.isInteger(t) || t < 2 || t % 2 !== 0) throw new InvalidParamsError(`blockSize is ${t}, expected an even integer >= 2`);
    const cap = options.maxRows ?? Infinity;
    if (!(cap >= t)) throw new InvalidParamsError(`maxRows is ${cap}, expected >= blockSize ${t}`);
    this.d = d;
    this.s = s;
    this.degree = degree;
    this.blockSize = t;
    this.maxRows = cap;
    this.halver = halver;
    this.seed = seed;
    this.rng = new Rng(seed);
    const full = cap + t / 2;
    const pre = options.preallocate === true && Number.isFinite(cap);
    this.groups = new SlotStore(d, s, { weighted: true, initialSlots: pre ? full : Math.min(t, 16), ...(pre ? { maxSlots: full } : {}) });

    this.batch = new RowBatch(d, s, t);
    this.keep = new Int32Array(t);
  }

  /** Rows held (raw block and groups). */
  get stored(): number {
    return this.batch.count + this.groups.count;
  }

  /** Σ of the row weights (≤ the tokens pushed; see the class remarks). */
  get totalWeight(): number {
    let w = this.batch.count;
    const lw = this.groups.logWeights!;
    for (let i = 0; i < this.groups.count; i++) w += 2 ** Math.round(lw[i]! / Math.LN2);
    return w;
  }

  /**
   * Adds one token of weight 1.
   * @param key - Key storage.
   * @param keyOffset - Index of the key's first element.
   * @param value - Value storage.
   * @param valueOffset - Index of the value's first element.
   * @param position - Logical position.
   */
  push(key: ArrayLike<number>, keyOffset: number, value: ArrayLike<number>, valueOffset: number, position: number): void {
    // The raw block lives in the halving batch itself: it is halved in place when full, and the
    // batch is empty again (free for the merges) once the halved block is appended as a group.
    this.batch.push(key, keyOffset, value, valueOffset, position, 0);
    if (this.batch.count < this.blockSize) return;
    this.halve();
    let level = this.appendGroup();
    for (;;) {
      const newest = this.groupCount - 1;
      let twin = -1;
      for (let g = 0; g < newest; g++) if (this.groupLevel[g] === level) twin = g;
      if (twin < 0) break;
      level = this.mergeGroups(twin, newest);
    }
    while (this.groups.count > this.maxRows && this.groupCount >= 2) {
      // The two lightest groups (their rows may have different weights; each row keeps its own).
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
  }

  /**
   * Σ_i w_i·exp_{>t}(<q,k_i>τ)·[1, v_i] over the held rows, log-scaled.
   * @param query - Query of length d.
   * @param tau - Logit scale.
   * @param out - Receives the sums (z and n may be negative).
   * @returns `out`.
   */
  sums(query: Float32Array, tau: number, out: KernelSums): KernelSums {
    const n = out.n;
    n.fill(0);
    out.m = -Infinity;
    out.z = 0;
    const b = this.batch;
    this.accumulate(query, tau, b.keys, b.values, null, b.count, out);
    const g = this.groups;
    this.accumulate(query, tau, g.keys, g.values, g.logWeights, g.count, out);
    return out;
  }

  // One pass with an online log-sum-exp (the scale m rises as larger terms arrive), so a query
  // needs no per-row scratch.
  private accumulate(
    query: Float32Array,
    tau: number,
    keys: Float32Array,
    values: Float32Array,
    logWeights: Float32Array | null,
    rows: number,
    out: KernelSums,
  ): void {
    const d = this.d;
    const s = this.s;
    const t = this.degree;
    const n = out.n;
    for (let i = 0; i < rows; i++) {
      const arg = tau * dotUnit(d, keys, i * d, query, 0);
      const sign = residualSign(arg, t);
      if (sign === 0) continue;
      const l = logAbsResidual(arg, t) + (logWeights ? logWeights[i]! : 0);
      if (l > out.m) {
        const a = out.m === -Infinity ? 0 : Math.exp(out.m - l);
        out.z *= a;
        for (let j = 0; j < s; j++) n[j]! *= a;
        out.m = l;
      }
      const w = sign * Math.exp(l - out.m);
      if (w === 0) continue;
      out.z += w;
      const row = i * s;
      for (let j = 0; j < s; j++) n[j] += w * values[row + j]!;
    }
  }

  /** Forgets every row and restarts the randomness from the seed. */
  reset(): void {
    this.rng = new Rng(this.seed);
    this.batch.clear();
    this.groups.clear();
    this.groupCount = 0;
    this.halvings = 0;
  }

  /**
   * The typed arrays held: groups, group table, and the raw block (which is also the halving batch).
   * @returns The arrays.
   */
  buffers(): ArrayBufferView[] {
    return [
      ...this.groups.buffers(),
      this.groupStart,
      this.groupSize,
      this.groupLevel,
      ...this.batch.buffers(),
      this.keep,
    ];
  }

  /**
   * Bytes of the rows themselves (keys, values, positions, log-weights of live rows), without
   * scratch and spare capacity: the memory model of the figures.
   * @returns The byte count.
   */
  rowBytes(): number {
    return this.batch.count * (4 * (this.d + this.s) + 8) + this.groups.count * (4 * (this.d + this.s) + 8);
  }

  private halve(): void {
    const batch = this.batch;
    if (this.keep.length < batch.count) this.keep = new Int32Array(batch.capacity);
    halveBatch(this.halver, batch, this.rng, this.keep);
    this.halvings++;
  }

  private appendGroup(): number {
    const batch = this.batch;
    if (this.groupCount === this.groupStart.length) {
      const grow = (a: Int32Array): Int32Array<ArrayBuffer> => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.groupStart = grow(this.groupStart);
      this.groupSize = grow(this.groupSize);
      this.groupLevel = grow(this.groupLevel);
    }
    const store = this.groups;
    const start = store.count;
    store.reserve(start + batch.count);
    let level = 0;
    for (let r = 0; r < batch.count; r++) {
      const l = batch.levels[r]!;
      if (l > level) level = l;
      store.push(batch.keys, r * this.d, batch.values, r * this.s, batch.positions[r]!, l * Math.LN2);
    }
    const g = this.groupCount++;
    this.groupStart[g] = start;
    this.groupSize[g] = batch.count;
    this.groupLevel[g] = level;
    batch.clear();
    return level;
  }

  // Concatenates groups a < b, removes them, halves once and appends the result.
  private mergeGroups(a: number, b: number): number {
    const batch = this.batch;
    batch.clear();
    batch.reserve(this.groupSize[a]! + this.groupSize[b]!);
    batch.pushFromStore(this.groups, this.groupStart[a]!, this.groupSize[a]!);
    batch.pushFromStore(this.groups, this.groupStart[b]!, this.groupSize[b]!);
    this.removeGroup(b);
    this.removeGroup(a);
    if (batch.count > 1) this.halve();
    return this.appendGroup();
  }

  private removeGroup(g: number): void {
    const store = this.groups;
    const start = this.groupStart[g]!;
    const size = this.groupSize[g]!;
    const end = start + size;
    const d = this.d;
    const s = this.s;
    store.keys.copyWithin(start * d, end * d, store.count * d);
    if (s > 0) store.values.copyWithin(start * s, end * s, store.count * s);
    store.positionOf.copyWithin(start, end, store.count);
    store.logWeights!.copyWithin(start, end, store.count);
    store.count -= size;
    for (let h = g + 1; h < this.groupCount; h++) {
      this.groupStart[h - 1] = this.groupStart[h]! - size;
      this.groupSize[h - 1] = this.groupSize[h]!;
      this.groupLevel[h - 1] = this.groupLevel[h]!;
    }
    this.groupCount--;
  }
}
