import type { CacheState, SlotStore, StateReader } from '@kv/core';

/**
 * What a {@link Scorer} may read of the cache it scores: the kept rows (through the store's
 * accessors), its own per-slot columns, and the stream counters.
 *
 * @example
 * ```ts
 * import type { ScoreView } from '@kv/heuristics';
 * // the mean of a scorer's first column over the kept slots
 * const mean = (view: ScoreView): number => {
 *   let sum = 0;
 *   for (let i = 0; i < view.count; i++) sum += view.column(0)[i]!;
 *   return view.count > 0 ? sum / view.count : 0;
 * };
 * ```
 */
export interface ScoreView {
  /** The kept rows; read them with `readKey`, `readValue`, `keyDot`, `positionOf`. */
  readonly store: SlotStore;
  /** Live slots (`store.count`). */
  readonly count: number;
  /** Tokens the cache has seen (the arriving token's position while it is being placed). */
  readonly seen: number;
  /** Logit scale τ. */
  readonly tau: number;
  /** Key dimension d. */
  readonly keyDim: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /**
   * One of the scorer's per-slot columns (`Scorer.columns` of them), indexed by slot. The cache
   * moves a slot's entries along when it moves the slot, and saves them in its state.
   * @param index - Column index.
   * @returns The column (re-read it after an append: it grows with the store).
   */
  column(index: number): Float32Array;
}

/**
 * A token-importance rule for {@link EvictionCache}: higher scores are kept. The cache owns
 * everything else (budget, sinks and recent window, when and how many to evict, chunks, head
 * pools, precision, snapshots), so a new method is one scorer.
 *
 * @remarks
 * Two kinds: a *live* scorer keeps its scores in its per-slot columns, updated as tokens arrive
 * and queries are answered (H2O, TOVA, K-norm), and `score` returns a column; a *computed*
 * scorer derives them from the kept rows when the cache needs them (KeyDiff, Expected Attention,
 * LagKV), which the cache does at most every `every` steps. Scores may be `+Infinity` (keep
 * while anything else can go) or `-Infinity` (evict first); ties go to the oldest token.
 *
 * @example
 * ```ts
 * import type { Scorer } from '@kv/heuristics';
 * // keeps the tokens with the largest first key coordinate (a toy scorer)
 * const firstCoordinate: Scorer = {
 *   name: 'first-coordinate', columns: 1, probs: false, queries: false, live: true, nonNegative: false,
 *   fixedBytes: () => 0,
 *   stored: (view, slot, key) => { view.column(0)[slot] = key[0]!; },
 *   score: (view) => view.column(0),
 * };
 * ```
 */
export interface Scorer {
  /** Name for descriptions. */
  readonly name: string;
  /** Float32 values the scorer keeps per slot (counted in the cache's bytes). */
  readonly columns: number;
  /** Whether it needs the attention probabilities of every answered query (`observe` gets them). */
  readonly probs: boolean;
  /** Whether it reads every answered query (`observe` is called with it). */
  readonly queries: boolean;
  /** Whether `score` only reads the columns (cheap, run at every eviction). */
  readonly live: boolean;
  /** Whether scores are attention-like masses (≥ 0), as CriticalKV's value weighting requires. */
  readonly nonNegative: boolean;
  /** Whether evictions follow age only (the oldest candidate goes; `score` is not called). */
  readonly byAge?: boolean;
  /**
   * Bytes of the scorer's own state outside its columns (query statistics, running sums): the
   * byte lengths of the arrays of {@link Scorer.save}.
   * @returns Bytes held.
   */
  fixedBytes(): number;
  /**
   * For a scorer whose statistics start empty (held bytes 0) and are taken up once the budget can
   * afford them: the bytes they will hold. The cache calls {@link Scorer.activate} when the budget
   * first holds them and as many bytes of rows, one row at least (so they never take more than
   * half of it, and never the last row), and counts them from then.
   * @returns Bytes the statistics will hold.
   */
  deferredBytes?(): number;
  /** Takes up the deferred statistics (see {@link Scorer.deferredBytes}). */
  activate?(): void;
  /**
   * A token was stored in `slot` (initialise its columns).
   * @param view - The cache.
   * @param slot - Its slot.
   * @param key - Its key.
   * @param value - Its value.
   * @param position - Its logical position.
   */
  stored?(view: ScoreView, slot: number, key: Float32Array, value: Float32Array, position: number): void;
  /**
   * A slot is about to be evicted (running sums over kept tokens subtract it here).
   * @param view - The cache.
   * @param slot - The slot.
   */
  evicting?(view: ScoreView, slot: number): void;
  /**
   * A query was answered (`probs` when {@link Scorer.probs}, one per live slot, else null).
   * @param view - The cache.
   * @param query - The query.
   * @param probs - Attention probabilities of the live slots, or null.
   * @param position - The query's position (the newest token's, for a decode step).
   */
  observe?(view: ScoreView, query: Float32Array, probs: Float64Array | null, position: number): void;
  /**
   * Score of an arriving token that may be dropped instead of stored (when the cache protects no
   * recent token); the cache drops it when every kept candidate scores higher (ties evict the
   * oldest, and it is the newest).
   * @param view - The cache.
   * @param key - Its key.
   * @param value - Its value.
   * @param position - Its position.
   * @returns Its score.
   */
  incoming?(view: ScoreView, key: Float32Array, value: Float32Array, position: number): number;
  /**
   * Scores of the live slots (higher = keep).
   * @param view - The cache.
   * @param out - Scratch of at least `count` entries the scorer may fill.
   * @returns `out` or one of the scorer's columns, holding a score per live slot.
   */
  score(view: ScoreView, out: Float32Array): Float32Array;
  /**
   * The scorer's state outside its columns (statistics, RNG state).
   * @returns The state.
   */
  save?(): CacheState;
  /**
   * Loads a state of {@link Scorer.save}.
   * @param state - A reader of it.
   */
  load?(state: StateReader): void;
  /** Forgets everything (the cache was reset). */
  reset?(): void;
  /**
   * Figures for `describe()`.
   * @returns Named figures.
   */
  describe?(): Record<string, number | string | boolean>;
}
