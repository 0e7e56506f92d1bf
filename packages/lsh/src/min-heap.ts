import type { CacheState, StateReader } from '@kv/core';

/**
 * A binary min-heap of slots keyed by a score, in typed arrays that grow by doubling up to a
 * capacity: O(log n) push and replace-the-minimum. Used to evict the lowest-priority indexed key.
 *
 * @example
 * ```ts
 * import { SlotMinHeap } from '@kv/lsh';
 * const h = new SlotMinHeap(4);
 * h.push(0, 3); h.push(1, 1);
 * h.minSlot(); // 1
 * ```
 */
export class SlotMinHeap {
  /** Score of each slot. */
  scores: Float64Array;
  /** Heap order: heap[0] is the slot of smallest score. */
  heap: Int32Array;
  /** Items in the heap. */
  size = 0;
  /** Largest number of slots (slot ids are in [0, capacity)). */
  readonly capacity: number;

  /** @param capacity - Largest number of slots (slot ids are in [0, capacity)). */
  constructor(capacity: number) {
    this.capacity = capacity;
    const n = Math.min(16, capacity);
    this.scores = new Float64Array(n);
    this.heap = new Int32Array(n);
  }

  /** Bytes held for its items: a Float64 score and an Int32 heap entry each. */
  get heldBytes(): number {
    return 12 * this.size;
  }

  /**
   * Adds a slot.
   * @param slot - Slot id.
   * @param score - Its score.
   */
  push(slot: number, score: number): void {
    if (slot >= this.scores.length || this.size >= this.heap.length) this.grow(Math.max(slot, this.size) + 1);
    this.scores[slot] = score;
    let i = this.size++;
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (this.scores[p]! <= score) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = slot;
  }

  /** @returns The slot of smallest score (heap must be non-empty). */
  minSlot(): number {
    return this.heap[0]!;
  }

  /** @returns The smallest score (Infinity when empty). */
  minScore(): number {
    return this.size === 0 ? Infinity : this.scores[this.heap[0]!]!;
  }

  /**
   * Gives the minimum's slot a new score and restores the heap order.
   * @param score - The new score of {@link SlotMinHeap.minSlot}.
   */
  replaceMin(score: number): void {
    const heap = this.heap;
    const slot = heap[0]!;
    this.scores[slot] = score;
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.scores[heap[r]!]! < this.scores[heap[l]!]!) c = r;
      if (this.scores[heap[c]!]! >= score) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = slot;
  }

  /** Empties the heap. */
  clear(): void {
    this.size = 0;
  }

  /**
   * Scores of slots 0…size−1 and the heap order (the slots must be exactly 0…size−1).
   * @returns The state.
   */
  state(): CacheState {
    return { scalars: {}, arrays: { scores: this.scores.subarray(0, this.size), heap: this.heap.subarray(0, this.size) } };
  }

  /**
   * Loads a state of a heap of slots 0…n−1.
   * @param r - A reader of the state.
   * @throws `SnapshotError` when it does not fit.
   */
  loadState(r: StateReader): void {
    const heap = r.array('heap', Int32Array);
    const n = heap.length;
    const scores = r.array('scores', Float64Array, n);
    if (n > this.capacity) r.refuse(`a heap of ${n} slots exceeds its capacity ${this.capacity}`);
    const seen = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const slot = heap[i]!;
      if (slot < 0 || slot >= n || seen[slot]) r.refuse('the heap order is not a permutation of its slots');
      seen[slot] = 1;
      if (i > 0 && scores[heap[(i - 1) >> 1]!]! > scores[slot]!) r.refuse('the heap order is broken');
    }
    if (this.scores.length < n) this.grow(n);
    this.scores.set(scores);
    this.heap.set(heap);
    this.size = n;
  }

  private grow(needed: number): void {
    if (needed > this.capacity) throw new RangeError(`SlotMinHeap: ${needed} slots exceed its capacity ${this.capacity}`);
    const n = Math.min(this.capacity, Math.max(needed, 2 * this.scores.length));
    const scores = new Float64Array(n);
    scores.set(this.scores);
    const heap = new Int32Array(n);
    heap.set(this.heap);
    this.scores = scores;
    this.heap = heap;
  }
}
