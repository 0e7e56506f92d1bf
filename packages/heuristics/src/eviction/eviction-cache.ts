import {
  BaseHeadCache,
  type Budget,
  budgetBytes,
  type ByteCost,
  capacityRows,
  floorBytes,
  type CacheState,
  InvalidParamsError,
  type KernelSums,
  maxRows,
  type PolicySpec,
  type SlotStore,
  type StateArray,
  type StateReader,
} from '@kv/core';
import { type EvictionDefaults, type EvictionSettings, evictionSettings } from './params.js';
import { type HeadPool, type PoolMember, poolFor } from './pool.js';
import { checkEncodable, fitPrecision } from './precision-fit.js';
import type { Scorer, ScoreView } from './scorer.js';
import { SlotScores } from './slot-scores.js';
import { type ChunkScratch, lowestChunk } from './units.js';

/**
 * The shared eviction machinery: tokens live in a {@link SlotStore}; a {@link Scorer} says which
 * matter; the cache decides when and how many to evict so that it never holds more than its
 * budget (evict before insert), protecting the first `sinks` positions and the `recent` newest.
 *
 * @remarks
 * Budgets go through core's resolver with this cache's {@link ByteCost}: per row the store's
 * bytes (key, value, position) plus 4 bytes per Float32 score column; fixed, the scorer's
 * statistics. A budget too small for the sinks and the recent window shrinks them (sinks to
 * capacity − 1, then the window to what is left), so a budget of a handful of tokens works; a
 * budget that holds no row yet drops the arriving token.
 *
 * Shared parameters (every policy built on it accepts them, see {@link evictionParams}):
 * - `sinks`, `recent` / `recentRatio`: protected positions;
 * - `every` / `everyRatio`: a computed scorer rescores at most every `every` steps (or every
 *   `everyRatio` · capacity steps); tokens stored in between are unscored (kept) until the next
 *   scoring;
 * - `buffer`: when full, evict down to capacity − 1 − buffer at once (kvpress `DecodingPress`
 *   compresses every `buffer + 1` steps);
 * - `chunk`: evict whole chunks of `chunk` consecutive positions by their mean score (ChunkKV);
 * - `critical`: CriticalKV, scores weighted by the value norm after the top `firstStage` of the
 *   capacity is kept by raw score;
 * - `pool`: AdaKV, the heads of a layer share one budget (see {@link HeadPool}).
 * Prefill appends token by token, so it is compressed chunk by chunk as it streams (ChunkPress);
 * observation queries are shown to scorers that keep query statistics.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { slidingWindowPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(slidingWindowPolicy)
 *   .create({ policy: 'sliding-window', keyDim: 4, valueDim: 4, budget: 8 });
 * ```
 */
export class EvictionCache extends BaseHeadCache implements PoolMember {
  /** The kept tokens. */
  protected readonly store: SlotStore;
  /** The importance rule. */
  readonly scorer: Scorer;
  /** The budget the cache holds to. */
  readonly budget: Budget | undefined;
  /**
   * The shared eviction settings.
   * @internal
   */
  readonly settings: EvictionSettings;
  /** Head index within its pool (0 without one). */
  readonly poolIndex: number;
  private readonly pool: HeadPool | null;
  private readonly slotScores: SlotScores;
  private ownEpoch = 0;
  private cost: ByteCost | null = null;
  private evictedCount = 0;
  private droppedCount = 0;
  private readonly chunkScratch: ChunkScratch = { sum: new Float64Array(0), count: new Int32Array(0), score: Infinity };
  private readonly view: ScoreView;
  /** Score of the last unit found by {@link EvictionCache.findLowest}. */
  lowScore = Infinity;
  /** Oldest position of the last unit found. */
  lowPosition = Infinity;
  private lowUnit = -1;
  private placing = -1;
  // Whether the precision was cut down to fit the budget.
  private readonly precisionCut: boolean;

  /**
   * @param spec - A validated spec; the shared parameters are read from `spec.params`.
   * @param scorer - The importance rule.
   * @param defaults - The policy's defaults for the shared parameters.
   * @param budget - The budget this cache holds to (default `spec.budget`; PyramidKV passes its
   *   layer's share of the average in the spec).
   * @throws `InvalidParamsError` on a bad shared parameter, `critical` with a scorer
   *   whose scores are not attention masses, or channel-wise key groups with as many sinks as a group.
   */
  constructor(spec: PolicySpec, scorer: Scorer, defaults: EvictionDefaults = {}, budget: Budget | undefined = spec.budget) {
    super(spec);
    this.budget = budget;
    this.scorer = scorer;
    this.settings = evictionSettings(spec, defaults);
    if (this.settings.critical && !scorer.nonNegative) {
      throw new InvalidParamsError(`critical weighting needs attention-mass scores; ${scorer.name} scores are signed`);
    }
    if (this.settings.critical && scorer.byAge) throw new InvalidParamsError(`critical weighting needs scores; ${scorer.name} evicts by age`);
    const pool = this.settings.pool;
    // Oldest-first eviction lets the store quantize keys per channel over groups of tokens (KIVI).
    const fifo = scorer.byAge === true && pool === null && this.settings.chunk === 1;
    const { store, cut } = fitPrecision(spec, budget, this.settings.precision, fifo);
    this.store = store;
    this.precisionCut = cut;
    // Channel-wise key groups evict oldest-first after a prefix of fewer than G kept rows.
    if (store.precision.keyGroups === 'channel' && this.settings.sinks >= store.precision.group) {
      throw new InvalidParamsError(`${spec.policy}: precision keyGroups 'channel' keeps fewer sinks than its group (${store.precision.group}), got ${this.settings.sinks}`);
    }
    this.slotScores = new SlotScores(scorer, this.settings, 0);
    this.cost = { fixed: this.store.fixedBytes + scorer.fixedBytes(), perRow: this.store.perRowBytes + this.slotScores.perRowBytes };
    if (this.affordsStatistics(floorBytes(budget, spec.keyDim, spec.valueDim))) this.activateScorer();
    // Allocation never goes past what the budget allows (the limit follows a growing budget).
    const own = maxRows(budget, this.cost, spec.keyDim, spec.valueDim);
    this.store.limit = Number.isFinite(own) ? (pool ? own * pool.heads : own) : Math.max(1, this.capacityAt(1));
    this.slotScores.grow(this.store.allocated);
    const self = this;
    this.view = {
      get store() {
        return self.store;
      },
      get count() {
        return self.store.count;
      },
      get seen() {
        return self.clock;
      },
      get tau() {
        return self.tau;
      },
      get keyDim() {
        return self.keyDim;
      },
      get valueDim() {
        return self.valueDim;
      },
      column(index: number): Float32Array {
        return self.slotScores.column(index);
      },
    };
    this.poolIndex = pool ? pool.head : 0;
    if (pool) {
      const key = JSON.stringify([pool.layer, spec.policy, spec.keyDim, spec.valueDim, spec.budget ?? null]);
      this.pool = poolFor(key, pool);
      this.pool.join(this);
    } else {
      this.pool = null;
    }
  }

  /**
   * Row capacity once `seen` tokens are seen, under {@link EvictionCache.budget}.
   * @param seen - Tokens seen.
   * @returns The rows.
   */
  protected override capacityAt(seen: number): number {
    return capacityRows(this.budget, seen, this.cost!, this.keyDim, this.valueDim);
  }

  /**
   * Tokens seen as far as eviction is concerned: while a token is being placed (also inside a
   * prefill, before `seen` is advanced), its position.
   */
  get clock(): number {
    return this.placing >= 0 ? this.placing : this.seen;
  }

  protected override budgetBytesAt(seen: number): number {
    return budgetBytes(this.budget, seen, this.keyDim, this.valueDim);
  }

  /** Slots held. */
  get stored(): number {
    return this.store.count;
  }

  /** Rows this head may hold now (its budget's, or its share of the pool's). */
  override get capacity(): number {
    return this.pool ? this.pool.capacityOf(this) : this.capacityAt(this.seen);
  }

  /**
   * Rows this head's own budget allows after `seen` tokens.
   * @param seen - Tokens seen.
   * @returns The rows.
   */
  ownCapacity(seen: number): number {
    return this.capacityAt(seen);
  }

  /** Rows (keys, values, positions, at the store's precision), score columns and scorer statistics. */
  override get bytes(): number {
    return this.store.heldBytes + this.store.count * this.slotScores.perRowBytes + this.scorer.fixedBytes();
  }

  protected override byteCost(): ByteCost {
    return this.cost!;
  }

  /**
   * Positions of the kept tokens, in slot order.
   * @returns A fresh copy.
   */
  positions(): Int32Array {
    return this.store.positions();
  }

  /**
   * The kept rows decoded to float32, in slot order (see `HeadCache.keptRows` in `@kv/core`).
   * @throws `InvalidInputError` (from `@kv/core`) for a range outside the kept rows or destinations too short.
   */
  keptRows(keys: Float32Array, values: Float32Array, start?: number, end?: number): number {
    return this.store.keptRows(keys, values, start, end);
  }

  protected saveState(): CacheState {
    const n = this.store.count;
    const arrays: Record<string, StateArray> = {};
    this.slotScores.save(n, arrays);
    const parts: Record<string, CacheState> = { store: this.store.state() };
    const scorer = this.scorer.save?.();
    if (scorer) parts['scorer'] = scorer;
    return { scalars: { evicted: this.evictedCount, dropped: this.droppedCount, lastScored: this.slotScores.lastScored }, arrays, parts };
  }

  protected restoreState(r: StateReader): void {
    const evicted = r.integer('evicted', 0, Number.MAX_SAFE_INTEGER);
    const dropped = r.integer('dropped', 0, Number.MAX_SAFE_INTEGER);
    const lastScored = r.integer('lastScored', -1, 2 ** 31 - 1);
    const seen = r.integer('seen', 0, 2 ** 31 - 1);
    const limit = this.store.limit;
    this.store.limit = Infinity;
    this.store.loadState(r.part('store'));
    const n = this.store.count;
    this.store.limit = Math.max(n, limit, this.pool ? 0 : this.capacityAt(seen));
    this.slotScores.grow(this.store.allocated);
    this.slotScores.load(r, n, lastScored);
    if (this.scorer.load) this.scorer.load(r.part('scorer'));
    this.updateFixed();
    this.evictedCount = evicted;
    this.droppedCount = dropped;
  }

  protected override describeSummary(): string {
    const s = this.settings;
    const protect = [s.sinks > 0 ? `${s.sinks} sinks` : '', this.recentAt(this.capacityAt(this.seen)) > 0 ? `${this.recentAt(this.capacityAt(this.seen))} recent` : '']
      .filter(Boolean)
      .join(' + ');
    const precision = this.store.precisionLabel === 'f32' ? '' : ` at ${this.store.precisionLabel}${this.precisionCut ? ' (cut to fit the budget)' : ''}`;
    return `${this.spec.policy}: ${this.store.count} rows${precision} by ${this.scorer.name}${protect ? ` (${protect} protected)` : ''}${this.pool ? `, sharing a ${this.pool.size}-head pool` : ''}`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    const s = this.settings;
    const cap = this.capacityAt(this.seen);
    return {
      scorer: this.scorer.name,
      sinks: this.sinksAt(cap),
      recent: this.recentAt(cap),
      every: this.slotScores.interval(cap),
      buffer: s.buffer,
      chunk: s.chunk,
      critical: s.critical,
      precision: this.store.precisionLabel,
      ...(this.precisionCut ? { precisionCut: true } : {}),
      pooled: this.pool !== null,
      ...(this.pool ? { poolHeads: this.pool.size, poolShare: cap } : {}),
      evicted: this.evictedCount,
      dropped: this.droppedCount,
      ...this.scorer.describe?.(),
    };
  }

  /** Sinks protected at a capacity: never more than capacity − 1 (one row is left for new tokens). */
  private sinksAt(cap: number): number {
    return Math.min(this.settings.sinks, Math.max(0, cap - 1));
  }

  /** Recent tokens protected at a capacity (the arriving one included), within what sinks leave. */
  private recentAt(cap: number): number {
    const r = this.settings.recent ?? Math.round(this.settings.recentRatio * cap);
    return Math.min(r, Math.max(0, cap - this.sinksAt(cap)));
  }

  /**
   * Evicts as the budget requires, then stores the token (or drops it when it scores lowest or
   * no row fits yet).
   * @param key - Validated key.
   * @param value - Validated value.
   * @param position - Its logical position.
   */
  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    this.placing = position;
    try {
      this.place(key, value, position);
    } finally {
      this.placing = -1;
    }
  }

  // Deferred statistics start once the budget holds them and at least as many bytes of rows (at
  // least one row): they never take more than half of it, and the cache never has to drop every
  // row it holds to make room for them.
  private affordsStatistics(bytes: number): boolean {
    const scorer = this.scorer;
    if (!scorer.activate || scorer.fixedBytes() > 0) return false;
    const stats = scorer.deferredBytes!();
    return bytes >= this.store.fixedBytes + stats + Math.max(stats, this.cost!.perRow);
  }

  private activateScorer(): void {
    this.scorer.activate!();
    this.updateFixed();
  }

  private updateFixed(): void {
    this.cost = { fixed: this.store.fixedBytes + this.scorer.fixedBytes(), perRow: this.cost!.perRow };
  }

  private place(key: Float32Array, value: Float32Array, position: number): void {
    if (this.affordsStatistics(this.budgetBytesAt(position + 1))) this.activateScorer();
    checkEncodable(this.store, this.spec.policy, key, value);
    if (!this.makeRoom(key, value, position)) {
      this.droppedCount++;
      return;
    }
    this.raiseLimit(position);
    const slot = this.store.push(key, 0, value, 0, position, 0);
    this.slotScores.grow(this.store.allocated);
    this.slotScores.stored(slot, value);
    this.scorer.stored?.(this.view, slot, key, value, position);
  }

  // The store allocates up to the rows the budget allows once this token is in.
  private raiseLimit(position: number): void {
    const pool = this.pool;
    const rows = pool ? pool.capacity(this) - (pool.held() - this.store.count) : this.capacityAt(position + 1);
    if (rows > this.store.limit) this.store.limit = rows;
  }

  // Whether the arriving token is to be stored; evicts what the budget requires first.
  private makeRoom(key: Float32Array, value: Float32Array, position: number): boolean {
    const pool = this.pool;
    const cap = pool ? pool.capacity(this) : this.capacityAt(position + 1);
    let held = pool ? pool.held() : this.store.count;
    if (held < cap) return true;
    const epoch = pool ? pool.nextRound() : ++this.ownEpoch;
    if (cap > 0 && this.scorer.incoming && this.settings.chunk === 1 && this.recentAt(this.capacityAt(position + 1)) === 0) {
      const x = this.scorer.incoming(this.view, key, value, position);
      const low = this.lowestOf(epoch);
      // Ties evict the oldest, and the arriving token is the newest.
      if (low === null || x < low.lowScore) return false;
    }
    // A budget that holds no row now (statistics just took their share) empties the cache.
    const target = Math.max(0, cap - 1 - this.settings.buffer * (pool ? pool.size : 1));
    while (held > target) {
      const low = this.lowestOf(epoch);
      if (low === null) break;
      const before = low.stored;
      low.evictLowest();
      held -= before - low.stored;
    }
    // Protection never covers a full cache (sinks + recent − 1 < capacity), so this holds.
    return cap > 0 && held <= cap - 1;
  }

  // The member (this cache, or a head of its pool) holding the lowest-scored candidate.
  private lowestOf(epoch: number): PoolMember | null {
    if (this.pool) return this.pool.lowest(epoch);
    return this.findLowest(epoch) ? this : null;
  }

  /**
   * Finds the lowest-scored eviction unit (a token, or a chunk with `chunk` > 1) among the
   * candidates (not a sink, not recent); the result is in `lowScore` / `lowPosition`.
   * @param epoch - The round (scores are computed once per round).
   * @returns False when no candidate exists.
   */
  findLowest(epoch: number): boolean {
    const rank = this.slotScores.ranking(epoch, this.view, this.capacityAt(this.clock + 1));
    const n = this.store.count;
    const pos = this.store.positionOf;
    const clock = this.clock;
    const cap = this.capacityAt(clock + 1);
    const sinks = this.sinksAt(cap);
    const newest = clock - this.recentAt(cap) + 1;
    let best = -1;
    let bestScore = Infinity;
    let bestPos = Infinity;
    const chunk = this.settings.chunk;
    if (chunk === 1) {
      for (let i = 0; i < n; i++) {
        const p = pos[i]!;
        if (p < sinks || p >= newest) continue;
        const sc = rank === null ? 0 : rank[i]!;
        if (best < 0 || sc < bestScore || (sc === bestScore && p < bestPos)) {
          best = i;
          bestScore = sc;
          bestPos = p;
        }
      }
    } else {
      best = lowestChunk(this.store.positionOf, rank, n, chunk, clock, sinks, newest, this.chunkScratch);
      bestScore = this.chunkScratch.score;
      bestPos = best * chunk;
    }
    this.lowUnit = best;
    this.lowScore = bestScore;
    this.lowPosition = bestPos;
    return best >= 0;
  }

  /**
   * Evicts the unit found by the last {@link EvictionCache.findLowest}.
   * @throws `UnsupportedError` from a store with channel-wise key groups asked to evict out of
   *   order (the constructor refuses the settings that could).
   */
  evictLowest(): void {
    const unit = this.lowUnit;
    if (unit < 0) return;
    this.lowUnit = -1;
    if (this.settings.chunk === 1) {
      this.removeSlot(unit);
      return;
    }
    const chunk = this.settings.chunk;
    const clock = this.clock;
    const cap = this.capacityAt(clock + 1);
    const sinks = this.sinksAt(cap);
    const newest = clock - this.recentAt(cap) + 1;
    // Descending slot order: the slot that moves into a removed one is never one still to remove.
    for (let i = this.store.count - 1; i >= 0; i--) {
      const p = this.store.positionOf[i]!;
      if (p >= sinks && p < newest && Math.floor(p / chunk) === unit) this.removeSlot(i);
    }
  }

  /**
   * Removes a slot (the last slot moves into it), moving every per-slot array along.
   * @param slot - The slot.
   */
  protected removeSlot(slot: number): void {
    this.scorer.evicting?.(this.view, slot);
    this.slotScores.move(slot, this.store.removeSwap(slot));
    this.evictedCount++;
  }

  /**
   * Exact softmax attention over the kept tokens; a scorer that reads queries or probabilities
   * sees them.
   * @param query - Validated query.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    if (this.scorer.probs) {
      if (this.store.count > 0) this.store.sumsWithProbs(query, this.tau, out, this.slotScores.probs);
      else this.store.sums(query, this.tau, out);
      this.scorer.observe?.(this.view, query, this.slotScores.probs, this.seen - 1);
      return out;
    }
    this.store.sums(query, this.tau, out);
    if (this.scorer.queries) this.scorer.observe?.(this.view, query, null, this.seen - 1);
    return out;
  }

  /**
   * Shows the observation queries to a scorer that keeps query statistics, then appends the
   * tokens one by one (each compressed as it arrives).
   * @param keys - Row-major keys.
   * @param values - Row-major values.
   * @param count - Number of tokens.
   * @param firstPosition - Position of the first.
   * @param queries - Observation queries, if any.
   */
  protected override onPrefill(keys: Float32Array, values: Float32Array, count: number, firstPosition: number, queries?: Float32Array): void {
    if (queries && this.scorer.queries && !this.scorer.probs && this.scorer.observe) {
      // Rows are read as the queries of the last positions (one row per position when there are
      // at most `count` rows; a GQA group's rows share their position only approximately).
      const d = this.keyDim;
      const rows = queries.length / d;
      for (let r = 0; r < rows; r++) {
        const position = firstPosition + Math.max(0, count - rows + r);
        this.scorer.observe(this.view, queries.subarray(r * d, (r + 1) * d), null, Math.min(position, firstPosition + count - 1));
      }
    }
    super.onPrefill(keys, values, count, firstPosition);
  }

  /** Forgets every token and the scorer's statistics. */
  protected onReset(): void {
    this.store.clear();
    this.scorer.reset?.();
    this.updateFixed();
    if (this.affordsStatistics(floorBytes(this.budget, this.keyDim, this.valueDim))) this.activateScorer();
    this.slotScores.reset();
    this.evictedCount = 0;
    this.droppedCount = 0;
  }

  /**
   * Stores a token at `position` with no eviction (a prefill that selected it already, within
   * the capacity at the prefill's end; call {@link EvictionCache.reserveRows} with it first).
   * @param keys - Key storage.
   * @param keyOffset - Index of the key's first element.
   * @param values - Value storage.
   * @param valueOffset - Index of the value's first element.
   * @param position - Its position.
   * @returns The slot.
   */
  protected storeSelected(keys: Float32Array, keyOffset: number, values: Float32Array, valueOffset: number, position: number): number {
    if (this.store.count + 1 > this.store.limit) this.store.limit = this.store.count + 1;
    const slot = this.store.push(keys, keyOffset, values, valueOffset, position, 0);
    this.slotScores.grow(this.store.allocated);
    const key = keys.subarray(keyOffset, keyOffset + this.keyDim);
    const value = values.subarray(valueOffset, valueOffset + this.valueDim);
    this.slotScores.stored(slot, value);
    this.scorer.stored?.(this.view, slot, key, value, position);
    return slot;
  }

  /**
   * Lets the store allocate up to `rows` rows (a prefill that selects its rows at once).
   * @param rows - Rows about to be held.
   */
  protected reserveRows(rows: number): void {
    if (rows > this.store.limit) this.store.limit = rows;
  }

  /**
   * A scorer column (for subclasses that set scores themselves, as a scored prefill does).
   * @param index - Column index.
   * @returns The column.
   */
  protected column(index: number): Float32Array {
    return this.slotScores.column(index);
  }
}
