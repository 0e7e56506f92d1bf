import { type CacheState, type KernelSums, mergeSums, type Precision, SlotStore, type StateReader } from '@kv/core';

/**
 * Where a token offered to {@link ExactEdges.admit} went.
 * - `kept`: it became a sink or filled a free window slot; nothing left.
 * - `leaving`: the window was full; its oldest row is in {@link ExactEdges.leavingKey} /
 *   `leavingValue` / `leavingPosition` and the new token took its slot.
 * - `through`: there is no window; the token itself passes on to the middle.
 *
 * @example
 * ```ts
 * import { type Admission, ExactEdges } from '@kv/coreset';
 * const where: Admission = new ExactEdges(2, 1, 0, 0).admit(new Float32Array(2), new Float32Array(1), 0); // 'through'
 * ```
 */
export type Admission = 'kept' | 'leaving' | 'through';

/**
 * The exact parts of a tiered coreset: the first `sinks` tokens and a ring of the last `window`
 * tokens, kept with their positions (in float32 unless a precision is given). Tokens that leave the ring are handed to the
 * caller (the compressed middle). Shared by `uniform` and `balancekv`, whose sinks and window
 * are sized once, from the smallest budget they will get.
 *
 * @example
 * ```ts
 * import { ExactEdges } from '@kv/coreset';
 * const edges = new ExactEdges(2, 1, 1, 2);
 * for (let t = 0; t < 4; t++) {
 *   if (edges.admit(new Float32Array([t, 0]), new Float32Array([t]), t) === 'leaving') {
 *     edges.leavingPosition; // 1 at t = 3: the oldest window token
 *   }
 * }
 * ```
 */
export class ExactEdges {
  /** Sink slots. */
  readonly sinkCount: number;
  /** Window slots. */
  readonly windowSize: number;
  /** Key of the row that left the window on the last `admit` (valid until the next one). */
  readonly leavingKey: Float32Array;
  /** Value of the row that left the window. */
  readonly leavingValue: Float32Array;
  /** Position of the row that left the window. */
  leavingPosition = -1;
  private readonly sinks: SlotStore;
  private readonly recent: SlotStore;
  private oldest = 0;
  private readonly part: KernelSums;

  /**
   * @param d - Key dimension.
   * @param s - Value dimension.
   * @param sinks - Leading tokens kept.
   * @param window - Trailing tokens kept.
   * @param precision - Storage precision of the rows (default float32).
   * @param seed - Seed of the precision's rotation.
    * @throws `InvalidParamsError` (from `@kv/core`) for a precision the stores cannot hold (channel-wise key groups).
   */
  constructor(d: number, s: number, sinks: number, window: number, precision?: Precision, seed = 0) {
    this.sinkCount = sinks;
    this.windowSize = window;
    const store = { ...(precision === undefined ? {} : { precision }), seed };
    this.sinks = new SlotStore(d, s, { maxSlots: sinks, initialSlots: Math.min(2, sinks), ...store });
    this.recent = new SlotStore(d, s, { maxSlots: window, initialSlots: Math.min(2, window), ...store });
    this.leavingKey = new Float32Array(d);
    this.leavingValue = new Float32Array(s);
    this.part = { m: -Infinity, z: 0, n: new Float64Array(s) };
  }

  /** Bytes of one row (key, value and position at the rows' precision). */
  get rowBytes(): number {
    return this.recent.perRowBytes;
  }

  /** Bytes the two stores hold whatever their rows (a precision's residual and rotation signs). */
  get fixedBytes(): number {
    return this.sinks.fixedBytes + this.recent.fixedBytes;
  }

  /** Rows held. */
  get rows(): number {
    return this.sinks.count + this.recent.count;
  }

  /** Bytes held. */
  get heldBytes(): number {
    return this.sinks.heldBytes + this.recent.heldBytes;
  }

  /**
   * Offers the next token.
   * @param key - Key.
   * @param value - Value.
   * @param position - Logical position.
   * @returns Where it went (see {@link Admission}).
    * @throws `InvalidInputError` or `UnsupportedError` (from `@kv/core`) when the row store cannot encode the row.
   */
  admit(key: Float32Array, value: Float32Array, position: number): Admission {
    if (this.sinks.count < this.sinkCount) {
      this.sinks.push(key, 0, value, 0, position, 0);
      return 'kept';
    }
    if (this.windowSize === 0) return 'through';
    const r = this.recent;
    if (r.count < this.windowSize) {
      r.push(key, 0, value, 0, position, 0);
      return 'kept';
    }
    const slot = this.oldest;
    r.readKey(slot, this.leavingKey);
    r.readValue(slot, this.leavingValue);
    this.leavingPosition = r.positionOf[slot]!;
    r.write(slot, key, 0, value, 0, position, 0);
    this.oldest = (slot + 1) % this.windowSize;
    return 'leaving';
  }

  /**
   * Exact kernel sums of the held rows.
   * @param query - Query.
   * @param tau - Logit scale.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  sums(query: Float32Array, tau: number, out: KernelSums): KernelSums {
    this.sinks.sums(query, tau, out);
    return mergeSums(out, this.recent.sums(query, tau, this.part));
  }

  /**
   * Positions of the held rows (sinks, then window slots) written from `offset`.
   * @param out - Destination.
   * @param offset - First index.
   * @returns The index after the last one written.
   */
  writePositions(out: Int32Array, offset: number): number {
    out.set(this.sinks.positions(), offset);
    out.set(this.recent.positions(), offset + this.sinks.count);
    return offset + this.rows;
  }

  /** Forgets every row. */
  clear(): void {
    this.sinks.clear();
    this.recent.clear();
    this.oldest = 0;
  }

  /**
   * The rows and the ring position.
   * @returns The state.
   */
  state(): CacheState {
    return { scalars: { oldest: this.oldest }, arrays: {}, parts: { sinks: this.sinks.state(), window: this.recent.state() } };
  }

  /**
   * Loads a state of edges of the same sizes.
   * @param r - A reader of the state.
   * @throws `SnapshotError` when it does not fit.
   */
  loadState(r: StateReader): void {
    const oldest = r.integer('oldest', 0, Math.max(0, this.windowSize - 1));
    const sinks = r.part('sinks');
    const window = r.part('window');
    const windowRows = window.integer('count', 0, this.windowSize);
    if (windowRows < this.windowSize && oldest !== 0) r.refuse(`window ring at ${oldest} with only ${windowRows} rows`);
    if (windowRows > 0 && sinks.integer('count', 0, this.sinkCount) < this.sinkCount) r.refuse('window rows before the sinks are full');
    this.sinks.loadState(sinks);
    this.recent.loadState(window);
    this.oldest = oldest;
  }
}
