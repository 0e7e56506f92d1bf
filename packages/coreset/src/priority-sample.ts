import { type CacheState, type KernelSums, type Precision, Rng, SlotStore, type StateReader } from '@kv/core';

/**
 * A sample of a stream under a capacity that may change as the stream grows (bottom-k, or
 * priority, sampling): the row at position p has a rate a(p) (fixed by its position), draws
 * u ~ U(0, 1) and gets the priority r = u/a(p); the rows of smallest priority are kept, and when
 * the rows exceed the capacity the one of largest priority leaves and the threshold T drops to its
 * priority. A kept row was kept with probability π = min(1, a(p)·T) and stands for 1/π rows (its
 * logit bias −ln π). With equal rates it is a uniform sample (a reservoir, for a fixed capacity).
 *
 * @remarks
 * - Unbiased for any capacity schedule and rates that do not depend on the draws (a budget that
 *   depends on the tokens seen): condition on the other rows' priorities; row i is kept iff
 *   r_i < T₋ᵢ, a threshold fixed by the others, and then T = T₋ᵢ, so E[1{kept}/π] = 1 (the
 *   argument of Duffield, Lund, Thorup, "Priority sampling for estimation of arbitrary subset
 *   sums", J. ACM 2007, applied at every step).
 * - With one rate the threshold only falls, so a growing budget would stay at the sampling rate
 *   of its tightest moment; {@link samplingRates} gives rates that fill it.
 * - Holds each row's priority and log-weight (8 bytes) besides the row.
 * @example
 * ```ts
 * import { createKernelSums } from '@kv/core';
 * import { PrioritySample } from '@kv/coreset';
 * const sample = new PrioritySample(2, 1, 7);
 * for (let t = 0; t < 100; t++) sample.offer(new Float32Array([1, 0]), new Float32Array([1]), t, 10);
 * sample.count; // 10
 * sample.sums(new Float32Array([1, 0]), 1, createKernelSums(1)); // Z ≈ 100·e
 * ```
 */
export class PrioritySample {
  /** The kept rows, with their log-weights −ln π. */
  readonly store: SlotStore;
  private priorities: Float32Array;
  private threshold = Infinity;
  private offered = 0;
  private stale = false;
  private readonly seed: number;
  private rng: Rng;
  private readonly rate: (position: number) => number;
  /** Told when a slot gets a new row (`moved` when the last slot moves into a freed one). */
  observer: {
    /** Slot `slot` now holds a new row. */
    written(slot: number): void;
    /** The row of slot `from` moved into slot `to`. */
    moved(from: number, to: number): void;
  } | null = null;

  /**
   * @param d - Key dimension.
   * @param s - Value dimension.
   * @param seed - Seed of the priorities.
   * @param maxRows - Most rows ever held (default unbounded: grows by doubling).
   * @param rate - Rate of the row at a position, in (0, 1] (default 1: uniform).
   * @param precision - Storage precision of the rows (default float32).
    * @throws `InvalidParamsError` (from `@kv/core`) for a precision the store cannot hold.
   */
  constructor(d: number, s: number, seed: number, maxRows = Infinity, rate: (position: number) => number = () => 1, precision?: Precision) {
    this.store = new SlotStore(d, s, { weighted: true, maxSlots: maxRows, initialSlots: Math.min(16, maxRows), seed, ...(precision === undefined ? {} : { precision }) });
    this.priorities = new Float32Array(Math.min(16, maxRows));
    this.seed = seed;
    this.rng = new Rng(seed);
    this.rate = rate;
  }

  /** Rows held. */
  get count(): number {
    return this.store.count;
  }

  /** Rows offered so far. */
  get offeredCount(): number {
    return this.offered;
  }

  /** Bytes of one kept row: the row (with its log-weight) and its priority. */
  get rowBytes(): number {
    return this.store.perRowBytes + 4;
  }

  /** Bytes held. */
  get heldBytes(): number {
    return this.store.heldBytes + 4 * this.store.count;
  }

  /** The priority threshold T (Infinity until a row was evicted): a row of rate a was kept with probability min(1, a·T). */
  get priorityThreshold(): number {
    return this.threshold;
  }

  /**
   * Offers a row; afterwards at most `capacity` rows are held.
   * @param key - Key storage.
   * @param value - Value storage.
   * @param position - Logical position (fixes the row's rate).
   * @param capacity - Rows allowed now (≥ 0).
    * @throws `InvalidInputError` or `UnsupportedError` (from `@kv/core`) when the row store cannot encode or evict the row.
   */
  offer(key: Float32Array, value: Float32Array, position: number, capacity: number): void {
    this.offered++;
    const r = Math.fround(this.rng.uniform() / this.rate(position));
    if (!(r < this.threshold)) return;
    this.shrinkTo(capacity);
    const store = this.store;
    const pr = this.priorities;
    if (store.count >= capacity) {
      // Full: the largest of the kept priorities and r leaves, and T drops to it.
      let top = -1;
      for (let i = 0; i < store.count; i++) if (top < 0 || pr[i]! > pr[top]!) top = i;
      if (top < 0 || r >= pr[top]!) {
        this.lower(r);
        return;
      }
      this.lower(pr[top]!);
      store.write(top, key, 0, value, 0, position, this.weightAt(position));
      pr[top] = r;
      this.observer?.written(top);
      return;
    }
    const slot = store.push(key, 0, value, 0, position, this.weightAt(position));
    if (slot >= pr.length) {
      const grown = new Float32Array(Math.max(slot + 1, pr.length * 2));
      grown.set(pr);
      this.priorities = grown;
    }
    this.priorities[slot] = r;
    this.observer?.written(slot);
  }

  /**
   * Evicts the rows of largest priority until at most `capacity` remain (T follows).
   * @param capacity - Rows allowed.
    * @throws `UnsupportedError` (from `@kv/core`) when the row store cannot evict out of order.
   */
  shrinkTo(capacity: number): void {
    const store = this.store;
    const pr = this.priorities;
    while (store.count > capacity) {
      let top = 0;
      for (let i = 1; i < store.count; i++) if (pr[i]! > pr[top]!) top = i;
      this.lower(pr[top]!);
      const last = store.removeSwap(top);
      pr[top] = pr[last]!;
      if (last !== top) this.observer?.moved(last, top);
    }
  }

  /**
   * Kernel sums of the kept rows, each weighted by 1/π: unbiased for the sums of every row offered.
   * @param query - Query.
   * @param tau - Logit scale.
   * @param out - Receives the sums (m = −∞ when empty).
   * @returns `out`.
   */
  sums(query: Float32Array, tau: number, out: KernelSums): KernelSums {
    if (this.stale) this.refresh();
    return this.store.sums(query, tau, out);
  }

  /**
   * A row's current log-weight −ln π, for callers that evaluate the rows themselves.
   * @param slot - Slot index (< count).
   * @returns The log-weight.
   */
  logWeight(slot: number): number {
    if (this.stale) this.refresh();
    return this.store.logWeight(slot);
  }

  /** Forgets every row and restarts the priorities from the seed. */
  clear(): void {
    this.store.clear();
    this.threshold = Infinity;
    this.offered = 0;
    this.stale = false;
    this.rng = new Rng(this.seed);
  }

  /**
   * Rows, priorities, threshold and generator state.
   * @returns The state.
   */
  state(): CacheState {
    if (this.stale) this.refresh();
    return {
      scalars: { threshold: this.threshold, offered: this.offered, rng: this.rng.getState() },
      arrays: { priorities: this.priorities.subarray(0, this.store.count) },
      parts: { rows: this.store.state() },
    };
  }

  /**
   * Loads a state of a sample of the same shape.
   * @param r - A reader of the state.
   * @throws `SnapshotError` when it does not fit.
   */
  loadState(r: StateReader): void {
    const threshold = r.number('threshold');
    if (!(threshold > 0)) r.refuse(`threshold ${threshold} is not positive`);
    const offered = r.integer('offered', 0, 2 ** 53);
    const rng = r.numbers('rng', 6);
    const rows = r.part('rows');
    const n = rows.integer('count', 0, Math.min(offered, this.store.maxSlots));
    const pr = r.array('priorities', Float32Array, n);
    for (const u of pr) if (!(u >= 0 && u < threshold)) r.refuse(`priority ${u} is not below the threshold ${threshold}`);
    const gen = new Rng(0);
    gen.setState(rng);
    this.store.loadState(rows);
    if (this.priorities.length < n) this.priorities = new Float32Array(n);
    this.priorities.set(pr);
    this.threshold = threshold;
    this.offered = offered;
    this.rng = gen;
    this.refresh();
  }

  private lower(threshold: number): void {
    if (threshold < this.threshold) {
      this.threshold = threshold;
      this.stale = true;
    }
  }

  // −ln π of a row at `position` under the current threshold.
  private weightAt(position: number): number {
    const p = this.rate(position) * this.threshold;
    return p >= 1 ? 0 : -Math.log(p);
  }

  // The threshold moved: every row's bias −ln π is recomputed (the store's per-slot log-weights).
  private refresh(): void {
    this.stale = false;
    const store = this.store;
    const pos = store.positionOf;
    for (let i = 0; i < store.count; i++) store.setLogWeight(i, this.weightAt(pos[i]!));
  }
}
