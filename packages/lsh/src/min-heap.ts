/**
 * A binary min-heap of slots keyed by a score, in typed arrays sized once: O(log n) push and
 * replace-the-minimum, no allocation. Used to evict the lowest-priority indexed key.
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
  readonly scores: Float64Array;
  /** Heap order: heap[0] is the slot of smallest score. */
  readonly heap: Int32Array;
  /** Items in the heap. */
  size = 0;

  /** @param capacity - Largest number of slots (slot ids are in [0, capacity)). */
  constructor(capacity: number) {
    this.scores = new Float64Array(capacity);
    this.heap = new Int32Array(capacity);
  }

  /**
   * Adds a slot.
   * @param slot - Slot id.
   * @param score - Its score.
   */
  push(slot: number, score: number): void {
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

  /** The typed arrays held. */
  buffers(): ArrayBufferView[] {
    return [this.scores, this.heap];
  }
}
