import {
  AssumptionViolatedError,
  BaseHeadCache,
  booleanParam,
  type CacheState,
  createKernelSums,
  dotUnit,
  integerParam,
  InvalidParamsError,
  type KernelSums,
  mergeSums,
  numberParam,
  type PolicyDefinition,
  type PolicySpec,
  mixSeed,
  type StateReader,
} from '@kv/core';
import { MergeAndReduce } from './merge-and-reduce.js';
import { combineSeparateSums } from './separate-sums.js';
import { SoftmaxBalance, walkConstant } from './softmax-balance.js';

/**
 * Inputs of {@link deriveBalanceKVTheoryParameters}.
 *
 * @example
 * ```ts
 * import { type BalanceKVTheoryInput, deriveBalanceKVTheoryParameters } from '@kv/coreset';
 * const input: BalanceKVTheoryInput = { epsilon: 0.5, radius: 1, delta: 0.1, horizon: 4096, valueDim: 8, tau: 1 };
 * deriveBalanceKVTheoryParameters(input).blockSize;
 * ```
 */
export interface BalanceKVTheoryInput {
  /** Target normalised error ε ∈ (0, 1]. */
  readonly epsilon: number;
  /** Radius r: every key and query has ||·|| ≤ r. */
  readonly radius: number;
  /** Failure probability δ ∈ (0, 1) for one fixed query. */
  readonly delta: number;
  /** Largest stream length n the guarantee must cover. */
  readonly horizon: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /** Logit scale τ. */
  readonly tau: number;
}

/**
 * The quantities {@link deriveBalanceKVTheoryParameters} derives.
 *
 * @example
 * ```ts
 * import { type BalanceKVTheoryParameters, deriveBalanceKVTheoryParameters } from '@kv/coreset';
 * const p: BalanceKVTheoryParameters = deriveBalanceKVTheoryParameters({ epsilon: 0.5, radius: 1, delta: 0.1, horizon: 4096, valueDim: 8, tau: 1 });
 * p.levels; // ⌊log2(n/t)⌋ + 1
 * ```
 */
export interface BalanceKVTheoryParameters {
  /** Block size t of every MergeAndReduce instance (even). */
  readonly blockSize: number;
  /** ρ = r²τ, the largest logit. */
  readonly rho: number;
  /** Levels L = ⌊log2(n/t)⌋ + 1 a halving can happen at. */
  readonly levels: number;
  /** Upper bound H = 4⌈n/t⌉ on the halvings of all instances together. */
  readonly halvingsBound: number;
  /** Failure probability δ_w = δ/(2H) of each walk. */
  readonly walkDelta: number;
  /** Walk constant c = 30·ln(t/δ_w). */
  readonly walkConstant: number;
  /** Tail multiplier λ_N = √(2c·ln(4Hs/δ)) of the numerator walks. */
  readonly lambdaNumerator: number;
  /** Tail multiplier λ_Z = √(2c·ln(4H/δ)) of the denominator walk. */
  readonly lambdaDenominator: number;
  /** Error share ε_N = ε/(3+ε) of each numerator bucket (relative to n_b·e^{−ρ}·2^b). */
  readonly epsilonNumerator: number;
  /** Error share ε_Z = ε/(3+ε) of the denominator (relative to n·e^{−ρ} ≤ Z). */
  readonly epsilonDenominator: number;
}

/**
 * Derives BalanceKV's block size from (ε, r, d, δ) with explicit constants, so that the theorem's
 * guarantee ||z − Attn(q)|| ≤ ε·||softmax(Kq·τ)||₂·||V||_F holds w.p. ≥ 1−δ for a fixed query,
 * for every prefix of a stream of at most `horizon` tokens with ||k||, ||q|| ≤ r.
 *
 * @param input - ε, r, δ, horizon, s and τ.
 * @returns The derived parameters.
 * @throws `InvalidParamsError` when an input is out of range.
 * @remarks
 * Derivation (ρ = r²τ; buckets b hold values with 2^{b−1} ≤ ||v|| < 2^b, n_b tokens each):
 * 1. One halving of rows of weight w (a {@link SoftmaxBalance} walk, feature radius
 *    R ≤ w·e^{ρ/2}·2^b) errs by at most √s·λ·R·e^{||q||²τ/2} ≤ √s·λ·w·e^{ρ}·2^b
 *    ({@link softmaxBalanceBound}), each coordinate failing w.p. ≤ δ/(2Hs) and each walk w.p. ≤ δ_w.
 * 2. At weight 2^{ℓ−1} at most n_b/(t·2^{ℓ−1}) halvings happen, so summing over the L levels the
 *    bucket's error is ≤ L·(n_b/t)·√s·λ_N·e^{ρ}·2^b. Requiring ≤ ε_N·n_b·e^{−ρ}·2^b gives
 *    t ≥ L·√s·λ_N·e^{2ρ}/ε_N; the denominator (v ≡ 1, s = 1) likewise needs t ≥ L·λ_Z·e^{2ρ}/ε_Z.
 *    t is the smallest even integer meeting both (a fixed point, as L, H and c depend on t).
 * 3. Z ≥ n·e^{−ρ}, so |Z̃ − Z| ≤ ε_Z·Z; Σ_b n_b·2^b ≤ 2Σ||v_i|| ≤ 2√n·||V||_F and
 *    ||softmax||₂ ≥ 1/√n, so ||Ñ − N||/Z ≤ 2ε_N·||softmax||₂·||V||_F; with ||Attn|| ≤ ||softmax||₂·||V||_F,
 *    the output error is ≤ (2ε_N + ε_Z)/(1 − ε_Z)·||softmax||₂·||V||_F, which equals ε for
 *    ε_N = ε_Z = ε/(3+ε).
 * 4. Union bound: at most H = 4⌈n/t⌉ halvings (2n/t per instance family), each with walk failure
 *    δ/(2H) and coordinate tails δ/(2Hs): total failure ≤ δ.
 * When the derived t exceeds the horizon it is capped just above it: no block ever fills, the cache
 * stays exact, and the guarantee holds trivially (compression does not pay off at that ε and ρ).
 * The paper states t = O(√s·e^{2ρ}/ε) up to logarithms; the constants here come from the ALS walk
 * (c = 30·ln(n/δ)) and are loose: in practice far smaller blocks meet ε (see `blockSize`).
 * @see BalanceKV, arXiv 2502.07861 (main theorem; Thm 3.4 for MergeAndReduce; Alg. 1).
 * @example
 * ```ts
 * import { deriveBalanceKVTheoryParameters } from '@kv/coreset';
 * deriveBalanceKVTheoryParameters({ epsilon: 0.5, radius: 1, delta: 0.1, horizon: 4096, valueDim: 1, tau: 0.1 }).blockSize;
 * ```
 */
export function deriveBalanceKVTheoryParameters(input: BalanceKVTheoryInput): BalanceKVTheoryParameters {
  const { epsilon, radius, delta, horizon, valueDim, tau } = input;
  if (!(epsilon > 0 && epsilon <= 1)) throw new InvalidParamsError(`epsilon is ${epsilon}, expected in (0, 1]`);
  if (!(radius > 0) || !Number.isFinite(radius)) throw new InvalidParamsError(`radius is ${radius}, expected > 0`);
  if (!(delta > 0 && delta < 1)) throw new InvalidParamsError(`delta is ${delta}, expected in (0, 1)`);
  if (!Number.isInteger(horizon) || horizon < 2) throw new InvalidParamsError(`horizon is ${horizon}, expected an integer >= 2`);
  const s = Math.max(1, valueDim);
  const rho = radius * radius * tau;
  const epsN = epsilon / (3 + epsilon);
  const epsZ = epsN;
  let t = 2;
  let out: BalanceKVTheoryParameters | null = null;
  for (let iter = 0; iter < 200; iter++) {
    const H = 4 * Math.ceil(horizon / t);
    const L = Math.max(1, Math.floor(Math.log2(horizon / t)) + 1);
    const walkDelta = delta / (2 * H);
    const c = walkConstant(t, walkDelta);
    const lamN = Math.sqrt(2 * c * Math.log((4 * H * s) / delta));
    const lamZ = Math.sqrt(2 * c * Math.log((4 * H) / delta));
    const need = L * Math.exp(2 * rho) * Math.max((Math.sqrt(s) * lamN) / epsN, lamZ / epsZ);
    // Past the horizon no block would ever fill: the cache is then exact, which meets any ε.
    const beyond = 2 * Math.ceil((horizon + 1) / 2);
    let next = Number.isFinite(need) ? Math.min(Math.ceil(need), beyond) : beyond;
    if (next % 2 !== 0) next++;
    out = {
      blockSize: t,
      rho,
      levels: L,
      halvingsBound: H,
      walkDelta,
      walkConstant: c,
      lambdaNumerator: lamN,
      lambdaDenominator: lamZ,
      epsilonNumerator: epsN,
      epsilonDenominator: epsZ,
    };
    if (next <= t) break;
    t = next;
  }
  return out!;
}

/**
 * BalanceKV, theorem version (Alg. 1): the denominator Z and the numerator N are estimated by
 * separate {@link MergeAndReduce} instances over {@link SoftmaxBalance}; values are bucketed by norm
 * (2^{b−1} ≤ ||v|| < 2^b), one numerator instance per bucket; the answer is Ñ/Z̃.
 *
 * @remarks
 * - Guarantee (inside the assumptions ||k||, ||q|| ≤ r and at most `horizon` tokens): for each fixed
 *   query, w.p. ≥ 1−δ, ||z − Attn(q)|| ≤ ε·||softmax(Kq·τ)||₂·||V||_F, with the block size from
 *   {@link deriveBalanceKVTheoryParameters} (its remarks hold the derivation).
 * - `strict` (default true) refuses keys or queries with norm above r, and tokens past the horizon,
 *   with `AssumptionViolatedError` (state unchanged). With `strict: false` they are accepted
 *   and counted in {@link BalanceKVTheory.violations}: the answer stays finite but the guarantee is
 *   void (the walk's R and the query factor grow like e^{(||k||² + ||q||²)τ/2}).
 * - A `blockSize` below the derived one is accepted (and used), but then the guarantee is not proved.
 * - Values of norm 0 add nothing to N and are kept only by the denominator. Buckets are never
 *   dropped, so memory is O(#norm octaves · t·log(n/t)) rows; budget: none (capacity unbounded).
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
  /** The derived parameters (before any `blockSize` override). */
  readonly derived: BalanceKVTheoryParameters;
  /** Block size in use. */
  readonly blockSize: number;
  /** Radius r. */
  readonly radius: number;
  /** Horizon n. */
  readonly horizon: number;
  /** Whether out-of-assumption input is refused. */
  readonly strict: boolean;
  /** Inputs accepted outside the assumptions (non-strict mode). */
  violations = 0;
  private readonly seed: number;
  private readonly denominator: MergeAndReduce;
  private readonly denominatorWalk: SoftmaxBalance;
  private readonly numeratorWalk: SoftmaxBalance;
  private readonly buckets: MergeAndReduce[] = [];
  private readonly bucketIds: number[] = [];
  private readonly noValue = new Float32Array(0);
  private readonly zSums: KernelSums;
  private readonly nSums: KernelSums;
  private readonly part: KernelSums;

  /**
   * @param spec - Spec with params epsilon, radius, delta, horizon, strict, blockSize.
   * @throws `InvalidParamsError` on bad parameters.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    const epsilon = numberParam(p, 'epsilon', { default: 0.5, min: Number.MIN_VALUE, max: 1 });
    this.radius = numberParam(p, 'radius', { min: Number.MIN_VALUE });
    const delta = numberParam(p, 'delta', { default: 0.1, min: Number.MIN_VALUE, max: 0.999999 });
    this.horizon = integerParam(p, 'horizon', { default: 65536, min: 2 });
    this.strict = booleanParam(p, 'strict', true);
    this.derived = deriveBalanceKVTheoryParameters({ epsilon, radius: this.radius, delta, horizon: this.horizon, valueDim: this.valueDim, tau: this.tau });
    this.blockSize = p?.['blockSize'] === undefined ? this.derived.blockSize : integerParam(p, 'blockSize', { min: 2 });
    if (this.blockSize % 2 !== 0) throw new InvalidParamsError(`parameter "blockSize" is ${this.blockSize}, expected an even integer`);
    this.seed = spec.seed ?? 0;
    this.denominatorWalk = new SoftmaxBalance({ tau: this.tau, delta: this.derived.walkDelta, unitValues: true });
    this.numeratorWalk = new SoftmaxBalance({ tau: this.tau, delta: this.derived.walkDelta });
    this.denominator = new MergeAndReduce(this.keyDim, 0, this.denominatorWalk, mixSeed(this.seed, 0), { blockSize: this.blockSize });
    this.zSums = createKernelSums(0);
    this.nSums = createKernelSums(this.valueDim);
    this.part = createKernelSums(this.valueDim);
  }

  /** Rows held by the denominator and every numerator bucket. */
  get stored(): number {
    let total = this.denominator.stored;
    for (const b of this.buckets) total += b.stored;
    return total;
  }

  /** Walk failures (|y| > cR²) in all instances; each has probability ≤ δ_w. */
  get walkFailures(): number {
    return this.denominatorWalk.failures + this.numeratorWalk.failures;
  }

  /** Halvings run by all instances so far. */
  get halvings(): number {
    let total = this.denominator.halvings;
    for (const b of this.buckets) total += b.halvings;
    return total;
  }

  /** Number of value-norm buckets opened. */
  get bucketCount(): number {
    return this.buckets.length;
  }

  /** Bytes held by every instance. */
  override get bytes(): number {
    let total = this.denominator.heldBytes;
    for (const b of this.buckets) total += b.heldBytes;
    return total;
  }

  protected saveState(): CacheState {
    const parts: Record<string, CacheState> = { denominator: this.denominator.state() };
    this.buckets.forEach((b, i) => (parts[`bucket${i}`] = b.state()));
    return {
      scalars: {
        bucketIds: [...this.bucketIds],
        violations: this.violations,
        walkFailures: [this.denominatorWalk.failures, this.numeratorWalk.failures],
        walks: [this.denominatorWalk.walks, this.numeratorWalk.walks],
      },
      arrays: {},
      parts,
    };
  }

  protected restoreState(r: StateReader): void {
    const ids = r.numbers('bucketIds');
    if (!ids.every((id) => Number.isInteger(id) && Math.abs(id) < 2000) || new Set(ids).size !== ids.length) r.refuse('bucket ids are not distinct small integers');
    const violations = r.integer('violations', 0, 2 ** 53);
    const failures = r.numbers('walkFailures', 2);
    const walks = r.numbers('walks', 2);
    this.denominator.loadState(r.part('denominator'));
    ids.forEach((id, i) => {
      const bucket = this.openBucket(id);
      bucket.loadState(r.part(`bucket${i}`));
    });
    this.violations = violations;
    this.denominatorWalk.failures = failures[0]!;
    this.numeratorWalk.failures = failures[1]!;
    this.denominatorWalk.walks = walks[0]!;
    this.numeratorWalk.walks = walks[1]!;
  }

  protected override describeSummary(): string {
    return `balancekv-theory: block ${this.blockSize} (derived ${this.derived.blockSize}), ${this.buckets.length} value buckets, ${this.stored} rows${this.violations > 0 ? `, ${this.violations} inputs outside the assumptions (guarantee void)` : ''}`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { blockSize: this.blockSize, derivedBlockSize: this.derived.blockSize, buckets: this.buckets.length, halvings: this.halvings, walkFailures: this.walkFailures, violations: this.violations };
  }

  private openBucket(id: number): MergeAndReduce {
    this.bucketIds.push(id);
    const bucket = new MergeAndReduce(this.keyDim, this.valueDim, this.numeratorWalk, mixSeed(this.seed, 1, id), { blockSize: this.blockSize });
    this.buckets.push(bucket);
    return bucket;
  }

  /**
   * Routes a token to the denominator and to its value-norm bucket.
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
    this.denominator.push(key, 0, this.noValue, 0, position);
    const vn = Math.sqrt(dotUnit(this.valueDim, value, 0, value, 0));
    if (vn === 0) return;
    const id = Math.floor(Math.log2(vn)) + 1;
    const k = this.bucketIds.indexOf(id);
    (k < 0 ? this.openBucket(id) : this.buckets[k]!).push(key, 0, value, 0, position);
  }

  /**
   * Answers with N from the numerator buckets and Z from the denominator.
   * @param query - Query.
   * @param out - Receives the sums.
   * @returns `out`.
   * @throws `AssumptionViolatedError` in strict mode when ||q|| > r, and in any mode when
   *   N/Z is not representable (see {@link combineSeparateSums}).
   */
  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const qn = Math.sqrt(dotUnit(this.keyDim, query, 0, query, 0));
    if (qn > this.radius * (1 + 1e-6)) {
      if (this.strict) throw new AssumptionViolatedError(`query norm ${qn} exceeds the radius r = ${this.radius}`);
      this.violations++;
    }
    const z = this.denominator.sums(query, this.tau, this.zSums);
    const n = this.nSums;
    n.m = -Infinity;
    n.z = 0;
    n.n.fill(0);
    for (const b of this.buckets) mergeSums(n, b.sums(query, this.tau, this.part));
    return combineSeparateSums(n, z, out, 'balancekv-theory');
  }

  /** Forgets every token. */
  protected onReset(): void {
    this.denominator.reset();
    this.buckets.length = 0;
    this.bucketIds.length = 0;
    this.violations = 0;
    this.denominatorWalk.failures = 0;
    this.denominatorWalk.walks = 0;
    this.numeratorWalk.failures = 0;
    this.numeratorWalk.walks = 0;
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
  summary: 'BalanceKV theorem version: separate N and Z MergeAndReduce/SoftmaxBalance instances, value-norm buckets; error ≤ ε·||softmax||·||V||_F w.p. 1−δ for ||k||,||q|| ≤ r.',
  params: [
    { name: 'epsilon', type: 'number', default: 0.5, description: 'Target normalised error ε ∈ (0, 1].' },
    { name: 'radius', type: 'number', description: 'Radius r bounding every key and query norm (required).' },
    { name: 'delta', type: 'number', default: 0.1, description: 'Failure probability δ per query.' },
    { name: 'horizon', type: 'integer', default: 65536, description: 'Longest stream the guarantee covers.' },
    { name: 'strict', type: 'boolean', default: true, description: 'Refuse inputs outside the assumptions (AssumptionViolatedError).' },
    { name: 'blockSize', type: 'integer', description: 'Override of the derived block size t (even); below it the guarantee is not proved.' },
  ],
  budget: 'none',
  create: (spec) => new BalanceKVTheory(spec),
};
