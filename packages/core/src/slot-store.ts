import type { CacheState } from './contract.js';
import { getKernelBackend } from './kernels/backend.js';
import { dotUnit } from './kernels/dot.js';
import { ATTENTION_BLOCK, AttentionArena } from './kernels/wasm-attention.js';
import { StateReader } from './state.js';
import { type KernelSums, mergeSums } from './sums.js';

const BLOCK = ATTENTION_BLOCK;
// Below this many slots the JS loops are as fast and a WebAssembly memory (which reserves address
// space and costs ~0.1 ms to create) is not worth it.
const WASM_MIN_SLOTS = 256;

/**
 * Row storage of kept tokens: keys, values, logical positions and optional per-slot log-weights
 * (logit biases, algorithms.md §2.2), in flat Float32/Int32 arrays that grow by doubling up to a
 * hard `maxSlots`. Every token-keeping policy stores its tokens here and answers through
 * {@link SlotStore.sums}, so they share one attention path.
 *
 * @remarks
 * Two interchangeable backends run that path (see {@link setKernelBackend}): with `'wasm'`, a store
 * that grows to 256 slots or more keeps its keys and values in a WebAssembly memory of its own
 * (`keys` and `values` are then views of it) and answers with SIMD kernels; `'js'` uses plain
 * loops. Both return bit-identical sums. Growing detaches the previous `keys`/`values` views,
 * so re-read the fields after `push`/`reserve` rather than holding on to them.
 *
 * @example
 * ```ts
 * import { SlotStore, createKernelSums } from '@kv/core';
 * const store = new SlotStore(2, 1, { maxSlots: 8 });
 * store.push(new Float32Array([1, 0]), 0, new Float32Array([5]), 0, 0, 0);
 * store.sums(new Float32Array([1, 0]), 1, createKernelSums(1)); // output 5
 * ```
 */
export class SlotStore {
  /** Key dimension. */
  readonly d: number;
  /** Value dimension. */
  readonly s: number;
  /** Hard slot limit (Infinity when unbounded). */
  readonly maxSlots: number;
  /** Row-major keys, `capacity·d` (only the first `count` rows are live). */
  keys: Float32Array;
  /** Row-major values, `capacity·s`. */
  values: Float32Array;
  /** Logical position of each slot (empty when the store was created with `positions: false`). */
  positionOf: Int32Array;
  /** Whether positions are kept (and counted in the bytes held). */
  readonly tracksPositions: boolean;
  /** Per-slot log-weight (null when the store was created without weights: all weights 1). */
  logWeights: Float32Array | null;
  /** Live slots. */
  count = 0;
  private readonly logits = new Float64Array(BLOCK);
  private readonly partial: KernelSums;
  private arena: AttentionArena | null = null;
  private arenaRefused = false;

  /**
   * @param d - Key dimension.
   * @param s - Value dimension.
   * @param options - `maxSlots` (hard limit, default unbounded), `initialSlots` (default
   *   min(16, maxSlots)), `weighted` (keep per-slot log-weights), `positions` (keep each slot's
   *   logical position, default true; a store whose positions are implicit, like the exact
   *   cache's 0…n−1, turns it off and holds 4 bytes less per row).
   */
  constructor(d: number, s: number, options: { maxSlots?: number; initialSlots?: number; weighted?: boolean; positions?: boolean } = {}) {
    this.d = d;
    this.s = s;
    this.maxSlots = options.maxSlots ?? Infinity;
    this.tracksPositions = options.positions ?? true;
    const initial = Math.min(options.initialSlots ?? 16, this.maxSlots);
    this.keys = new Float32Array(0);
    this.values = new Float32Array(0);
    this.allocateRows(initial);
    this.positionOf = new Int32Array(this.tracksPositions ? initial : 0);
    this.logWeights = options.weighted ? new Float32Array(initial) : null;
    this.partial = { m: -Infinity, z: 0, n: new Float64Array(s) };
  }

  /** Allocated slots. */
  get allocated(): number {
    return this.keys.length / this.d;
  }

  /** Bytes one row holds: its key and value, and its position and log-weight when kept. */
  get perRowBytes(): number {
    return 4 * (this.d + this.s) + (this.tracksPositions ? 4 : 0) + (this.logWeights ? 4 : 0);
  }

  /** Bytes held by the live rows (allocation slack is not counted). */
  get heldBytes(): number {
    return this.count * this.perRowBytes;
  }

  /**
   * Ensures room for `slots` rows (doubling, capped at `maxSlots`).
   * @param slots - Rows needed.
   * @throws RangeError past `maxSlots` (a policy bug, not a user error).
   */
  reserve(slots: number): void {
    if (slots <= this.allocated) return;
    if (slots > this.maxSlots) throw new RangeError(`SlotStore: ${slots} slots exceed the limit ${this.maxSlots}`);
    const next = Math.min(this.maxSlots, Math.max(slots, this.allocated * 2, 16));
    this.allocateRows(next);
    if (this.tracksPositions) {
      const pos = new Int32Array(next);
      pos.set(this.positionOf.subarray(0, this.count));
      this.positionOf = pos;
    }
    if (this.logWeights) {
      const w = new Float32Array(next);
      w.set(this.logWeights.subarray(0, this.count));
      this.logWeights = w;
    }
  }

  /** Re-allocates keys and values for `slots` rows, in a WebAssembly memory when worthwhile. */
  private allocateRows(slots: number): void {
    const live = this.count;
    if (this.arena === null && !this.arenaRefused && slots >= WASM_MIN_SLOTS && getKernelBackend() === 'wasm') {
      this.arena = AttentionArena.create(this.d, this.s);
      this.arenaRefused = this.arena === null;
    }
    const arena = this.arena;
    if (arena !== null) {
      if (arena.resize(slots, live, this.keys, this.values)) {
        this.keys = arena.keys;
        this.values = arena.values;
        return;
      }
      // The memory cannot grow (engine limit): the views are untouched, move to plain arrays.
      this.arena = null;
      this.arenaRefused = true;
    }
    const keys = new Float32Array(slots * this.d);
    keys.set(this.keys.subarray(0, live * this.d));
    const values = new Float32Array(slots * this.s);
    values.set(this.values.subarray(0, live * this.s));
    this.keys = keys;
    this.values = values;
  }

  /**
   * Appends a row.
   * @param key - Key storage; the row starts at `keyOffset`.
   * @param keyOffset - Index of the key's first element.
   * @param value - Value storage; the row starts at `valueOffset`.
   * @param valueOffset - Index of the value's first element.
   * @param position - Logical position.
   * @param logWeight - Log-weight (ignored by unweighted stores).
   * @returns The slot index.
   */
  push(
    key: ArrayLike<number>,
    keyOffset: number,
    value: ArrayLike<number>,
    valueOffset: number,
    position: number,
    logWeight: number,
  ): number {
    this.reserve(this.count + 1);
    const slot = this.count++;
    this.write(slot, key, keyOffset, value, valueOffset, position, logWeight);
    return slot;
  }

  /**
   * Overwrites a slot.
   * @param slot - Slot index (< count).
   * @param key - Key storage.
   * @param keyOffset - Index of the key's first element.
   * @param value - Value storage.
   * @param valueOffset - Index of the value's first element.
   * @param position - Logical position.
   * @param logWeight - Log-weight (ignored by unweighted stores).
   */
  write(
    slot: number,
    key: ArrayLike<number>,
    keyOffset: number,
    value: ArrayLike<number>,
    valueOffset: number,
    position: number,
    logWeight: number,
  ): void {
    const d = this.d;
    const s = this.s;
    const ko = slot * d;
    for (let j = 0; j < d; j++) this.keys[ko + j] = key[keyOffset + j]!;
    const vo = slot * s;
    for (let j = 0; j < s; j++) this.values[vo + j] = value[valueOffset + j]!;
    if (this.tracksPositions) this.positionOf[slot] = position;
    if (this.logWeights) this.logWeights[slot] = logWeight;
  }

  /**
   * Moves slot `from` into slot `to` (the old content of `to` is lost).
   * @param from - Source slot.
   * @param to - Destination slot.
   */
  move(from: number, to: number): void {
    if (from === to) return;
    this.keys.copyWithin(to * this.d, from * this.d, (from + 1) * this.d);
    this.values.copyWithin(to * this.s, from * this.s, (from + 1) * this.s);
    if (this.tracksPositions) this.positionOf[to] = this.positionOf[from]!;
    if (this.logWeights) this.logWeights[to] = this.logWeights[from]!;
  }

  /**
   * Removes a slot in O(d+s) by moving the last slot into it (slot order is not preserved).
   * @param slot - Slot to remove.
   * @returns The index the last slot came from (so callers can move their own per-slot data).
   */
  removeSwap(slot: number): number {
    const last = --this.count;
    this.move(last, slot);
    return last;
  }

  /** Forgets every row (keeps the allocation). */
  clear(): void {
    this.count = 0;
  }

  /**
   * Copies the key of a slot into `out` (decoded to float32 whatever the storage).
   * @param slot - Slot index (< count).
   * @param out - Destination.
   * @param offset - Index of the first element written (default 0).
   * @returns `out`.
   */
  readKey<T extends Float32Array | Float64Array>(slot: number, out: T, offset = 0): T {
    const d = this.d;
    const keys = this.keys;
    for (let j = 0, k = slot * d; j < d; j++, k++) out[offset + j] = keys[k]!;
    return out;
  }

  /**
   * Copies the value of a slot into `out`.
   * @param slot - Slot index (< count).
   * @param out - Destination.
   * @param offset - Index of the first element written (default 0).
   * @returns `out`.
   */
  readValue<T extends Float32Array | Float64Array>(slot: number, out: T, offset = 0): T {
    const s = this.s;
    const values = this.values;
    for (let j = 0, k = slot * s; j < s; j++, k++) out[offset + j] = values[k]!;
    return out;
  }

  /**
   * <k_slot, x> in double precision.
   * @param slot - Slot index (< count).
   * @param x - A vector of length d (from `offset`).
   * @param offset - Index of its first element (default 0).
   * @returns The inner product.
   */
  keyDot(slot: number, x: Float32Array | Float64Array, offset = 0): number {
    return dotUnit(this.d, this.keys, slot * this.d, x, offset);
  }

  /**
   * Logit of slot `slot` for a query: τ·<q, k> + log-weight.
   * @param query - Query.
   * @param tau - Logit scale.
   * @param slot - Slot index.
   * @returns The logit.
   */
  logit(query: Float32Array, tau: number, slot: number): number {
    const l = tau * dotUnit(this.d, this.keys, slot * this.d, query, 0);
    return this.logWeights ? l + this.logWeights[slot]! : l;
  }

  /**
   * Kernel sums of the query over the live slots, in blocks with an online log-sum-exp, so
   * working memory is fixed and any logit size is safe.
   * @param query - Query of length d.
   * @param tau - Logit scale.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  sums(query: Float32Array, tau: number, out: KernelSums): KernelSums {
    const arena = this.arena;
    if (arena !== null && getKernelBackend() === 'wasm') return this.wasmSums(arena, query, tau, out);
    out.m = -Infinity;
    out.z = 0;
    out.n.fill(0);
    for (let start = 0; start < this.count; start += BLOCK) {
      const len = Math.min(BLOCK, this.count - start);
      this.blockSums(query, tau, start, len, this.partial);
      mergeSums(out, this.partial);
    }
    return out;
  }

  /**
   * Kernel sums and the per-slot softmax probabilities (needed by query-aware policies).
   * @param query - Query of length d.
   * @param tau - Logit scale.
   * @param out - Receives the sums.
   * @param probs - Receives the normalised attention probability of each live slot.
   * @returns `out`.
   */
  sumsWithProbs(query: Float32Array, tau: number, out: KernelSums, probs: Float64Array): KernelSums {
    const arena = this.arena;
    if (arena !== null && getKernelBackend() === 'wasm') return this.wasmSumsWithProbs(arena, query, tau, out, probs);
    const n = this.count;
    let m = -Infinity;
    for (let i = 0; i < n; i++) {
      const l = this.logit(query, tau, i);
      probs[i] = l;
      if (l > m) m = l;
    }
    const vals = this.values;
    const s = this.s;
    const acc = out.n;
    acc.fill(0);
    let z = 0;
    for (let i = 0; i < n; i++) {
      const w = Math.exp(probs[i]! - m);
      probs[i] = w;
      z += w;
      const row = i * s;
      for (let j = 0; j < s; j++) acc[j] += w * vals[row + j]!;
    }
    const inv = 1 / z;
    for (let i = 0; i < n; i++) probs[i] *= inv;
    out.m = m;
    out.z = z;
    return out;
  }

  private blockSums(query: Float32Array, tau: number, start: number, len: number, out: KernelSums): void {
    const logits = this.logits;
    const d = this.d;
    const keys = this.keys;
    const lw = this.logWeights;
    let m = -Infinity;
    for (let i = 0; i < len; i++) {
      const slot = start + i;
      let l = tau * dotUnit(d, keys, slot * d, query, 0);
      if (lw) l += lw[slot]!;
      logits[i] = l;
      if (l > m) m = l;
    }
    const acc = out.n;
    const s = this.s;
    acc.fill(0);
    let z = 0;
    const vals = this.values;
    const mm = s - (s % 4);
    for (let i = 0; i < len; i++) {
      const w = Math.exp(logits[i]! - m);
      z += w;
      const row = (start + i) * s;
      let j = 0;
      for (; j < mm; j += 4) {
        acc[j] += w * vals[row + j]!;
        acc[j + 1] += w * vals[row + j + 1]!;
        acc[j + 2] += w * vals[row + j + 2]!;
        acc[j + 3] += w * vals[row + j + 3]!;
      }
      for (; j < s; j++) acc[j] += w * vals[row + j]!;
    }
    out.m = m;
    out.z = z;
  }

  // The wasm twin of sums()/blockSums(): the kernels do the dot products and the value
  // accumulation with the same double operations in the same order, and the logit, max and exp
  // steps below are the JS ones verbatim, so the result is bit-identical.
  private wasmSums(arena: AttentionArena, query: Float32Array, tau: number, out: KernelSums): KernelSums {
    out.m = -Infinity;
    out.z = 0;
    out.n.fill(0);
    arena.setQuery(query);
    const scratch = arena.scratch;
    const acc = arena.acc;
    const lw = this.logWeights;
    const partial = this.partial;
    for (let start = 0; start < this.count; start += BLOCK) {
      const len = Math.min(BLOCK, this.count - start);
      arena.dots(start, len);
      let m = -Infinity;
      for (let i = 0; i < len; i++) {
        let l = tau * scratch[i]!;
        if (lw) l += lw[start + i]!;
        scratch[i] = l;
        if (l > m) m = l;
      }
      let z = 0;
      for (let i = 0; i < len; i++) {
        const w = Math.exp(scratch[i]! - m);
        scratch[i] = w;
        z += w;
      }
      acc.fill(0);
      arena.accumulate(start, len);
      partial.n.set(acc);
      partial.m = m;
      partial.z = z;
      mergeSums(out, partial);
    }
    return out;
  }

  // The wasm twin of the JS sumsWithProbs: one pass of blocked dot products for the logits, one
  // of blocked accumulation into a single accumulator (same order as the JS loop).
  private wasmSumsWithProbs(
    arena: AttentionArena,
    query: Float32Array,
    tau: number,
    out: KernelSums,
    probs: Float64Array,
  ): KernelSums {
    const n = this.count;
    const scratch = arena.scratch;
    const lw = this.logWeights;
    arena.setQuery(query);
    let m = -Infinity;
    for (let start = 0; start < n; start += BLOCK) {
      const len = Math.min(BLOCK, n - start);
      arena.dots(start, len);
      for (let i = 0; i < len; i++) {
        const l = tau * scratch[i]!;
        const li = lw ? l + lw[start + i]! : l;
        probs[start + i] = li;
        if (li > m) m = li;
      }
    }
    const acc = arena.acc;
    acc.fill(0);
    let z = 0;
    for (let start = 0; start < n; start += BLOCK) {
      const len = Math.min(BLOCK, n - start);
      for (let i = 0; i < len; i++) {
        const w = Math.exp(probs[start + i]! - m);
        probs[start + i] = w;
        scratch[i] = w;
        z += w;
      }
      arena.accumulate(start, len);
    }
    out.n.set(acc);
    const inv = 1 / z;
    for (let i = 0; i < n; i++) probs[i] *= inv;
    out.m = m;
    out.z = z;
    return out;
  }

  /**
   * The live rows as a state (views of this store's memory: read them before the next write).
   * Its bytes are {@link SlotStore.heldBytes}.
   * @returns The state.
   */
  state(): CacheState {
    const n = this.count;
    const arrays: Record<string, Float32Array | Int32Array> = {
      keys: this.keys.subarray(0, n * this.d),
      values: this.values.subarray(0, n * this.s),
    };
    if (this.tracksPositions) arrays['positions'] = this.positionOf.subarray(0, n);
    if (this.logWeights) arrays['logWeights'] = this.logWeights.subarray(0, n);
    return { scalars: { count: n }, arrays };
  }

  /**
   * Replaces the rows with a state from {@link SlotStore.state} of a store of the same shape.
   * @param state - The state, or a reader of it.
   * @throws `SnapshotError` when it does not fit (nothing changes then).
   */
  loadState(state: CacheState | StateReader): void {
    const r = state instanceof StateReader ? state : new StateReader(state, 'store');
    const n = r.integer('count', 0, Math.min(this.maxSlots, 2 ** 31 - 1));
    const keys = r.array('keys', Float32Array, n * this.d);
    const values = r.array('values', Float32Array, n * this.s);
    const positions = this.tracksPositions ? r.array('positions', Int32Array, n) : null;
    const weights = this.logWeights ? r.array('logWeights', Float32Array, n) : null;
    this.count = 0;
    this.reserve(n);
    this.keys.set(keys);
    this.values.set(values);
    if (positions) this.positionOf.set(positions);
    if (weights) this.logWeights!.set(weights);
    this.count = n;
  }

  /** Positions of the live slots, in slot order (a fresh copy; 0…count−1 when not tracked). */
  positions(): Int32Array {
    if (!this.tracksPositions) {
      const out = new Int32Array(this.count);
      for (let i = 0; i < out.length; i++) out[i] = i;
      return out;
    }
    return this.positionOf.slice(0, this.count);
  }
}
