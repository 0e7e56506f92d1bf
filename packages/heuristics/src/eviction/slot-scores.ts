import type { StateArray, StateReader } from '@kv/core';
import type { EvictionSettings } from './params.js';
import type { Scorer, ScoreView } from './scorer.js';
import { criticalScores } from './units.js';

/**
 * The per-slot score arrays of an eviction cache and the ranking of an eviction round: the
 * scorer's columns, the value norms of CriticalKV, the scores of a computed scorer kept between
 * two scorings, and the scratch a round ranks in. Entries move with their slots.
 * @internal
 */
export class SlotScores {
  /** Float32 columns held per slot: the scorer's, plus the value norm with CriticalKV. */
  readonly columnCount: number;
  /** Whether a computed scorer's scores are kept between scorings (and so are state). */
  readonly persistent: boolean;
  /** Attention probabilities of the last answered query, for scorers that read them. */
  probs: Float64Array;
  private columns: Float32Array[];
  private cached: Float32Array;
  private scratch: Float32Array;
  private sortScratch = new Float32Array(0);
  // The scores of the current round and the round they belong to.
  private rank: Float32Array | null = null;
  private rankEpoch = -1;
  /** Clock of the last scoring of a computed scorer (−1: never). */
  lastScored = -1;

  /**
   * @param scorer - The importance rule.
   * @param settings - The shared eviction settings (`every`, `everyRatio`, `critical`, `firstStage`).
   * @param slots - Slots allocated.
   */
  constructor(
    private readonly scorer: Scorer,
    private readonly settings: EvictionSettings,
    slots: number,
  ) {
    this.columnCount = scorer.columns + (settings.critical ? 1 : 0);
    this.persistent = !scorer.live && !scorer.byAge && (settings.every > 1 || settings.everyRatio > 0);
    this.columns = Array.from({ length: this.columnCount }, () => new Float32Array(slots));
    this.cached = new Float32Array(slots);
    this.scratch = new Float32Array(slots);
    this.probs = new Float64Array(scorer.probs ? slots : 0);
  }

  /** Bytes held per slot. */
  get perRowBytes(): number {
    return 4 * (this.columnCount + (this.persistent ? 1 : 0));
  }

  /**
   * A column, indexed by slot.
   * @param index - Column index.
   * @returns The column.
   */
  column(index: number): Float32Array {
    return this.columns[index]!;
  }

  /**
   * Steps between two scorings of a computed scorer at a capacity: `every`, or `everyRatio` of the
   * capacity (so a scoring that costs O(rows) or more costs a bounded amount per token).
   * @param capacity - Rows the cache may hold.
   * @returns The interval (≥ 1).
   */
  interval(capacity: number): number {
    return this.settings.everyRatio > 0 ? Math.max(1, Math.round(this.settings.everyRatio * capacity)) : this.settings.every;
  }

  /** Grows the arrays to `slots` (after a push or a load). */
  grow(slots: number): void {
    if (this.scratch.length >= slots) return;
    const grow = (a: Float32Array): Float32Array => {
      const b = new Float32Array(slots);
      b.set(a);
      return b;
    };
    this.columns = this.columns.map(grow);
    this.cached = grow(this.cached);
    this.scratch = new Float32Array(slots);
    this.rank = null;
    if (this.scorer.probs) this.probs = new Float64Array(slots);
  }

  /**
   * A token was stored in `slot`: a computed scorer has not scored it yet (kept until it does),
   * and CriticalKV records its value norm.
   * @param slot - The slot.
   * @param value - Its value.
   */
  stored(slot: number, value: Float32Array): void {
    if (!this.scorer.live) this.cached[slot] = Infinity;
    if (this.settings.critical) {
      let s = 0;
      for (let j = 0; j < value.length; j++) s += value[j]! * value[j]!;
      this.columns[this.columnCount - 1]![slot] = Math.sqrt(s);
    }
  }

  /**
   * Slot `from` moved into `slot` (its entries follow it).
   * @param slot - The slot it moved into.
   * @param from - The slot it left.
   */
  move(slot: number, from: number): void {
    for (const col of this.columns) col[slot] = col[from]!;
    this.cached[slot] = this.cached[from]!;
    const rank = this.rank;
    if (rank !== null && rank !== this.cached && !this.columns.includes(rank)) rank[slot] = rank[from]!;
  }

  /**
   * The scores of an eviction round (computed once per round; null for an age scorer): a live
   * scorer's columns, or a computed scorer's scores (rescored once its interval has passed),
   * then CriticalKV's weighting.
   * @param epoch - The round.
   * @param view - The cache.
   * @param capacity - Rows the cache may hold once the arriving token is in.
   * @returns A score per live slot, or null.
   */
  ranking(epoch: number, view: ScoreView, capacity: number): Float32Array | null {
    if (this.scorer.byAge) return null;
    if (this.rankEpoch === epoch && this.rank !== null) return this.rank;
    this.rankEpoch = epoch;
    let raw: Float32Array;
    if (this.scorer.live) raw = this.scorer.score(view, this.scratch);
    else {
      if (!this.persistent || this.lastScored < 0 || view.seen - this.lastScored >= this.interval(capacity)) {
        const got = this.scorer.score(view, this.cached);
        if (got !== this.cached) this.cached.set(got.subarray(0, view.count));
        this.lastScored = view.seen;
      }
      raw = this.cached;
    }
    if (this.settings.critical) {
      const n = view.count;
      if (this.sortScratch.length < n) this.sortScratch = new Float32Array(this.scratch.length);
      const keep = Math.min(n, Math.floor(this.settings.firstStage * capacity));
      this.rank = criticalScores(raw, this.columns[this.columnCount - 1]!, n, keep, this.scratch, this.sortScratch);
    } else this.rank = raw;
    return this.rank;
  }

  /**
   * Adds the arrays of the live slots to a state.
   * @param n - Live slots.
   * @param arrays - The state's arrays.
   */
  save(n: number, arrays: Record<string, StateArray>): void {
    for (let c = 0; c < this.columnCount; c++) arrays[`column${c}`] = this.columns[c]!.subarray(0, n);
    if (this.persistent) arrays['scores'] = this.cached.subarray(0, n);
  }

  /**
   * Reads the arrays of {@link SlotScores.save} (after {@link SlotScores.grow}).
   * @param r - The state.
   * @param n - Live slots.
   * @param lastScored - The clock of the last scoring.
   */
  load(r: StateReader, n: number, lastScored: number): void {
    for (let c = 0; c < this.columnCount; c++) this.columns[c]!.set(r.array(`column${c}`, Float32Array, n));
    if (this.persistent) this.cached.set(r.array('scores', Float32Array, n));
    this.lastScored = lastScored;
    this.rank = null;
    this.rankEpoch = -1;
  }

  /** Forgets the ranking and the last scoring. */
  reset(): void {
    this.lastScored = -1;
    this.rank = null;
    this.rankEpoch = -1;
  }
}
