import { type CacheState, type StateReader } from '@kv/core';

/** Cell counts up to this are addressed directly (a head and a size per cell). */
const DIRECT_CELLS = 1 << 16;

/**
 * One hash table: items (small integers, the slots of a `SlotStore`) grouped by bucket id, with
 * O(1) insert, remove and slot moves. Buckets are doubly linked lists threaded through per-item
 * `next`/`prev` arrays. Families with at most 2^16 cells (every default family) address their
 * list heads directly; larger ones map bucket ids to heads through an open-addressing table with
 * linear probing and backward-shift deletion. Item arrays grow by doubling up to `maxItems`, so an
 * index holds what it indexes, not what it might.
 *
 * @example
 * ```ts
 * import { BucketIndex } from '@kv/lsh';
 * const index = new BucketIndex(8, false, 64);
 * index.insert(0, 42);
 * index.insert(1, 42);
 * for (let i = index.head(42); i >= 0; i = index.next[i]!) console.log(i); // 1, 0
 * ```
 */
export class BucketIndex {
  /** Next item in the same bucket (−1 at the end); indexed by item. */
  next: Int32Array;
  /** Previous item in the same bucket (−1 at the head). */
  prev: Int32Array;
  /** Bucket id of each item (only meaningful for inserted items). */
  bucketOf: Int32Array;
  /** Largest item index + 1 this index may hold. */
  readonly maxItems: number;
  /** Whether list heads are addressed directly by bucket id (ids must then be in [0, cells)). */
  readonly direct: boolean;
  private mapKeys: Int32Array;
  private mapHeads: Int32Array;
  private mapSizes: Int32Array;
  private mask: number;
  private used = 0;
  /** Items currently inserted. */
  size = 0;

  /**
   * @param maxItems - Largest item index + 1 it may hold (Infinity when `growable`).
   * @param growable - Whether items are unbounded (kept for compatibility: same as maxItems = Infinity).
   * @param maxBuckets - Number of distinct bucket ids possible (the family's cell count).
   * @param direct - Address list heads directly (a head and a size per cell; default when there
   *   are at most 2^16 cells); otherwise through a hash map that grows with the buckets used.
   */
  constructor(maxItems: number, growable = false, maxBuckets = Infinity, direct = maxBuckets <= DIRECT_CELLS) {
    this.maxItems = growable ? Infinity : Math.max(1, maxItems);
    const items = Math.min(16, this.maxItems);
    this.next = new Int32Array(items);
    this.prev = new Int32Array(items);
    this.bucketOf = new Int32Array(items);
    this.direct = direct && maxBuckets <= DIRECT_CELLS;
    const cap = this.direct ? maxBuckets : 2;
    this.mapKeys = new Int32Array(this.direct ? 0 : cap);
    this.mapHeads = new Int32Array(cap).fill(-1);
    this.mapSizes = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /** Items the arrays can hold without growing. */
  get itemCapacity(): number {
    return this.next.length;
  }

  /** Bytes held whatever the items (the direct head and size arrays, or the smallest map). */
  get fixedBytes(): number {
    return this.direct ? 8 * this.mapHeads.length : 24;
  }

  /** Bytes per item, an upper bound for hashed indexes (their map is at most 4 slots per item). */
  get perItemBytes(): number {
    return this.direct ? 12 : 60;
  }

  /**
   * Bytes held for items 0…items−1: their links and the head table.
   * @param items - Live item count.
   * @returns The bytes.
   */
  heldBytes(items: number): number {
    return 12 * items + (this.direct ? 8 * this.mapHeads.length : 12 * this.mapHeads.length);
  }

  /**
   * Inserts `item` into bucket `bucket`.
   * @param item - Item index (not currently inserted).
   * @param bucket - Bucket id (in [0, cells) when direct, any 32-bit integer otherwise).
   * @throws RangeError past `maxItems` (a caller bug, not user input).
   */
  insert(item: number, bucket: number): void {
    if (item >= this.next.length) this.growItems(item + 1);
    const id = bucket | 0;
    let slot = this.find(id);
    if (slot < 0) {
      if (this.direct) slot = id;
      else {
        if ((this.used + 1) * 2 > this.mapKeys.length) this.growMap();
        slot = this.claim(id);
      }
    }
    const head = this.mapHeads[slot]!;
    this.next[item] = head;
    this.prev[item] = -1;
    if (head >= 0) this.prev[head] = item;
    this.mapHeads[slot] = item;
    this.mapSizes[slot]!++;
    this.bucketOf[item] = id;
    this.size++;
  }

  /**
   * Removes an inserted item.
   * @param item - The item.
   */
  remove(item: number): void {
    const id = this.bucketOf[item]!;
    const slot = this.find(id);
    const p = this.prev[item]!;
    const n = this.next[item]!;
    if (p >= 0) this.next[p] = n;
    else this.mapHeads[slot] = n;
    if (n >= 0) this.prev[n] = p;
    this.size--;
    if (--this.mapSizes[slot]! === 0 && !this.direct) this.deleteSlot(slot);
  }

  /**
   * Renames inserted item `from` to `to` (which must not be inserted), keeping its bucket. Pairs
   * with `SlotStore.removeSwap`, which moves the last slot into a freed one.
   * @param from - Current item index.
   * @param to - New item index.
   */
  move(from: number, to: number): void {
    if (from === to) return;
    const p = this.prev[from]!;
    const n = this.next[from]!;
    this.prev[to] = p;
    this.next[to] = n;
    this.bucketOf[to] = this.bucketOf[from]!;
    if (p >= 0) this.next[p] = to;
    else this.mapHeads[this.find(this.bucketOf[from]!)] = to;
    if (n >= 0) this.prev[n] = to;
  }

  /**
   * First item of a bucket (follow {@link BucketIndex.next} for the rest).
   * @param bucket - Bucket id.
   * @returns An item, or −1 when the bucket is empty.
   */
  head(bucket: number): number {
    const slot = this.find(bucket | 0);
    return slot < 0 ? -1 : this.mapHeads[slot]!;
  }

  /**
   * Number of items in a bucket.
   * @param bucket - Bucket id.
   * @returns The bucket size.
   */
  bucketSize(bucket: number): number {
    const slot = this.find(bucket | 0);
    return slot < 0 ? 0 : this.mapSizes[slot]!;
  }

  /** Empties the index (keeps its allocation). */
  clear(): void {
    this.mapHeads.fill(-1);
    this.mapSizes.fill(0);
    this.size = 0;
    this.used = 0;
  }

  /**
   * The links of items 0…items−1 and the head table (views of live memory).
   * @param items - Live item count (the items must be exactly 0…items−1).
   * @returns The state.
   */
  state(items: number): CacheState {
    const arrays: Record<string, Int32Array> = {
      next: this.next.subarray(0, items),
      prev: this.prev.subarray(0, items),
      bucketOf: this.bucketOf.subarray(0, items),
      heads: this.mapHeads,
      sizes: this.mapSizes,
    };
    if (!this.direct) arrays['keys'] = this.mapKeys;
    return { scalars: {}, arrays };
  }

  /**
   * Loads a state of an index of the same kind holding items 0…items−1.
   * @param r - A reader of the state.
   * @param items - Item count.
   * @throws `SnapshotError` when it does not fit.
   */
  loadState(r: StateReader, items: number): void {
    if (items > this.maxItems) r.refuse(`${items} items exceed the index limit ${this.maxItems}`);
    const next = r.array('next', Int32Array, items);
    const prev = r.array('prev', Int32Array, items);
    const bucketOf = r.array('bucketOf', Int32Array, items);
    const heads = r.array('heads', Int32Array, this.direct ? this.mapHeads.length : undefined);
    const sizes = r.array('sizes', Int32Array, heads.length);
    const keys = this.direct ? null : r.array('keys', Int32Array, heads.length);
    const cap = heads.length;
    if (!this.direct && (cap < 2 || (cap & (cap - 1)) !== 0)) r.refuse(`a hashed index of ${cap} slots`);
    let total = 0;
    let used = 0;
    for (let i = 0; i < cap; i++) {
      const h = heads[i]!;
      if (h < -1 || h >= items || (h < 0) !== (sizes[i] === 0) || sizes[i]! < 0) r.refuse(`bucket slot ${i} has head ${h} and size ${sizes[i]}`);
      total += sizes[i]!;
      if (h >= 0) used++;
    }
    for (let i = 0; i < items; i++) {
      if (next[i]! < -1 || next[i]! >= items || prev[i]! < -1 || prev[i]! >= items) r.refuse(`item ${i} links outside the index`);
    }
    if (total !== items) r.refuse(`buckets hold ${total} items, expected ${items}`);
    if (this.next.length < items) this.growItems(items);
    this.next.set(next);
    this.prev.set(prev);
    this.bucketOf.set(bucketOf);
    if (!this.direct) {
      this.mapKeys = keys!.slice();
      this.mapHeads = heads.slice();
      this.mapSizes = sizes.slice();
      this.mask = cap - 1;
    } else {
      this.mapHeads.set(heads);
      this.mapSizes.set(sizes);
    }
    this.used = used;
    this.size = items;
  }

  private home(id: number): number {
    let h = Math.imul(id, 0x9e3779b1);
    h ^= h >>> 15;
    return h & this.mask;
  }

  private find(id: number): number {
    if (this.direct) return id >= 0 && id < this.mapHeads.length && this.mapHeads[id]! >= 0 ? id : -1;
    let i = this.home(id);
    while (this.mapHeads[i]! >= 0) {
      if (this.mapKeys[i] === id) return i;
      i = (i + 1) & this.mask;
    }
    return -1;
  }

  private claim(id: number): number {
    let i = this.home(id);
    while (this.mapHeads[i]! >= 0) i = (i + 1) & this.mask;
    this.mapKeys[i] = id;
    this.mapSizes[i] = 0;
    this.used++;
    return i;
  }

  private deleteSlot(slot: number): void {
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    let i = slot;
    let j = slot;
    for (;;) {
      j = (j + 1) & this.mask;
      if (this.mapHeads[j]! < 0) break;
      const k = this.home(this.mapKeys[j]!);
      const between = i <= j ? i < k && k <= j : i < k || k <= j;
      if (between) continue;
      this.mapKeys[i] = this.mapKeys[j]!;
      this.mapHeads[i] = this.mapHeads[j]!;
      this.mapSizes[i] = this.mapSizes[j]!;
      i = j;
    }
    this.mapHeads[i] = -1;
    this.mapSizes[i] = 0;
    this.used--;
  }

  private growItems(needed: number): void {
    if (needed > this.maxItems) throw new RangeError(`BucketIndex: item ${needed - 1} exceeds capacity ${this.maxItems}`);
    const size = Math.min(this.maxItems, Math.max(needed, this.next.length * 2));
    const grow = (a: Int32Array): Int32Array => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.next = grow(this.next);
    this.prev = grow(this.prev);
    this.bucketOf = grow(this.bucketOf);
  }

  private growMap(): void {
    const keys = this.mapKeys;
    const heads = this.mapHeads;
    const sizes = this.mapSizes;
    const cap = keys.length * 2;
    this.mapKeys = new Int32Array(cap);
    this.mapHeads = new Int32Array(cap).fill(-1);
    this.mapSizes = new Int32Array(cap);
    this.mask = cap - 1;
    this.used = 0;
    for (let i = 0; i < keys.length; i++) {
      if (heads[i]! < 0) continue;
      const slot = this.claim(keys[i]!);
      this.mapHeads[slot] = heads[i]!;
      this.mapSizes[slot] = sizes[i]!;
    }
  }
}
