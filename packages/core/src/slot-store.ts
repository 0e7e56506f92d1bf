import type { CacheState } from './contract.js';
import { InvalidInputError, InvalidParamsError } from './errors.js';
import { checkRowRange } from './kept-rows.js';
import { GrowableInts } from './kernels/row-memory.js';
import type { AttendPool, PoolWorker } from './kernels/attend-pool.js';
import { ATTENTION_BLOCK, StoreKernels } from './kernels/store-kernels.js';
import { HadamardRotation } from './precision/hadamard.js';
import { jsSums, jsSumsWithProbs, type JsSumsScratch, prepareQuery } from './precision/js-sums.js';
import { MOVED, RowPools } from './precision/pools.js';
import { dotAt, logWeightAddr, readKeyAt, readValueAt, writeRow } from './precision/row-io.js';
import { RowLayout } from './precision/row-layout.js';
import { precisionLabel, type ResolvedPrecision, resolvePrecision } from './precision/spec.js';
import type { SlotStoreOptions } from './precision/store-options.js';
import { loadStoreState, saveStoreState } from './precision/store-state.js';
import type { StateReader } from './state.js';
import { type KernelSums, mergeSums } from './sums.js';

/**
 * Row storage of kept tokens: keys, values, logical positions and optional per-row log-weights
 * (logit biases, algorithms.md §2.2), at any {@link Precision}. Every token-keeping policy stores
 * its tokens here and answers through {@link SlotStore.sums}, so they share one attention path.
 *
 * @remarks
 * **Layout.** Rows are records (a row's key and value adjacent) in one memory of the store: plain
 * float32 records, or integer codes and their group scales, with the newest `residual` rows
 * in float32. Read rows through {@link SlotStore.readKey}, {@link SlotStore.readValue},
 * {@link SlotStore.keyDot} and {@link SlotStore.addValue}; the layout is not part of the API.
 *
 * **Memory guarantee.** {@link SlotStore.heldBytes} is what the live rows hold (codes, scales,
 * residual rows, slot maps, positions, rotation signs) and equals the bytes of
 * {@link SlotStore.state}. Allocation never exceeds `fixedBytes + perRowBytes · limit`, where
 * {@link SlotStore.limit} is what the owning policy's budget allows at the current `seen`
 * (policies with growing budgets raise it as the stream grows; fixed budgets pass `maxSlots`);
 * beyond that only a fixed-size kernel scratch is allocated, and a WebAssembly memory rounds up
 * to 64 KiB pages of which the operating system backs only the pages touched. Growth is
 * geometric (×1.5, capped at the limit) and in place (a WebAssembly memory, or a resizable
 * ArrayBuffer), so appending is amortized O(d + s) per row and never copies the rows held (up to
 * 2 GiB per store; past that growth copies, and the JavaScript loops answer). Any limit is valid,
 * however large: what is reserved is capped, what is allocated follows the rows.
 *
 * **Kernels.** A store of 256 rows or more moves into a WebAssembly memory and answers with SIMD
 * kernels (see {@link setKernelBackend}); smaller ones use the JavaScript loops.
 *
 * **Slots.** Slot indices 0…count−1 are what policies hold on to. `removeSwap` moves the last slot
 * into the hole; moves never re-encode a row, so every other row stays bit-identical.
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
  /** Whether positions are kept (and counted in the bytes held). */
  readonly tracksPositions: boolean;
  /** Whether rows hold a log-weight. */
  readonly weighted: boolean;
  /** The precision rows are stored at. */
  readonly precision: ResolvedPrecision;
  private readonly layout: RowLayout;
  private readonly pools: RowPools;
  private readonly pos: GrowableInts | null;
  private readonly keyRotation: HadamardRotation | null;
  private readonly valueRotation: HadamardRotation | null;
  private readonly initialSlots: number;
  private limitRows: number;
  private allocatedSlots = 0;
  // Scratch (fixed size; not state).
  private readonly key64: Float64Array;
  private readonly value64: Float64Array;
  private readonly scratch: JsSumsScratch;
  private readonly addrs: Int32Array;
  private readonly kernels: StoreKernels;
  private preparedFor: Float32Array | Float64Array | null = null;
  private readonly preparedCopy: Float64Array;

  /**
   * @param d - Key dimension.
   * @param s - Value dimension.
   * @param options - See {@link SlotStoreOptions}.
   * @throws {@link InvalidParamsError} for channel-wise key groups without `eviction: 'fifo'`.
   */
  constructor(d: number, s: number, options: SlotStoreOptions = {}) {
    this.d = d;
    this.s = s;
    this.maxSlots = options.maxSlots ?? Infinity;
    this.limitRows = this.maxSlots;
    this.tracksPositions = options.positions ?? true;
    this.weighted = options.weighted ?? false;
    this.precision = resolvePrecision(options.precision);
    const p = this.precision;
    if (p.keyGroups === 'channel' && options.eviction !== 'fifo') {
      throw new InvalidParamsError(
        "precision keyGroups 'channel' quantizes keys over groups of consecutive tokens, so it needs a policy that evicts oldest-first (eviction: 'fifo'); use keyGroups: 'token' (with rotate: true for outlier channels) for policies that evict any token",
      );
    }
    this.layout = new RowLayout(d, s, p, this.weighted);
    this.pools = new RowPools(this.layout, p.residual);
    this.pos = this.tracksPositions ? new GrowableInts() : null;
    const seed = options.seed ?? 0;
    this.keyRotation = p.rotate ? new HadamardRotation(d, seed) : null;
    this.valueRotation = p.rotate ? new HadamardRotation(s, seed + 1) : null;
    this.initialSlots = Math.max(1, Math.min(options.initialSlots ?? 16, this.maxSlots));
    this.key64 = new Float64Array(d);
    this.value64 = new Float64Array(s);
    this.preparedCopy = new Float64Array(d);
    const block = Math.max(ATTENTION_BLOCK, this.layout.channel ? p.group : 0);
    this.scratch = {
      q: new Float64Array(d),
      qsum: new Float64Array(Math.max(1, this.layout.keys.groups)),
      qs: new Float64Array(d),
      logits: new Float64Array(block),
      partial: { m: -Infinity, z: 0, n: new Float64Array(s) },
      block: ATTENTION_BLOCK,
    };
    this.addrs = new Int32Array(block);
    this.kernels = new StoreKernels(this.layout, this.pools);
  }

  /** Live slots. */
  get count(): number {
    return this.pools.count;
  }

  /**
   * Rows the owner's budget allows now (default `maxSlots`). Allocation never goes past
   * `fixedBytes + perRowBytes · limit`; policies whose budget grows with the stream raise it.
   */
  get limit(): number {
    return this.limitRows;
  }

  /** Sets the rows the budget allows (clamped to [0, maxSlots]); rows already held stay. */
  set limit(rows: number) {
    this.limitRows = Math.min(this.maxSlots, Math.max(0, rows));
    this.pools.rowCap = Math.max(this.limitRows, this.count);
  }

  /** Slots that can be pushed without allocating. */
  get allocated(): number {
    return this.allocatedSlots;
  }

  /** Logical position of each slot (a view of the store's memory: re-read it after `push`). */
  get positionOf(): Int32Array {
    return this.pos ? this.pos.data : EMPTY;
  }

  /**
   * Bytes each row adds: its codes or floats and scales, its log-weight and position when kept,
   * and its slot-map entries (stores with a residual or channel-wise key groups). Feed it to
   * `byteCost().perRow`.
   */
  get perRowBytes(): number {
    return this.pools.perRowBytes(this.tracksPositions);
  }

  /**
   * Bytes held whatever the number of rows: the float32 residual ring, the tombstones and group
   * rounding a channel-wise store may hold, and the rotation signs. Feed it to `byteCost().fixed`.
   */
  get fixedBytes(): number {
    return this.pools.fixedBytes() + (this.keyRotation ? this.d + this.s : 0);
  }

  /** Bytes held by the live rows (allocation slack and scratch are not counted). */
  get heldBytes(): number {
    const pos = this.tracksPositions ? 4 * this.count : 0;
    const signs = this.keyRotation ? this.d + this.s : 0;
    return this.pools.contentBytes() + pos + signs;
  }

  /** A short label of the precision (`int4 rot`). */
  get precisionLabel(): string {
    return precisionLabel(this.precision);
  }

  /**
   * Ensures room for `slots` rows (geometric growth, capped at the limit).
   * @param slots - Rows needed.
   * @throws RangeError past `maxSlots` or the limit (a policy bug, not a user error).
   */
  reserve(slots: number): void {
    if (slots <= this.allocatedSlots) return;
    if (slots > this.maxSlots || slots > Math.max(this.limitRows, this.count)) {
      throw new RangeError(`SlotStore: ${slots} slots exceed the limit ${Math.min(this.limitRows, this.maxSlots)}`);
    }
    const cap = Math.max(this.limitRows, this.count);
    const want = Math.min(cap, Math.max(slots, Math.floor(this.allocatedSlots * 1.5), this.initialSlots));
    const pools = this.pools;
    pools.rowCap = cap;
    if (pools.mapped) pools.slots.ensure(want, cap);
    else pools.ensureQ(want);
    this.pos?.ensure(want, cap);
    this.allocatedSlots = want;
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
   * @throws {@link InvalidInputError} when a float16 store cannot hold the row (nothing changes).
   */
  push(key: ArrayLike<number>, keyOffset: number, value: ArrayLike<number>, valueOffset: number, position: number, logWeight: number): number {
    this.encodeScratch(key, keyOffset, value, valueOffset);
    this.reserve(this.count + 1);
    const slot = this.pools.count++;
    this.place(slot, key, keyOffset, value, valueOffset, logWeight);
    if (this.pos) this.pos.data[slot] = position;
    this.kernels.maybeMove(this.count);
    return slot;
  }

  /**
   * Overwrites a slot (the new row is the newest: with a residual it enters it).
   * @param slot - Slot index (< count).
   * @param key - Key storage.
   * @param keyOffset - Index of the key's first element.
   * @param value - Value storage.
   * @param valueOffset - Index of the value's first element.
   * @param position - Logical position.
   * @param logWeight - Log-weight (ignored by unweighted stores).
   * @throws {@link InvalidInputError} when a float16 store cannot hold the row (nothing changes);
   *   `UnsupportedError` when a channel-wise store is asked to overwrite a row out of order past
   *   its tombstone allowance.
   */
  write(slot: number, key: ArrayLike<number>, keyOffset: number, value: ArrayLike<number>, valueOffset: number, position: number, logWeight: number): void {
    this.encodeScratch(key, keyOffset, value, valueOffset);
    if (this.pools.mapped) this.pools.release(slot);
    this.place(slot, key, keyOffset, value, valueOffset, logWeight);
    if (this.pos) this.pos.data[slot] = position;
  }

  // Rotates the row into the f64 scratch and checks a float16 store can hold it, before anything
  // changes.
  private encodeScratch(key: ArrayLike<number>, keyOffset: number, value: ArrayLike<number>, valueOffset: number): void {
    const L = this.layout;
    if (L.plain && this.keyRotation === null) return;
    const k = this.key64;
    const v = this.value64;
    for (let j = 0; j < this.d; j++) k[j] = key[keyOffset + j]!;
    for (let j = 0; j < this.s; j++) v[j] = value[valueOffset + j]!;
    if (this.keyRotation) {
      this.keyRotation.apply(k);
      this.valueRotation!.apply(v);
    }
    const why = L.keys.refuse(k, 0) ?? L.values.refuse(v, 0);
    if (why !== null) throw new InvalidInputError(`SlotStore (${this.precisionLabel}): ${why}`);
  }

  // Writes the row (already in the scratch unless plain and unrotated) for `slot`.
  private place(slot: number, key: ArrayLike<number>, keyOffset: number, value: ArrayLike<number>, valueOffset: number, logWeight: number): void {
    const direct = this.layout.plain && this.keyRotation === null;
    writeRow(this.pools, slot, direct, key, keyOffset, value, valueOffset, this.key64, this.value64, logWeight);
  }

  /**
   * Moves slot `from` into slot `to` (the old content of `to` is lost). The row is not
   * re-encoded. Afterwards `from` must be overwritten or dropped before it is read.
   * @param from - Source slot.
   * @param to - Destination slot.
   * @throws `UnsupportedError` when a channel-wise store is asked to drop a row out of order past
   *   its tombstone allowance.
   */
  move(from: number, to: number): void {
    if (from === to) return;
    const pools = this.pools;
    if (pools.mapped) {
      pools.release(to);
      pools.point(to, pools.slots.data[from]!);
      pools.slots.data[from] = MOVED;
    } else {
      const rec = this.layout.rec;
      const f = pools.qAddr(from);
      pools.mem.u8.copyWithin(pools.qAddr(to), f, f + rec);
    }
    if (this.pos) this.pos.data[to] = this.pos.data[from]!;
  }

  /**
   * Removes a slot in O(d + s) by moving the last slot into it (slot order is not preserved).
   * @param slot - Slot to remove.
   * @returns The index the last slot came from (so callers can move their own per-slot data).
   * @throws `UnsupportedError` when a channel-wise store is asked to evict out of order past its
   *   tombstone allowance (nothing changes then).
   */
  removeSwap(slot: number): number {
    const last = this.count - 1;
    if (this.pools.mapped) {
      this.pools.release(slot);
      if (slot !== last) {
        this.pools.point(slot, this.pools.slots.data[last]!);
        if (this.pos) this.pos.data[slot] = this.pos.data[last]!;
      }
    } else this.move(last, slot);
    this.pools.count--;
    return last;
  }

  /**
   * Removes slots [start, end) keeping the order of the others (O((count − start)·row)).
   * @param start - First slot removed.
   * @param end - One past the last slot removed.
   * @throws `UnsupportedError` when a channel-wise store is asked to drop rows out of order past
   *   its tombstone allowance.
   */
  removeRange(start: number, end: number): void {
    const pools = this.pools;
    const n = this.count;
    const k = end - start;
    if (k <= 0) return;
    if (pools.mapped) {
      for (let i = start; i < end; i++) pools.release(i);
      for (let i = end; i < n; i++) pools.point(i - k, pools.slots.data[i]!);
    } else {
      const rec = this.layout.rec;
      pools.mem.u8.copyWithin(pools.qAddr(start), pools.qAddr(end), pools.qAddr(end) + (n - end) * rec);
    }
    this.pos?.data.copyWithin(start, end, n);
    pools.count = n - k;
  }

  /** Forgets every row (keeps the allocation). */
  clear(): void {
    this.pools.clear();
  }

  /** Byte offset of the key codes of a slot's row, and of its key scales. */
  private keyAt(slot: number): number {
    const pools = this.pools;
    const at = pools.mapped ? pools.slots.data[slot]! : slot;
    if (at === MOVED) throw new RangeError(`SlotStore: slot ${slot} was moved away`);
    return at;
  }

  /**
   * Copies the key of a slot into `out`, decoded to floats (and rotated back).
   * @param slot - Slot index (< count).
   * @param out - Destination.
   * @param offset - Index of the first element written (default 0).
   * @returns `out`.
   */
  readKey<T extends Float32Array | Float64Array>(slot: number, out: T, offset = 0): T {
    const k = this.key64;
    readKeyAt(this.pools, this.keyAt(slot), k);
    this.keyRotation?.invert(k);
    for (let j = 0; j < this.d; j++) out[offset + j] = k[j]!;
    return out;
  }

  /**
   * Copies the value of a slot into `out`, decoded to floats (and rotated back).
   * @param slot - Slot index (< count).
   * @param out - Destination.
   * @param offset - Index of the first element written (default 0).
   * @returns `out`.
   */
  readValue<T extends Float32Array | Float64Array>(slot: number, out: T, offset = 0): T {
    const v = this.value64;
    readValueAt(this.pools, this.keyAt(slot), v);
    this.valueRotation?.invert(v);
    for (let j = 0; j < this.s; j++) out[offset + j] = v[j]!;
    return out;
  }

  /**
   * acc += w · value of a slot (decoded, rotated back), in double precision.
   * @param slot - Slot index (< count).
   * @param w - Weight.
   * @param acc - Accumulators (length s).
   */
  addValue(slot: number, w: number, acc: Float64Array): void {
    this.readValue(slot, this.value64);
    for (let j = 0; j < this.s; j++) acc[j] += w * this.value64[j]!;
  }

  /**
   * Log-weight of a slot (0 for unweighted stores).
   * @param slot - Slot index (< count).
   * @returns The log-weight.
   */
  logWeight(slot: number): number {
    return this.weighted ? this.pools.mem.f32[logWeightAddr(this.pools, this.keyAt(slot)) >> 2]! : 0;
  }

  /**
   * Sets the log-weight of a slot (weighted stores).
   * @param slot - Slot index (< count).
   * @param w - The log-weight.
   */
  setLogWeight(slot: number, w: number): void {
    if (this.weighted) this.pools.mem.f32[logWeightAddr(this.pools, this.keyAt(slot)) >> 2] = w;
  }

  /**
   * <k_slot, x> in double precision, from the stored codes.
   * @param slot - Slot index (< count).
   * @param x - A vector of length d (from `offset`).
   * @param offset - Index of its first element (default 0).
   * @returns The inner product.
   */
  keyDot(slot: number, x: Float32Array | Float64Array, offset = 0): number {
    return this.rawDot(slot, this.prepare(x, offset));
  }

  /**
   * Logit of slot `slot` for a query: τ·<q, k> + log-weight.
   * @param query - Query.
   * @param tau - Logit scale.
   * @param slot - Slot index.
   * @returns The logit.
   */
  logit(query: Float32Array, tau: number, slot: number): number {
    const l = tau * this.rawDot(slot, this.prepare(query, 0));
    return this.weighted ? l + this.logWeight(slot) : l;
  }

  private rawDot(slot: number, x: JsSumsScratch): number {
    return dotAt(this.pools, this.keyAt(slot), x);
  }

  // The query as doubles (rotated when the store rotates) and its per-group sums; reused while
  // the same query is asked about slot after slot.
  private prepare(query: Float32Array | Float64Array, offset: number): JsSumsScratch {
    const copy = this.preparedCopy;
    if (this.preparedFor === query && offset === 0) {
      let same = true;
      for (let j = 0; j < this.d && same; j++) same = copy[j] === query[j];
      if (same) return this.scratch;
    }
    for (let j = 0; j < this.d; j++) copy[j] = query[offset + j]!;
    prepareQuery(this.scratch, copy, this.keyRotation, this.layout.keys.groups, this.precision.group);
    this.preparedFor = offset === 0 ? query : null;
    return this.scratch;
  }

  /**
   * Kernel sums of the query over the live slots, in blocks with an online log-sum-exp, so
   * working memory is fixed and any logit size is safe; quantized rows are read as codes.
   * @param query - Query of length d.
   * @param tau - Logit scale.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  sums(query: Float32Array, tau: number, out: KernelSums): KernelSums {
    const x = this.prepare(query, 0);
    if (!this.kernels.sums(x, tau, out)) jsSums(this.pools, x, tau, this.addrs, out);
    this.valueRotation?.invert(out.n);
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
    const x = this.prepare(query, 0);
    if (!this.kernels.sumsWithProbs(x, tau, out, probs)) jsSumsWithProbs(this.pools, x, tau, out, probs);
    this.valueRotation?.invert(out.n);
    return out;
  }

  /**
   * Kernel sums over a list of slots, each logit shifted by `bias` (sampling estimators).
   * @param query - Query of length d.
   * @param tau - Logit scale.
   * @param slots - Slot indices.
   * @param start - First entry of `slots` used.
   * @param len - Number of entries used.
   * @param bias - Added to every logit.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  sumsOf(query: Float32Array, tau: number, slots: Int32Array, start: number, len: number, bias: number, out: KernelSums): KernelSums {
    const x = this.prepare(query, 0);
    const logits = x.logits;
    const part = x.partial;
    const v = this.value64;
    out.m = -Infinity;
    out.z = 0;
    out.n.fill(0);
    for (let b = 0; b < len; b += ATTENTION_BLOCK) {
      const n = Math.min(ATTENTION_BLOCK, len - b);
      let m = -Infinity;
      for (let i = 0; i < n; i++) {
        const slot = slots[start + b + i]!;
        const l = tau * this.rawDot(slot, x) + this.logWeight(slot) + bias;
        logits[i] = l;
        if (l > m) m = l;
      }
      part.n.fill(0);
      let z = 0;
      for (let i = 0; i < n; i++) {
        const w = Math.exp(logits[i]! - m);
        z += w;
        // Stored (rotated) coordinates: the total is rotated back once, below.
        readValueAt(this.pools, this.keyAt(slots[start + b + i]!), v);
        for (let j = 0; j < this.s; j++) part.n[j] += w * v[j]!;
      }
      part.m = m;
      part.z = z;
      mergeSums(out, part);
    }
    this.valueRotation?.invert(out.n);
    return out;
  }

  /**
   * Moves the rows into a shared WebAssembly memory (once) so worker threads can answer queries
   * on them (`ModelCache` with `threads`).
   * @returns False where shared memory is unavailable (the store is unchanged).
   * @internal
   */
  share(): boolean {
    return this.kernels.share();
  }

  /**
   * Writes the job that answers `query` on a worker thread, when the store's next query can be
   * answered by its kernels alone.
   * @param query - Query of length d.
   * @param tau - Logit scale.
   * @param pool - The worker pool.
   * @param worker - The worker that will run it.
   * @returns The job's result slot, or −1 when the main thread must answer.
   * @internal
   */
  threadJob(query: Float32Array, tau: number, pool: AttendPool, worker: PoolWorker): number {
    const k = this.kernels;
    if (!k.threadable()) return -1;
    const x = this.prepare(query, 0);
    const offsets = k.threadOffsets;
    worker.begin(pool.idOf(k.sharedMemory!), offsets, this.d, this.s);
    k.forEachCall(tau, worker);
    return worker.end(x.q, x.qsum, offsets.groups);
  }

  /**
   * Turns a worker's totals into this store's sums (rotates values back).
   * @param sums - The totals, updated in place.
   * @internal
   */
  finishThreadJob(sums: KernelSums): void {
    this.valueRotation?.invert(sums.n);
  }

  /**
   * The live rows as a state (views of this store's memory: read them before the next write).
   * Its bytes are {@link SlotStore.heldBytes}.
   * @returns The state.
   */
  state(): CacheState {
    return saveStoreState(this.pools, this.pos?.data ?? null, this.keyRotation, this.valueRotation);
  }

  /**
   * Replaces the rows with a state from {@link SlotStore.state} of a store of the same shape,
   * precision and seed, bit for bit.
   * @param state - The state, or a reader of it.
   * @throws `SnapshotError` when it does not fit (nothing changes then).
   */
  loadState(state: CacheState | StateReader): void {
    const n = loadStoreState(state, this.pools, this.maxSlots, this.tracksPositions, this.keyRotation, this.valueRotation, (rows) => {
      this.pools.clear();
      this.allocatedSlots = 0;
      this.reserve(rows);
      return this.pos?.data ?? null;
    });
    this.kernels.maybeMove(n);
    this.preparedFor = null;
  }

  /**
   * Reads rows [start, end) decoded to float32 (rotated back), in slot order — the order of
   * {@link SlotStore.positions}: row i's key at `keys[(i − start)·d]`, its value at
   * `values[(i − start)·s]`. Float32 rows are copied as they are.
   * @param keys - Receives (end − start)·d floats.
   * @param values - Receives (end − start)·s floats.
   * @param start - First slot (default 0).
   * @param end - One past the last slot (default `count`).
   * @returns The number of rows held (`count`).
   * @throws {@link InvalidInputError} for a range outside [0, count] or destinations too short
   *   (nothing is written).
   */
  keptRows(keys: Float32Array, values: Float32Array, start?: number, end?: number): number {
    const { d, s } = this;
    const range = checkRowRange(this.count, d, s, keys, values, start, end);
    const pools = this.pools;
    const direct = this.layout.plain && this.keyRotation === null && !pools.mapped;
    const f32 = pools.mem.f32;
    for (let i = range.start, o = 0; i < range.end; i++, o++) {
      if (direct) {
        const a = pools.qAddr(i) >> 2;
        keys.set(f32.subarray(a, a + d), o * d);
        values.set(f32.subarray(a + d, a + d + s), o * s);
      } else {
        this.readKey(i, keys, o * d);
        this.readValue(i, values, o * s);
      }
    }
    return this.count;
  }

  /**
   * Every live key, decoded, row-major in slot order (a fresh array; not for hot paths).
   * @returns count·d floats.
   */
  copyKeys(): Float32Array {
    const out = new Float32Array(this.count * this.d);
    for (let i = 0; i < this.count; i++) this.readKey(i, out, i * this.d);
    return out;
  }

  /**
   * Every live value, decoded, row-major in slot order (a fresh array; not for hot paths).
   * @returns count·s floats.
   */
  copyValues(): Float32Array {
    const out = new Float32Array(this.count * this.s);
    for (let i = 0; i < this.count; i++) this.readValue(i, out, i * this.s);
    return out;
  }

  /** Positions of the live slots, in slot order (a fresh copy; 0…count−1 when not tracked). */
  positions(): Int32Array {
    if (!this.pos) {
      const out = new Int32Array(this.count);
      for (let i = 0; i < out.length; i++) out[i] = i;
      return out;
    }
    return this.pos.data.slice(0, this.count);
  }
}

const EMPTY = new Int32Array(0);
