import { UnsupportedError } from '../errors.js';
import { GrowableInts, RowMemory } from '../kernels/row-memory.js';
import type { RowLayout } from './row-layout.js';

/** A slot whose row was moved away by `move` (it must be overwritten or dropped). */
export const MOVED = -0x80000000;

const align64 = (n: number) => Math.ceil(n / 64) * 64;

/**
 * Where a store's rows live: one {@link RowMemory} holding, after an optional kernel scratch,
 *
 * - a **residual ring** of float32 records (the newest rows, when the precision keeps a residual or
 *   groups keys per channel), and
 * - the **main pool**: records at the store's precision, dense (token-wise groups: a removed row
 *   is replaced by the last one, an exact copy of its bytes) or in groups of G rows (channel-wise
 *   key groups: a removed row becomes a tombstone until its whole group is dead).
 *
 * A store without residual and with token-wise groups maps slot i to main row i ("identity"); the
 * others keep a slot → row map and its inverse, so a row never changes precision when policies
 * move slots around (moves are exact, so the rest of the store stays bit-identical).
 * @internal
 */
export class RowPools {
  readonly layout: RowLayout;
  readonly mem = new RowMemory();
  /** Slots are mapped (residual ring or channel-wise groups). */
  readonly mapped: boolean;
  /** Rows always kept in float32. */
  readonly residual: number;
  /** Residual ring capacity (0 when unmapped). */
  readonly fCap: number;
  /** Tombstones allowed in channel-wise groups before a removal is refused. */
  readonly deadCap: number;
  /** Byte offset of the pools (a kernel scratch lies before it in a WebAssembly memory). */
  base = 0;
  fBase = 0;
  qBase = 0;
  count = 0;
  fHead = 0;
  nF = 0;
  /** Main-pool rows in use (channel-wise: rows of used groups, tombstones included). */
  nQ = 0;
  /** Slot of each residual ring entry. */
  readonly physF: Int32Array;
  /** Slot of each main row (−1: tombstone). */
  readonly physQ = new GrowableInts();
  /** Row of each slot: ≥ 0 a main row, < 0 the residual entry −1−r. */
  readonly slots = new GrowableInts();
  /** Channel-wise groups in creation order, live rows per group id, free ids. */
  readonly groupOrder = new GrowableInts();
  readonly groupLive = new GrowableInts();
  readonly freeGroups = new GrowableInts();
  usedGroups = 0;
  groupIds = 0;
  nFree = 0;
  dead = 0;
  /** Most main rows the owner's budget allows (Infinity: unbounded). */
  rowCap = Infinity;
  // Promotion scratch: one row, or G rows of keys and their code offsets.
  private readonly rowKey: Float64Array;
  private readonly rowValue: Float64Array;
  private readonly groupKeys: Float64Array;
  private readonly groupRows: Int32Array;

  /**
   * @param layout - Record layout.
   * @param residual - Rows kept in float32.
   */
  constructor(layout: RowLayout, residual: number) {
    this.layout = layout;
    this.residual = residual;
    this.mapped = residual > 0 || layout.channel;
    const G = layout.group;
    this.fCap = !this.mapped ? 0 : layout.channel ? residual + G : residual;
    this.deadCap = layout.channel ? 2 * (G - 1) : 0;
    this.physF = new Int32Array(this.fCap);
    this.groupKeys = new Float64Array(layout.channel ? G * layout.d : 0);
    this.groupRows = new Int32Array(layout.channel ? G : 0);
    this.rowKey = new Float64Array(layout.d);
    this.rowValue = new Float64Array(layout.s);
    this.setBase(0);
  }

  /** Re-bases the pools (when moving into a WebAssembly memory with a scratch in front). */
  setBase(base: number): void {
    this.base = base;
    this.fBase = base;
    this.qBase = align64(base + this.fCap * this.layout.fRec);
  }

  /** Byte offset of residual ring entry k. */
  fAddr(k: number): number {
    return this.fBase + k * this.layout.fRec;
  }

  /** Byte offset of main row p. */
  qAddr(p: number): number {
    const L = this.layout;
    if (!L.channel) return this.qBase + p * L.rec;
    const G = L.group;
    const g = (p / G) | 0;
    return this.qBase + g * L.groupBytes + L.groupRows + (p - g * G) * L.rec;
  }

  /** Byte offset of the key scales of main row p's group (channel-wise). */
  groupScaleAddr(p: number): number {
    const L = this.layout;
    return this.qBase + ((p / L.group) | 0) * L.groupBytes;
  }

  /** Bytes the main pool needs for `rows` rows (channel-wise: `rows / G` groups). */
  private qBytes(rows: number): number {
    const L = this.layout;
    return L.channel ? Math.ceil(rows / L.group) * L.groupBytes : rows * L.rec;
  }

  /** Most bytes the memory may take. */
  capBytes(): number {
    const L = this.layout;
    if (!Number.isFinite(this.rowCap)) return Infinity;
    const rows = L.channel ? this.rowCap + this.deadCap + L.group : this.rowCap;
    return this.qBase + this.qBytes(rows);
  }

  /** Makes room for main rows [0, rows) (or group ids below rows / G). */
  ensureQ(rows: number): void {
    if (!this.mem.ensure(this.qBase + this.qBytes(rows), this.capBytes())) throw new RangeError('SlotStore: the memory cannot grow');
  }

  /** Makes room for residual entries [0, k]. */
  private ensureF(k: number): void {
    if (!this.mem.ensure(this.fBase + (k + 1) * this.layout.fRec, this.capBytes())) throw new RangeError('SlotStore: the memory cannot grow');
  }

  /**
   * Takes a residual entry for slot `slot` (promoting the oldest rows into the main pool first
   * when the ring is full) and returns its byte offset, to be filled with a float32 record.
   * @param slot - The slot.
   * @returns The byte offset of the entry.
   */
  takeResidual(slot: number): number {
    if (this.nF === this.fCap) {
      if (this.layout.channel) this.promoteGroup();
      else this.promoteHead();
    }
    const k = (this.fHead + this.nF) % this.fCap;
    this.ensureF(k);
    this.physF[k] = slot;
    this.slots.data[slot] = -1 - k;
    this.nF++;
    return this.fAddr(k);
  }

  // The oldest residual row becomes main row nQ (encoded at the store's precision).
  private promoteHead(): void {
    const L = this.layout;
    const p = this.nQ;
    this.ensureQ(p + 1);
    this.physQ.ensure(p + 1, Math.max(p + 1, this.rowCap));
    const k = this.fHead;
    const f = this.fAddr(k) >> 2;
    const m = this.mem;
    const key = this.rowKey;
    const value = this.rowValue;
    for (let j = 0; j < L.d; j++) key[j] = m.f32[f + j]!;
    for (let j = 0; j < L.s; j++) value[j] = m.f32[f + L.d + j]!;
    const a = this.qAddr(p);
    L.keys.encode(key, m, a + L.kCode, a + L.kScale);
    L.values.encode(value, m, a + L.vCode, a + L.vScale);
    if (L.weighted) m.f32[(a + L.lw) >> 2] = m.f32[f + L.d + L.s]!;
    const slot = this.physF[k]!;
    this.physQ.data[p] = slot;
    this.slots.data[slot] = p;
    this.fHead = (k + 1) % this.fCap;
    this.nF--;
    this.nQ++;
  }

  // The G oldest residual rows become a channel-wise group (a freed group id, or a new one).
  private promoteGroup(): void {
    const L = this.layout;
    const G = L.group;
    const d = L.d;
    let g: number;
    if (this.nFree > 0) g = this.freeGroups.data[--this.nFree]!;
    else {
      g = this.groupIds;
      this.ensureQ((g + 1) * G);
      this.groupLive.ensure(g + 1, g + 1);
      this.physQ.ensure((g + 1) * G, (g + 1) * G);
      this.groupIds++;
    }
    const m = this.mem;
    const keys = this.groupKeys;
    const rows = this.groupRows;
    const value = this.rowValue;
    for (let r = 0; r < G; r++) {
      const k = (this.fHead + r) % this.fCap;
      const f = this.fAddr(k) >> 2;
      for (let j = 0; j < d; j++) keys[r * d + j] = m.f32[f + j]!;
      const p = g * G + r;
      const a = this.qAddr(p);
      rows[r] = a + L.kCode;
      for (let j = 0; j < L.s; j++) value[j] = m.f32[f + d + j]!;
      L.values.encode(value, m, a + L.vCode, a + L.vScale);
      if (L.weighted) m.f32[(a + L.lw) >> 2] = m.f32[f + d + L.s]!;
      const slot = this.physF[k]!;
      this.physQ.data[p] = slot;
      this.slots.data[slot] = p;
    }
    L.keys.encodeChannels(keys, 0, G, m, rows, this.groupScaleAddr(g * G));
    this.groupOrder.ensure(this.usedGroups + 1, this.usedGroups + 1);
    this.groupOrder.data[this.usedGroups++] = g;
    this.groupLive.data[g] = G;
    this.nQ += G;
    this.fHead = (this.fHead + G) % this.fCap;
    this.nF -= G;
  }

  /**
   * Frees the row of a slot (the slot itself is left dangling for the caller to re-point).
   * @param slot - A mapped slot.
   * @throws {@link UnsupportedError} when a channel-wise store would exceed its tombstones (an
   *   out-of-order eviction); nothing changes then.
   */
  release(slot: number): void {
    const at = this.slots.data[slot]!;
    if (at === MOVED) return;
    const L = this.layout;
    if (at < 0) {
      this.releaseResidual(-1 - at);
      return;
    }
    if (!L.channel) {
      const last = this.nQ - 1;
      if (at !== last) {
        const from = this.qAddr(last);
        this.mem.u8.copyWithin(this.qAddr(at), from, from + L.rec);
        const moved = this.physQ.data[last]!;
        this.physQ.data[at] = moved;
        this.slots.data[moved] = at;
      }
      this.nQ--;
      return;
    }
    const G = L.group;
    const g = (at / G) | 0;
    const live = this.groupLive.data[g]! - 1;
    if (live > 0 && this.dead + 1 > this.deadCap) {
      throw new UnsupportedError(
        `this store groups keys per channel over ${G} tokens and only evicts oldest-first; removing slot ${slot} out of order would leave more than ${this.deadCap} dead rows (use keyGroups: 'token')`,
      );
    }
    this.physQ.data[at] = -1;
    this.groupLive.data[g] = live;
    if (live > 0) {
      this.dead++;
      return;
    }
    this.dead -= G - 1;
    const order = this.groupOrder.data;
    let i = 0;
    while (order[i] !== g) i++;
    order.copyWithin(i, i + 1, this.usedGroups);
    this.usedGroups--;
    this.freeGroups.ensure(this.nFree + 1, this.groupIds);
    this.freeGroups.data[this.nFree++] = g;
    this.nQ -= G;
  }

  // Closes the hole at ring entry k by moving the younger entries back one place (the ring is
  // small and this only happens when a policy evicts one of its newest rows).
  private releaseResidual(k: number): void {
    const cap = this.fCap;
    const rec = this.layout.fRec;
    const u8 = this.mem.u8;
    let rank = (k - this.fHead + cap) % cap;
    for (; rank < this.nF - 1; rank++) {
      const to = (this.fHead + rank) % cap;
      const from = (to + 1) % cap;
      u8.copyWithin(this.fAddr(to), this.fAddr(from), this.fAddr(from) + rec);
      const slot = this.physF[from]!;
      this.physF[to] = slot;
      this.slots.data[slot] = -1 - to;
    }
    this.nF--;
  }

  /**
   * Points `slot` at the row `at` (a value of `slots`), updating the inverse map.
   * @param slot - Slot.
   * @param at - Its row.
   */
  point(slot: number, at: number): void {
    this.slots.data[slot] = at;
    if (at === MOVED) return;
    if (at < 0) this.physF[-1 - at] = slot;
    else this.physQ.data[at] = slot;
  }

  /** Forgets every row (keeps the memory). */
  clear(): void {
    this.count = 0;
    this.fHead = 0;
    this.nF = 0;
    this.nQ = 0;
    this.usedGroups = 0;
    this.groupIds = 0;
    this.nFree = 0;
    this.dead = 0;
  }

  /**
   * Bytes each row adds (see `SlotStore.perRowBytes`): its record, and with mapped slots the
   * amortized group scales and the slot map and its inverse.
   * @param positions - Whether positions are kept.
   * @returns Bytes (fractional with channel-wise groups).
   */
  perRowBytes(positions: boolean): number {
    const L = this.layout;
    const pos = positions ? 4 : 0;
    return this.mapped ? L.quantizedRowBytes() + 8 + pos : L.rec + pos;
  }

  /**
   * Bytes held whatever the number of rows (see `SlotStore.fixedBytes`): the residual ring, and
   * the tombstones and group rounding a channel-wise store may hold.
   * @returns Bytes.
   */
  fixedBytes(): number {
    if (!this.mapped) return 0;
    const L = this.layout;
    const slack = L.channel ? this.deadCap + L.group - 1 : 0;
    return this.fCap * (L.fRec + 4) + Math.ceil(slack * (L.quantizedRowBytes() + 4));
  }

  /** Bytes held by the live content (what `state()` holds besides positions and signs). */
  contentBytes(): number {
    const L = this.layout;
    if (!this.mapped) return this.count * L.rec;
    const main = L.channel ? this.usedGroups * L.groupBytes : this.nQ * L.rec;
    return this.nF * L.fRec + main + 4 * this.count;
  }
}
