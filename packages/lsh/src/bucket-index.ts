/**
 * One hash table: items (small integers, usually slot indices) grouped by bucket id, with O(1)
 * insert, remove and slot moves. Buckets are doubly linked lists threaded through per-item
 * `next`/`prev` arrays; bucket ids map to list heads through an open-addressing table with
 * linear probing and backward-shift deletion (no tombstones, so a bounded index never rehashes).
 * All storage is typed arrays, grown by doubling when unbounded.
 *
 * @example
 * ```ts
 * import { BucketIndex } from '@kv/lsh';
 * const index = new BucketIndex(8);
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
  private mapKeys: Int32Array;
  private mapHeads: Int32Array;
  private mapSizes: Int32Array;
  private mask: number;
  private readonly bounded: boolean;
  private used = 0;
  /** Items currently inserted. */
  size = 0;

  /**
   * @param maxItems - Largest item index + 1 to preallocate for; when `growable`, a starting size.
   * @param growable - Whether items beyond `maxItems` may be inserted (arrays then double).
   * @param maxBuckets - Number of distinct bucket ids possible (the family's cell count): the
   *   bucket map is sized for min(maxItems, maxBuckets) keys, so few cells cost little memory.
   */
  constructor(maxItems: number, growable = false, maxBuckets = Infinity) {
    const items = Math.max(1, maxItems);
    this.next = new Int32Array(items);
    this.prev = new Int32Array(items);
    this.bucketOf = new Int32Array(items);
    const cap = mapCapacity(Math.min(items, maxBuckets));
    this.mapKeys = new Int32Array(cap);
    this.mapHeads = new Int32Array(cap).fill(-1);
    this.mapSizes = new Int32Array(cap);
    this.mask = cap - 1;
    this.bounded = !growable;
  }

  /** Items the arrays can hold without growing. */
  get itemCapacity(): number {
    return this.next.length;
  }

  /**
   * Inserts `item` into bucket `bucket`.
   * @param item - Item index (not currently inserted).
   * @param bucket - Bucket id (any 32-bit integer).
   * @throws RangeError when a bounded index is asked to hold an item past its capacity.
   */
  insert(item: number, bucket: number): void {
    if (item >= this.next.length) {
      if (this.bounded) throw new RangeError(`BucketIndex: item ${item} exceeds capacity ${this.next.length}`);
      this.growItems(item + 1);
    }
    const id = bucket | 0;
    let slot = this.find(id);
    if (slot < 0) {
      if (!this.bounded && (this.used + 1) * 2 > this.mapKeys.length) this.growMap();
      slot = this.claim(id);
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
    if (--this.mapSizes[slot]! === 0) this.deleteSlot(slot);
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

  /** The typed arrays of the index. */
  buffers(): ArrayBufferView[] {
    return [this.next, this.prev, this.bucketOf, this.mapKeys, this.mapHeads, this.mapSizes];
  }

  private home(id: number): number {
    let h = Math.imul(id, 0x9e3779b1);
    h ^= h >>> 15;
    return h & this.mask;
  }

  private find(id: number): number {
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
    const size = Math.max(needed, this.next.length * 2);
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

/** Smallest power of two ≥ 2·items (load ≤ 1/2 when every item has its own bucket). */
function mapCapacity(items: number): number {
  let cap = 2;
  while (cap < 2 * items) cap *= 2;
  return cap;
}

/**
 * Bytes a bounded {@link BucketIndex} for `maxItems` items holds, for budget planning.
 *
 * @param maxItems - Items it is sized for.
 * @param maxBuckets - Distinct bucket ids possible (default unbounded).
 * @returns Its exact byte size.
 * @example
 * ```ts
 * import { bucketIndexBytes } from '@kv/lsh';
 * bucketIndexBytes(100); // 3·4·100 + 3·4·256
 * ```
 */
export function bucketIndexBytes(maxItems: number, maxBuckets = Infinity): number {
  const items = Math.max(1, maxItems);
  return 12 * items + 12 * mapCapacity(Math.min(items, maxBuckets));
}
