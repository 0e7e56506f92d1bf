import {
  AssumptionViolatedError,
  BaseHeadCache,
  booleanParam,
  type CacheState,
  clearSums,
  copySums,
  createKernelSums,
  dotUnit,
  integerParam,
  InvalidParamsError,
  type KernelSums,
  mixSeed,
  numberParam,
  type PolicyDefinition,
  type PolicySpec,
  type StateReader,
} from '@kv/core';
import { combineSeparateSums } from './separate-sums.js';
import { type BalanceKVTheoryParameters, deriveBalanceKVTheoryParameters } from './theory-params.js';
import { TheoryEpoch } from './theory-epoch.js';

/**
 * BalanceKV, theorem version (Alg. 1): the denominator Z and the numerator N are estimated by
 * separate {@link MergeAndReduce} instances over {@link SoftmaxBalance}; values are bucketed by norm
 * (2^{b−1} ≤ ||v|| < 2^b), one numerator instance per bucket; the answer is Ñ/Z̃.
 *
 * @remarks
 * - Guarantee (inside the assumption ||k||, ||q|| ≤ r): for each fixed query and any stream length,
 *   w.p. ≥ 1−δ, ||z − Attn(q)|| ≤ ε·||softmax(Kq·τ)||₂·||V||_F, with block sizes from
 *   {@link deriveBalanceKVTheoryParameters} (its remarks hold the derivation).
 * - Epochs: no stream length is assumed. Tokens are held in epochs of N₀, 2N₀, 4N₀, … tokens, epoch k
 *   with the block derived for its own length and failure probability δ/2^{k+1}; finished epochs
 *   are kept as they are. Each epoch's error is at most its share of ε·n·e^{−ρ}-relative terms for
 *   its own tokens, so the errors add up to the guarantee for the whole stream and the failure
 *   probabilities to at most δ. N₀ is the smallest of 1024·2^j whose derived block is at most half
 *   of it, so a stream of a few thousand tokens is compressed when ρ is small enough for the
 *   theorem to allow it (at ρ = 0.1, s = 1, ε = 1: N₀ = 2048, t ≈ 700); when no N₀ ≤ 2^26 is, the
 *   theorem allows no compression at this ρ and epochs of 1024·2^k tokens hold them exactly. With `horizon` there is one
 *   epoch of that length and, in strict mode, later tokens are refused.
 * - `strict` (default false) refuses keys or queries with norm above r (and tokens past `horizon`)
 *   with `AssumptionViolatedError` (state unchanged). By default they are accepted and counted in
 *   {@link BalanceKVTheory.violations}: the answer stays finite but the guarantee is void (the
 *   walk's R and the query factor grow like e^{(||k||² + ||q||²)τ/2}); when N/Z is then not
 *   representable the numerator buckets' own normaliser answers (counted as `fallbacks`).
 * - A `blockSize` below the derived one is accepted (and used in every epoch), but then the
 *   guarantee is not proved.
 * - Values of norm 0 add nothing to N and are kept only by the denominator. Buckets are never
 *   dropped, so memory is O(#norm octaves · Σ_k t_k·log(N_k/t_k)) rows; budget: none.
 * - Key rows are duplicated between the denominator and a numerator instance; `stored` counts both.
 * @see BalanceKV, arXiv 2502.07861.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { balanceKVTheoryPolicy } from '@kv/coreset';
 * const registry = new PolicyRegistry().register(balanceKVTheoryPolicy);
 * const cache = registry.create({ policy: 'balancekv-theory', keyDim: 4, valueDim: 2, params: { radius: 2 } });
 * ```
 */
export class BalanceKVTheory extends BaseHeadCache {
  /** The derived parameters of the first epoch (before any `blockSize` override). */
  readonly derived: BalanceKVTheoryParameters;
  /** Block size of the first epoch. */
  readonly blockSize: number;
  /** Radius r. */
  readonly radius: number;
  /** Horizon n when given (one epoch), else Infinity (epochs). */
  readonly horizon: number;
  /** Tokens of the first epoch N₀. */
  readonly firstEpoch: number;
  /** Whether out-of-assumption input is refused. */
  readonly strict: boolean;
  /** Inputs accepted outside the assumptions (non-strict mode). */
  violations = 0;
  /** Queries answered from the numerator's own normaliser because N/Z was not representable. */
  fallbacks = 0;
  private readonly epsilon: number;
  private readonly delta: number;
  private readonly override: number | undefined;
  private readonly seed: number;
  private readonly epochs: TheoryEpoch[] = [];
  private readonly zSums: KernelSums;
  private readonly nSums: KernelSums;

  /**
   * @param spec - Spec with params epsilon, radius, delta, horizon, strict, blockSize.
   * @throws `InvalidParamsError` on bad parameters.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    this.epsilon = numberParam(p, 'epsilon', { default: 0.5, min: Number.MIN_VALUE, max: 1 });
    this.radius = numberParam(p, 'radius', { min: Number.MIN_VALUE });
    this.delta = numberParam(p, 'delta', { default: 0.1, min: Number.MIN_VALUE, max: 0.999999 });
    this.horizon = p?.['horizon'] === undefined ? Infinity : integerParam(p, 'horizon', { min: 2 });
    this.strict = booleanParam(p, 'strict', false);
    this.override = p?.['blockSize'] === undefined ? undefined : integerParam(p, 'blockSize', { min: 2 });
    if (this.override !== undefined && this.override % 2 !== 0) throw new InvalidParamsError(`parameter "blockSize" is ${this.override}, expected an even integer`);
    this.seed = spec.seed ?? 0;
    this.firstEpoch = Number.isFinite(this.horizon) ? this.horizon : this.chooseFirstEpoch();
    this.derived = this.derive(0);
    this.blockSize = this.override ?? this.derived.blockSize;
    this.zSums = createKernelSums(0);
    this.nSums = createKernelSums(this.valueDim);
  }

  /** Rows held by every epoch. */
  get stored(): number {
    let total = 0;
    for (const e of this.epochs) total += e.stored;
    return total;
  }

  /** Bytes held by every epoch. */
  override get bytes(): number {
    let total = 0;
    for (const e of this.epochs) total += e.heldBytes;
    return total;
  }

  /** Walk failures (|y| > cR²) in all instances; each has probability ≤ its δ_w. */
  get walkFailures(): number {
    let total = 0;
    for (const e of this.epochs) total += e.walkFailures;
    return total;
  }

  /** Halvings run by all instances so far. */
  get halvings(): number {
    let total = 0;
    for (const e of this.epochs) total += e.halvings;
    return total;
  }

  /** Number of value-norm buckets opened (over all epochs). */
  get bucketCount(): number {
    let total = 0;
    for (const e of this.epochs) total += e.bucketCount;
    return total;
  }

  /** Number of epochs opened. */
  get epochCount(): number {
    return this.epochs.length;
  }

  /** Block size of each epoch opened. */
  get epochBlocks(): number[] {
    return this.epochs.map((e) => e.blockSize);
  }

  /**
   * Routes a token to its epoch.
   * @param key - Key.
   * @param value - Value.
   * @param position - Logical position.
   * @throws `AssumptionViolatedError` in strict mode when ||k|| > r or past the horizon.
   */
  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const kn = Math.sqrt(dotUnit(this.keyDim, key, 0, key, 0));
    const outside = kn > this.radius * (1 + 1e-6) || position >= this.horizon;
    if (outside) {
      if (this.strict) {
        throw new AssumptionViolatedError(
          position >= this.horizon
            ? `token ${position} is past the horizon ${this.horizon} the guarantee covers`
            : `key norm ${kn} exceeds the radius r = ${this.radius}`,
        );
      }
      this.violations++;
    }
    this.epochAt(position).push(key, value, position);
  }

  /**
   * Answers with N from the numerator buckets and Z from the denominators of every epoch.
   * @param query - Query.
   * @param out - Receives the sums.
   * @returns `out`.
   * @throws `AssumptionViolatedError` in strict mode when ||q|| > r or N/Z is not representable.
   */
  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const qn = Math.sqrt(dotUnit(this.keyDim, query, 0, query, 0));
    if (qn > this.radius * (1 + 1e-6)) {
      if (this.strict) throw new AssumptionViolatedError(`query norm ${qn} exceeds the radius r = ${this.radius}`);
      this.violations++;
    }
    const z = clearSums(this.zSums);
    const n = clearSums(this.nSums);
    for (const e of this.epochs) e.sums(query, z, n);
    if (this.strict) return combineSeparateSums(n, z, out, 'balancekv-theory');
    try {
      return combineSeparateSums(n, z, out, 'balancekv-theory');
    } catch {
      // Outside the assumptions the two estimates can be a double's range apart: the buckets'
      // own weighted kernel sums (every token with a non-zero value) normalise N instead.
      this.fallbacks++;
      return copySums(n, out);
    }
  }

  protected onReset(): void {
    this.epochs.length = 0;
    this.violations = 0;
    this.fallbacks = 0;
  }

  protected saveState(): CacheState {
    const parts: Record<string, CacheState> = {};
    this.epochs.forEach((e, i) => (parts[`epoch${i}`] = e.state()));
    return { scalars: { epochs: this.epochs.length, violations: this.violations, fallbacks: this.fallbacks }, arrays: {}, parts };
  }

  protected restoreState(r: StateReader): void {
    const count = r.integer('epochs', 0, 40);
    const violations = r.integer('violations', 0, 2 ** 53);
    const fallbacks = r.integer('fallbacks', 0, 2 ** 53);
    for (let k = 0; k < count; k++) this.openEpoch().loadState(r.part(`epoch${k}`));
    this.violations = violations;
    this.fallbacks = fallbacks;
  }

  protected override describeSummary(): string {
    const blocks = this.epochs.map((e) => e.blockSize).join(', ');
    return `balancekv-theory: ${this.epochs.length} epoch(s) from ${this.firstEpoch} tokens, blocks ${blocks || this.blockSize}, ${this.stored} rows${this.violations > 0 ? `, ${this.violations} inputs outside ||·|| ≤ ${this.radius} (guarantee void)` : ''}`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return {
      epochs: this.epochs.length,
      firstEpoch: this.firstEpoch,
      blockSize: this.blockSize,
      derivedBlockSize: this.derived.blockSize,
      buckets: this.bucketCount,
      halvings: this.halvings,
      walkFailures: this.walkFailures,
      violations: this.violations,
      fallbacks: this.fallbacks,
    };
  }

  // The smallest N₀ = 1024·2^j ≤ 2^26 whose derived block is at most N₀/2. When none is, the
  // theorem allows no compression at this ρ: epochs from 1024 tokens, each held exactly (its block
  // is capped just above its length, see openEpoch), so memory grows with the stream as it must.
  private chooseFirstEpoch(): number {
    for (let n = 1024; n <= 2 ** 26; n *= 2) {
      const t = this.override ?? this.parameters(n, this.delta / 2).blockSize;
      if (t <= n / 2) return n;
    }
    return 1024;
  }

  private parameters(horizon: number, delta: number): BalanceKVTheoryParameters {
    return deriveBalanceKVTheoryParameters({ epsilon: this.epsilon, radius: this.radius, delta, horizon, valueDim: this.valueDim, tau: this.tau });
  }

  // Epoch k: N₀·2^k tokens, failure probability δ/2^{k+1} (one epoch of δ with a horizon).
  private derive(k: number): BalanceKVTheoryParameters {
    if (Number.isFinite(this.horizon)) return this.parameters(this.horizon, this.delta);
    return this.parameters(this.firstEpoch * 2 ** k, this.delta / 2 ** (k + 1));
  }

  private epochAt(position: number): TheoryEpoch {
    let last = this.epochs[this.epochs.length - 1];
    while (last === undefined || position >= last.start + last.length) last = this.openEpoch();
    return last;
  }

  private openEpoch(): TheoryEpoch {
    const k = this.epochs.length;
    const prev = this.epochs[k - 1];
    const start = prev ? prev.start + prev.length : 0;
    const length = Number.isFinite(this.horizon) ? (k === 0 ? this.horizon : 2 ** 31) : this.firstEpoch * 2 ** k;
    const p = this.derive(k);
    // A block longer than the epoch never fills, so the smallest even size above the epoch's length
    // behaves the same and sizes the row stores to what the epoch can hold.
    const block = Math.min(this.override ?? p.blockSize, length + 2 - (length % 2));
    const epoch = new TheoryEpoch(this.keyDim, this.valueDim, this.tau, start, length, block, p.walkDelta, mixSeed(this.seed, 7, k));
    this.epochs.push(epoch);
    return epoch;
  }
}

/**
 * Registry entry of {@link BalanceKVTheory} (`balancekv-theory`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { balanceKVTheoryPolicy } from '@kv/coreset';
 * new PolicyRegistry().register(balanceKVTheoryPolicy);
 * ```
 */
export const balanceKVTheoryPolicy: PolicyDefinition = {
  name: 'balancekv-theory',
  summary: 'BalanceKV theorem version: separate N and Z MergeAndReduce/SoftmaxBalance instances, value-norm buckets, doubling epochs; error ≤ ε·||softmax||·||V||_F w.p. 1−δ for ||k||,||q|| ≤ r.',
  params: [
    { name: 'epsilon', type: 'number', default: 0.5, description: 'Target normalised error ε ∈ (0, 1].' },
    { name: 'radius', type: 'number', description: 'Radius r bounding every key and query norm (required).' },
    { name: 'delta', type: 'number', default: 0.1, description: 'Failure probability δ per query.' },
    { name: 'horizon', type: 'integer', description: 'Stream length the guarantee covers, as one epoch (default: doubling epochs, no limit).' },
    { name: 'strict', type: 'boolean', default: false, description: 'Refuse inputs outside the assumptions (AssumptionViolatedError) instead of counting them.' },
    { name: 'blockSize', type: 'integer', description: 'Override of the derived block size t (even); below it the guarantee is not proved.' },
  ],
  budget: 'none',
  create: (spec) => new BalanceKVTheory(spec),
};
