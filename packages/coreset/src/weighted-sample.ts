import { type CacheState, type KernelSums, Rng, SlotStore, type StateReader } from '@kv/core';

/**
 * A weighted sample without replacement of a stream under a capacity that may change as the
 * stream grows (priority sampling): a row of weight w > 0 draws u ~ U(0, 1] and gets the priority
 * w/u; the rows of largest priority are kept, and the threshold τ is the largest priority evicted
 * so far. A kept row stands for max(w, τ)/w rows (its logit bias), so heavy rows count once and
 * light ones are up-weighted.
 *
 * @remarks
 * Unbiased for any capacity schedule that does not depend on the draws (Duffield, Lund, Thorup,
 * "Priority sampling for estimation of arbitrary subset sums", J. ACM 2007): given the other rows,
 * row i is kept iff w_i/u_i > τ₋ᵢ, with probability min(1, w_i/τ₋ᵢ), and then τ = τ₋ᵢ. Holds each
 * row's weight, priority and log-weight (12 bytes) besides the row.
 * @example
 * ```ts
 * import { createKernelSums } from '@kv/core';
 * import { WeightedSample } from '@kv/coreset';
 * const sample = new WeightedSample(2, 1, 3);
 * for (let t = 0; t < 50; t++) sample.offer(new Float32Array([1, 0]), new Float32Array([1]), 1 + (t % 3), 8);
 * sample.sums(new Float32Array([1, 0]), 1, createKernelSums(1));
 * ```
 */
export class WeightedSample {
  /** The kept rows, with their log-weights ln(max(w, τ)/w). */
  readonly store: SlotStore;
  private weights: Float32Array;
  private priorities: Float32Array;
  private threshold = 0;
  private stale = false;
  private readonly seed: number;
  private rng: Rng;

  /**
   * @param d - Key dimension.
   * @param s - Value dimension.
   * @param seed - Seed of the draws.
   * @param maxRows - Most rows ever held (default unbounded: storage grows by doubling).
    * @throws `InvalidParamsError` (from `@kv/core`) for a bad slot limit.
   */
  constructor(d: number, s: number, seed: number, maxRows = Infinity) {
    this.store = new SlotStore(d, s, { weighted: true, positions: false, maxSlots: maxRows, initialSlots: Math.min(16, maxRows) });
    this.weights = new Float32Array(16);
    this.priorities = new Float32Array(16);
    this.seed = seed;
    this.rng = new Rng(seed);
  }

  /** Rows held. */
  get count(): number {
    return this.store.count;
  }

  /** Bytes of one kept row (row, log-weight, weight, priority). */
  get rowBytes(): number {
    return this.store.perRowBytes + 8;
  }

  /** Bytes held. */
  get heldBytes(): number {
    return this.store.heldBytes + 8 * this.store.count;
  }

  /** The threshold τ (0 until a row is evicted). */
  get inclusion(): number {
    return this.threshold;
  }

  /**
   * Offers a row of weight `weight`; afterwards at most `capacity` rows are held.
   * @param key - Key.
   * @param value - Value.
   * @param weight - Its weight (rows of weight ≤ 0 are skipped).
   * @param capacity - Rows allowed now (≥ 0).
    * @throws `InvalidInputError` or `UnsupportedError` (from `@kv/core`) when the row store cannot encode or evict the row.
   */
  offer(key: Float32Array, value: Float32Array, weight: number, capacity: number): void {
    const w = Math.fround(weight);
    if (!(w > 0)) return;
    const q = Math.fround(w / (1 - this.rng.uniform()));
    if (!(q > this.threshold)) return;
    this.shrinkTo(capacity);
    const store = this.store;
    if (store.count >= capacity) {
      // Full: the smallest of the kept priorities and q leaves, and τ rises to it.
      let low = -1;
      for (let i = 0; i < store.count; i++) if (low < 0 || this.priorities[i]! < this.priorities[low]!) low = i;
      if (low < 0 || q <= this.priorities[low]!) {
        this.raise(q);
        return;
      }
      this.raise(this.priorities[low]!);
      store.write(low, key, 0, value, 0, 0, w < this.threshold ? Math.log(this.threshold / w) : 0);
      this.weights[low] = w;
      this.priorities[low] = q;
      return;
    }
    const slot = store.push(key, 0, value, 0, 0, w < this.threshold ? Math.log(this.threshold / w) : 0);
    if (slot >= this.weights.length) {
      const n = Math.max(slot + 1, 2 * this.weights.length);
      const w2 = new Float32Array(n);
      w2.set(this.weights);
      const p2 = new Float32Array(n);
      p2.set(this.priorities);
      this.weights = w2;
      this.priorities = p2;
    }
    this.weights[slot] = w;
    this.priorities[slot] = q;
  }

  private raise(threshold: number): void {
    if (threshold > this.threshold) {
      this.threshold = threshold;
      this.stale = true;
    }
  }

  /**
   * Evicts the rows of smallest priority until at most `capacity` remain (τ follows).
   * @param capacity - Rows allowed.
    * @throws `UnsupportedError` (from `@kv/core`) when the row store cannot evict out of order.
   */
  shrinkTo(capacity: number): void {
    const store = this.store;
    const pr = this.priorities;
    while (store.count > capacity) {
      let low = 0;
      for (let i = 1; i < store.count; i++) if (pr[i]! < pr[low]!) low = i;
      this.raise(pr[low]!);
      const last = store.removeSwap(low);
      pr[low] = pr[last]!;
      this.weights[low] = this.weights[last]!;
    }
  }

  /**
   * Σ over kept rows of (max(w, τ)/w)·e^{<q,k>τ}·[1, v]: unbiased for Σ over all rows offered.
   * @param query - Query.
   * @param tau - Logit scale.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  sums(query: Float32Array, tau: number, out: KernelSums): KernelSums {
    if (this.stale) this.refresh();
    return this.store.sums(query, tau, out);
  }

  /**
   * Largest logit τ·<q, k> over the kept rows (−∞ when empty): a lower bound on ln Z of the stream.
   * @param query - Query.
   * @param tau - Logit scale.
   * @returns The largest logit.
   */
  maxLogit(query: Float32Array, tau: number): number {
    let top = -Infinity;
    for (let i = 0; i < this.store.count; i++) top = Math.max(top, tau * this.store.keyDot(i, query));
    return top;
  }

  /** Forgets every row and restarts the draws from the seed. */
  clear(): void {
    this.store.clear();
    this.threshold = 0;
    this.stale = false;
    this.rng = new Rng(this.seed);
  }

  /**
   * Rows, weights, priorities, threshold and generator state.
   * @returns The state.
   */
  state(): CacheState {
    if (this.stale) this.refresh();
    const n = this.store.count;
    return {
      scalars: { threshold: this.threshold, rng: this.rng.getState() },
      arrays: { weights: this.weights.subarray(0, n), priorities: this.priorities.subarray(0, n) },
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
    if (!(threshold >= 0 && Number.isFinite(threshold))) r.refuse(`threshold ${threshold} is not a finite number >= 0`);
    const gen = new Rng(0);
    gen.setState(r.numbers('rng', 6));
    const rows = r.part('rows');
    const n = rows.integer('count', 0, 2 ** 31 - 1);
    const w = r.array('weights', Float32Array, n);
    const p = r.array('priorities', Float32Array, n);
    for (let i = 0; i < n; i++) if (!(w[i]! > 0 && p[i]! > threshold)) r.refuse(`row ${i} has weight ${w[i]} and priority ${p[i]} (threshold ${threshold})`);
    this.store.loadState(rows);
    if (this.weights.length < n) {
      this.weights = new Float32Array(n);
      this.priorities = new Float32Array(n);
    }
    this.weights.set(w);
    this.priorities.set(p);
    this.threshold = threshold;
    this.rng = gen;
    this.refresh();
  }

  // The threshold moved: every row's bias ln(max(w, τ)/w) is recomputed (rare: only on evictions
  // that raise τ). The biases are the store's per-slot log-weights.
  private refresh(): void {
    const t = this.threshold;
    for (let i = 0; i < this.store.count; i++) {
      const w = this.weights[i]!;
      this.store.setLogWeight(i, w < t ? Math.log(t / w) : 0);
    }
    this.stale = false;
  }
}
