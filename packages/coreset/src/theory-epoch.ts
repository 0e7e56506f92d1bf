import { type CacheState, dotUnit, type KernelSums, mergeSums, mixSeed, type StateReader } from '@kv/core';
import { MergeAndReduce } from './merge-and-reduce.js';
import { SoftmaxBalance } from './softmax-balance.js';

/**
 * One epoch of {@link BalanceKVTheory}: the tokens of positions [start, start + length), held by
 * BalanceKV's Alg. 1 structure with the block size derived for `length` tokens and failure
 * probability `delta`: a denominator {@link MergeAndReduce} over {@link SoftmaxBalance} with unit
 * values, and one numerator instance per value-norm bucket (2^{b−1} ≤ ||v|| < 2^b).
 *
 * @example
 * ```ts
 * import { createKernelSums } from '@kv/core';
 * import { TheoryEpoch } from '@kv/coreset';
 * const epoch = new TheoryEpoch(2, 1, 1, 0, 64, 8, 0.01, 3);
 * for (let i = 0; i < 64; i++) epoch.push(new Float32Array([Math.cos(i), Math.sin(i)]), new Float32Array([1]), i);
 * const z = createKernelSums(0);
 * const n = createKernelSums(1);
 * epoch.sums(new Float32Array([1, 0]), z, n);
 * ```
 */
export class TheoryEpoch {
  /** First position of the epoch. */
  readonly start: number;
  /** Tokens the epoch covers. */
  readonly length: number;
  /** Block size of its instances. */
  readonly blockSize: number;
  private readonly d: number;
  private readonly s: number;
  private readonly tau: number;
  private readonly seed: number;
  private readonly denominatorWalk: SoftmaxBalance;
  private readonly numeratorWalk: SoftmaxBalance;
  private readonly denominator: MergeAndReduce;
  private readonly buckets: MergeAndReduce[] = [];
  private readonly bucketIds: number[] = [];
  private readonly noValue = new Float32Array(0);
  private readonly part: KernelSums;
  private readonly zPart: KernelSums;

  /**
   * @param d - Key dimension.
   * @param s - Value dimension.
   * @param tau - Logit scale.
   * @param start - First position.
   * @param length - Tokens covered.
   * @param blockSize - Block size t (even).
   * @param walkDelta - Failure probability of each walk.
   * @param seed - Seed of the halvings.
    * @throws `InvalidParamsError` (from `@kv/core`) for a bad block size.
   */
  constructor(d: number, s: number, tau: number, start: number, length: number, blockSize: number, walkDelta: number, seed: number) {
    this.d = d;
    this.s = s;
    this.tau = tau;
    this.start = start;
    this.length = length;
    this.blockSize = blockSize;
    this.seed = seed;
    this.denominatorWalk = new SoftmaxBalance({ tau, delta: walkDelta, unitValues: true });
    this.numeratorWalk = new SoftmaxBalance({ tau, delta: walkDelta });
    this.denominator = new MergeAndReduce(d, 0, this.denominatorWalk, mixSeed(seed, 0), { blockSize });
    this.part = { m: -Infinity, z: 0, n: new Float64Array(s) };
    this.zPart = { m: -Infinity, z: 0, n: new Float64Array(0) };
  }

  /** Rows held by every instance. */
  get stored(): number {
    let total = this.denominator.stored;
    for (const b of this.buckets) total += b.stored;
    return total;
  }

  /** Bytes held by every instance. */
  get heldBytes(): number {
    let total = this.denominator.heldBytes;
    for (const b of this.buckets) total += b.heldBytes;
    return total;
  }

  /** Halvings run so far. */
  get halvings(): number {
    let total = this.denominator.halvings;
    for (const b of this.buckets) total += b.halvings;
    return total;
  }

  /** Walk failures (|y| > cR²) so far. */
  get walkFailures(): number {
    return this.denominatorWalk.failures + this.numeratorWalk.failures;
  }

  /** Value-norm buckets opened. */
  get bucketCount(): number {
    return this.buckets.length;
  }

  /**
   * Routes a token to the denominator and to its value-norm bucket.
   * @param key - Key.
   * @param value - Value.
   * @param position - Logical position.
    * @throws `InvalidInputError`, `UnsupportedError` or `InvalidParamsError` (from `@kv/core`) when the row stores refuse the row.
   */
  push(key: Float32Array, value: Float32Array, position: number): void {
    this.denominator.push(key, 0, this.noValue, 0, position);
    const vn = Math.sqrt(dotUnit(this.s, value, 0, value, 0));
    if (vn === 0) return;
    const id = Math.floor(Math.log2(vn)) + 1;
    const k = this.bucketIds.indexOf(id);
    (k < 0 ? this.openBucket(id) : this.buckets[k]!).push(key, 0, value, 0, position);
  }

  /**
   * Adds the epoch's Z estimate to `z` and its N estimate to `n`.
   * @param query - Query.
   * @param z - Accumulates Z (log-scaled).
   * @param n - Accumulates N (log-scaled).
   */
  sums(query: Float32Array, z: KernelSums, n: KernelSums): void {
    mergeSums(z, this.denominator.sums(query, this.tau, this.zPart));
    for (const b of this.buckets) mergeSums(n, b.sums(query, this.tau, this.part));
  }

  /**
   * Every instance's rows and the walk counters.
   * @returns The state.
   */
  state(): CacheState {
    const parts: Record<string, CacheState> = { denominator: this.denominator.state() };
    this.buckets.forEach((b, i) => (parts[`bucket${i}`] = b.state()));
    return {
      scalars: {
        bucketIds: [...this.bucketIds],
        walkFailures: [this.denominatorWalk.failures, this.numeratorWalk.failures],
        walks: [this.denominatorWalk.walks, this.numeratorWalk.walks],
      },
      arrays: {},
      parts,
    };
  }

  /**
   * Loads a state of an epoch of the same shape.
   * @param r - A reader of the state.
   * @throws `SnapshotError` when it does not fit; `InvalidParamsError` when a bucket's instance
   *   cannot be built.
   */
  loadState(r: StateReader): void {
    const ids = r.numbers('bucketIds');
    if (!ids.every((id) => Number.isInteger(id) && Math.abs(id) < 2000) || new Set(ids).size !== ids.length) r.refuse('bucket ids are not distinct small integers');
    const failures = r.numbers('walkFailures', 2);
    const walks = r.numbers('walks', 2);
    this.denominator.loadState(r.part('denominator'));
    ids.forEach((id, i) => this.openBucket(id).loadState(r.part(`bucket${i}`)));
    this.denominatorWalk.failures = failures[0]!;
    this.numeratorWalk.failures = failures[1]!;
    this.denominatorWalk.walks = walks[0]!;
    this.numeratorWalk.walks = walks[1]!;
  }

  private openBucket(id: number): MergeAndReduce {
    this.bucketIds.push(id);
    const bucket = new MergeAndReduce(this.d, this.s, this.numeratorWalk, mixSeed(this.seed, 1, id), { blockSize: this.blockSize });
    this.buckets.push(bucket);
    return bucket;
  }
}
