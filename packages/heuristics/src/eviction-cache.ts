import { BaseHeadCache, budgetCapacity, type KernelSums, type PolicySpec, SlotStore } from '@kv/core';

/**
 * Returned by {@link EvictionCache.victim} when the arriving token itself is not kept.
 *
 * @example
 * ```ts
 * import { DROP_INCOMING } from '@kv/heuristics';
 * // inside a subclass's victim(): keep the cache as it is and drop the arriving token
 * const victim = (incomingNorm: number, smallestKeptNorm: number): number =>
 *   incomingNorm >= smallestKeptNorm ? DROP_INCOMING : 0;
 * victim(2, 1); // DROP_INCOMING
 * ```
 */
export const DROP_INCOMING = -1;

/**
 * The shared skeleton of the token-evicting heuristics: tokens live in a {@link SlotStore}, and
 * before each token is stored the policy names a victim while the store is at capacity, so
 * `stored <= capacity` holds at every step (evict before insert, as H2O's `evict_for_space`).
 *
 * @remarks
 * `capacity` follows the spec's budget: a token count (fixed) or `{ratio}` of the tokens seen
 * (grows with `seen`, so at most one eviction happens per appended token). Per-slot policy data
 * (scores, norms) lives in Float64 arrays that grow with the store and are moved along when a
 * slot is removed by swap; they are counted in {@link EvictionCache.buffers}, so `bytes` is the
 * real memory held, not only the key/value rows.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { slidingWindowPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(slidingWindowPolicy)
 *   .create({ policy: 'sliding-window', keyDim: 4, valueDim: 4, budget: 8 });
 * ```
 */
export abstract class EvictionCache extends BaseHeadCache {
  /** The kept tokens. */
  protected readonly store: SlotStore;
  /** Per-slot Float64 data the subclass asked for (same length as the store's allocation). */
  protected slotData: Float64Array;
  private readonly usesSlotData: boolean;

  /**
   * @param spec - A validated spec with a budget.
   * @param options - `slotData`: keep one Float64 per slot (score or norm) for the subclass.
   */
  constructor(spec: PolicySpec, options: { slotData?: boolean } = {}) {
    super(spec);
    const b = spec.budget;
    // A fixed budget is a hard slot limit; a ratio budget grows, so the store grows by doubling.
    const maxSlots = typeof b === 'number' ? b : b !== undefined && 'tokens' in b ? b.tokens : Infinity;
    this.store = new SlotStore(spec.keyDim, spec.valueDim, { maxSlots });
    this.usesSlotData = options.slotData ?? false;
    this.slotData = new Float64Array(this.usesSlotData ? this.store.allocated : 0);
  }

  /** Slots held. */
  get stored(): number {
    return this.store.count;
  }

  /** Keys, values, positions and the per-slot policy data. */
  buffers(): readonly ArrayBufferView[] {
    const b: ArrayBufferView[] = [...this.store.buffers()];
    if (this.usesSlotData) b.push(this.slotData);
    return b;
  }

  /**
   * Positions of the kept tokens, in slot order.
   * @returns A fresh copy.
   */
  positions(): Int32Array {
    return this.store.positions();
  }

  /**
   * Capacity once the token at `position` has been appended.
   * @param position - Logical position of the arriving token.
   * @returns Slots allowed after the append.
   */
  protected capacityAfter(position: number): number {
    return budgetCapacity(this.spec.budget, position + 1);
  }

  /**
   * Evicts while at capacity (or drops the arriving token), then stores it.
   * @param key - Validated key.
   * @param value - Validated value.
   * @param position - Its logical position.
   */
  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const cap = this.capacityAfter(position);
    while (this.store.count >= cap) {
      const victim = this.victim(key, position);
      if (victim === DROP_INCOMING) {
        this.onDropped(key, position);
        return;
      }
      this.removeSlot(victim);
    }
    const slot = this.store.push(key, 0, value, 0, position, 0);
    this.syncSlotData();
    this.onStored(slot, key, position);
  }

  /** Grows the per-slot data to the store's allocation (call after pushing to the store). */
  protected syncSlotData(): void {
    if (this.usesSlotData && this.slotData.length < this.store.allocated) {
      const grown = new Float64Array(this.store.allocated);
      grown.set(this.slotData);
      this.slotData = grown;
    }
  }

  /**
   * Exact softmax attention over the kept tokens.
   * @param query - Validated query.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    return this.store.sums(query, this.tau, out);
  }

  /** Forgets every kept token. */
  protected onReset(): void {
    this.store.clear();
  }

  /**
   * Removes a slot by swapping the last slot into it, moving the per-slot data along.
   * @param slot - Slot to remove.
   */
  protected removeSlot(slot: number): void {
    const from = this.store.removeSwap(slot);
    if (this.usesSlotData) this.slotData[slot] = this.slotData[from]!;
    this.onMoved(from, slot);
  }

  /**
   * The slot to evict so the arriving token fits (called only while the store is at capacity).
   * @param key - Key of the arriving token.
   * @param position - Its logical position.
   * @returns A live slot index, or {@link DROP_INCOMING} to keep the cache as it is.
   */
  protected abstract victim(key: Float32Array, position: number): number;

  /**
   * Called after a token was written to `slot` (initialise per-slot data here).
   * @param _slot - The slot.
   * @param _key - Its key.
   * @param _position - Its logical position.
   */
  protected onStored(_slot: number, _key: Float32Array, _position: number): void {}

  /**
   * Called when the arriving token is not kept.
   * @param _key - Its key.
   * @param _position - Its logical position.
   */
  protected onDropped(_key: Float32Array, _position: number): void {}

  /**
   * Called after slot `from` moved into slot `to` (for per-slot data outside `slotData`).
   * @param _from - Old slot index.
   * @param _to - New slot index.
   */
  protected onMoved(_from: number, _to: number): void {}

  /**
   * The live slot with the smallest position among slots whose position is at least `minPosition`.
   * @param minPosition - Positions below are not candidates.
   * @returns The slot, or -1 when there is none.
   */
  protected oldestSlot(minPosition = 0): number {
    const pos = this.store.positionOf;
    let best = -1;
    let bestPos = Infinity;
    for (let i = 0, n = this.store.count; i < n; i++) {
      const p = pos[i]!;
      if (p >= minPosition && p < bestPos) {
        bestPos = p;
        best = i;
      }
    }
    return best;
  }

  /**
   * The live slot with the lowest `slotData` score among slots whose position is at most
   * `maxPosition`; ties go to the oldest token.
   * @param maxPosition - Positions above are protected.
   * @returns The slot, or -1 when there is none.
   */
  protected lowestScoreSlot(maxPosition = Infinity): number {
    const pos = this.store.positionOf;
    const score = this.slotData;
    let best = -1;
    let bestScore = Infinity;
    let bestPos = Infinity;
    for (let i = 0, n = this.store.count; i < n; i++) {
      const p = pos[i]!;
      if (p > maxPosition) continue;
      const sc = score[i]!;
      if (sc < bestScore || (sc === bestScore && p < bestPos)) {
        bestScore = sc;
        bestPos = p;
        best = i;
      }
    }
    return best;
  }
}
