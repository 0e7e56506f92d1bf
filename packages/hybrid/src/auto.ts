import {
  BaseHeadCache,
  type Budget,
  type CacheDescription,
  type CacheState,
  floorBytes,
  type HeadCache,
  integerParam,
  InvalidBudgetError,
  InvalidParamsError,
  type KernelSums,
  type ParamInfo,
  parsePrecision,
  type PolicyDefinition,
  type PolicyRegistryLike,
  type PolicySpec,
  SlotStore,
  type StateReader,
} from '@kv/core';
import { type AutoCandidate, defaultAutoCandidates, scoreCandidate, type TrialScore } from './auto-trial.js';

/**
 * Parameters of the `auto` policy.
 *
 * @example
 * ```ts
 * import { autoParams } from '@kv/hybrid';
 * autoParams.map((p) => p.name); // ['warmup', 'warmupPrecision', 'queryStride', 'candidates']
 * ```
 */
export const autoParams: readonly ParamInfo[] = [
  { name: 'warmup', type: 'integer', default: 256, description: 'Most tokens of the warm-up (rows and queries recorded while the budget holds them).' },
  { name: 'warmupPrecision', type: 'object', default: 'f16', description: 'Precision of the recorded warm-up rows and queries (a precision of the core layer; finer than the candidates\' so their rounding is measured).' },
  { name: 'queryStride', type: 'integer', default: 2, description: 'Record one query every this many tokens.' },
  { name: 'candidates', type: 'object', description: 'Configurations to choose from, [{ name, choice }] (default: defaultAutoCandidates of the registry).' },
];

/** Scores within this factor of the best are ties on a warm-up (its median over a few dozen queries). */
const TIE = 1.1;

/**
 * The candidate `auto` keeps: among those scoring within {@link TIE} of the best, the first in the
 * list (its order of preference), but never one worse than plain float32 sinks + window when that
 * candidate was scored. Returns −1 when every candidate failed.
 */
function pickCandidate(scores: readonly TrialScore[]): number {
  let best = Infinity;
  for (const x of scores) best = Math.min(best, x.error);
  if (!Number.isFinite(best)) return -1;
  const baseline = scores.find((x) => x.name === 'sinks + window')?.error ?? Infinity;
  const limit = Math.min(best * TIE, baseline);
  return scores.findIndex((x) => x.error <= limit);
}

/**
 * Fewest rows a trial must hold (its fraction of the warm-up) for the measurement to say anything;
 * below it `auto` takes its first candidate without measuring.
 */
const MIN_TRIAL_ROWS = 16;

/** The trial compression of a fixed budget (a token count or `{bytes}`): a quarter of the warm-up. */
const FIXED_TRIAL_FRACTION = 0.25;

function readCandidates(raw: unknown, registry: PolicyRegistryLike): AutoCandidate[] {
  if (raw === undefined) return defaultAutoCandidates(registry);
  if (!Array.isArray(raw) || raw.length === 0) throw new InvalidParamsError(`auto: candidates is ${JSON.stringify(raw)}, expected a non-empty array of { name, choice }`);
  return raw.map((c, i) => {
    const o = c as { name?: unknown; choice?: { policy?: unknown } };
    if (typeof o?.name !== 'string' || typeof o.choice?.policy !== 'string') {
      throw new InvalidParamsError(`auto: candidates[${i}] is ${JSON.stringify(c)}, expected { name: string, choice: { policy, params? } }`);
    }
    return o as AutoCandidate;
  });
}

/**
 * `auto`: the library's one-line answer. Under a budget it records a warm-up — the first tokens
 * and one query in `queryStride`, at `warmupPrecision`, as many as the smallest bytes of the
 * budget hold (at most `warmup`; float16 by default, finer than any candidate's int8 or int4, so the
 * candidates' rounding is part of what is measured) — answering from it, then scores every candidate configuration
 * on that warm-up and keeps the best for the rest of the stream.
 *
 * @remarks
 * - **Measurement.** Each candidate replays the warm-up causally under a trial budget — the same
 *   `{fraction}` as the cache's (a fixed budget: a quarter of the warm-up's float32 bytes), with a
 *   floor of a quarter of the warm-up, as the decode protocol has — and is scored by the median
 *   relative error of its answers against exact attention over the recorded rows, at the recorded
 *   queries from a quarter of the warm-up on. Among the candidates within 10% of the lowest score
 *   (a warm-up of a few dozen queries cannot separate them further) the first in the list wins,
 *   but never one that scored worse than plain float32 sinks + window: `auto` never picks a
 *   configuration worse than sinks + window on its warm-up.
 * - **Candidates** ({@link defaultAutoCandidates}): sinks + window, moment-cell middles behind
 *   windows of several shares of the budget, an int8 mix, and the seed-method middles the registry
 *   holds. Windows are shares of the budget, so a configuration scored on the warm-up is the same
 *   configuration at the stream's scale. The chosen one is built with the real budget and fed the
 *   recorded warm-up (rows at the warm-up's precision, queries) before the stream continues.
 * - **Scale.** A warm-up of a few dozen tokens scores configurations at a smaller scale than the
 *   stream's; the choice is made once, at the end of the warm-up (no re-choice later). A trial
 *   holds its fraction of the warm-up, and one of fewer than 16 rows cannot tell configurations
 *   apart (measured: at 1/16 of the bytes the choices of a 25-token warm-up were worse than the
 *   first candidate's), so when the budget's smallest bytes hold a warm-up too short for that (a
 *   `{fraction}` without `minBytes`, or small fractions) `auto` skips the measurement and takes
 *   its first candidate (by default `cells 1/2 int8`: moment cells behind half the budget, every
 *   part in int8), the best single configuration measured on real attention at 1/4–1/16 of the
 *   float32 bytes; `describe()` says so.
 * - `describe()` says what was chosen, the warm-up it was measured on, and every score.
 * - Keys, values or queries beyond the float16 range (|x| > 65504) are refused during a float16
 *   warm-up with `InvalidInputError` (from `@kv/core`; the cache is unchanged), as by every float16
 *   or int8 store; pass `warmupPrecision: 'f32'` and float32 candidates for such streams.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { polynomialPolicies } from '@kv/polynomial';
 * import { autoPolicy, tieredPolicy } from '@kv/hybrid';
 * const registry = new PolicyRegistry().register(autoPolicy, tieredPolicy, ...polynomialPolicies);
 * const cache = registry.create({ policy: 'auto', keyDim: 64, valueDim: 64, budget: { fraction: 1 / 8, minBytes: 16384 } });
 * // … after the warm-up: cache.describe().summary === 'auto chose cells 1/2 (…)'
 * ```
 */
export class AutoCache extends BaseHeadCache {
  /** Warm-up tokens (0: no measurement). */
  readonly warmup: number;
  /** Every `queryStride`-th query of the warm-up is recorded. */
  readonly queryStride: number;
  /** The candidates scored. */
  readonly candidates: readonly AutoCandidate[];
  private readonly registry: PolicyRegistryLike;
  private readonly tokens: SlotStore;
  private readonly queries: SlotStore;
  private readonly zero = new Float32Array(1);
  private inner: HeadCache | null = null;
  private chosen = '';
  private scores: TrialScore[] = [];

  /**
   * @param spec - Spec with a budget and the params of {@link autoParams}.
   * @param registry - Builds the candidates.
   * @throws `InvalidBudgetError` (from `@kv/core`) without a budget; `InvalidParamsError` for bad params.
   */
  constructor(spec: PolicySpec, registry: PolicyRegistryLike) {
    super(spec);
    if (spec.budget === undefined) throw new InvalidBudgetError('auto needs a budget: a token count, { bytes } or { fraction }');
    this.registry = registry;
    const p = spec.params;
    const d = this.keyDim;
    const s = this.valueDim;
    const most = integerParam(p, 'warmup', { default: 256, min: 0, max: 1 << 16 });
    this.queryStride = integerParam(p, 'queryStride', { default: 2, min: 1, max: 1 << 10 });
    const precision = parsePrecision(p?.['warmupPrecision'] ?? 'f16', 'auto params.warmupPrecision');
    this.candidates = readCandidates(p?.['candidates'], registry);
    const seed = spec.seed ?? 0;
    this.tokens = new SlotStore(d, s, { positions: false, precision, seed, initialSlots: 0 });
    this.queries = new SlotStore(d, 1, { precision, seed: seed + 1, initialSlots: 0 });
    const perToken = this.tokens.perRowBytes + this.queries.perRowBytes / this.queryStride;
    const room = floorBytes(spec.budget, d, s) - this.tokens.fixedBytes - this.queries.fixedBytes - this.queries.perRowBytes;
    const warm = Math.min(most, Math.max(0, Math.floor(room / perToken)));
    this.warmup = this.trialFraction() * warm >= MIN_TRIAL_ROWS ? warm : 0;
    this.tokens.limit = this.warmup;
    this.queries.limit = Math.ceil(this.warmup / this.queryStride) + 1;
    if (this.warmup === 0) this.settle(this.fallback(), []);
  }

  /** The candidate's name once chosen ('' during the warm-up). */
  get choice(): string {
    return this.chosen;
  }

  /** The trial scores of the candidates (empty during the warm-up or without one). */
  get trialScores(): readonly TrialScore[] {
    return this.scores;
  }

  /** The chosen cache (null during the warm-up). */
  get construction(): HeadCache | null {
    return this.inner;
  }

  /** The warm-up rows, or the chosen cache's stored size. */
  get stored(): number {
    return this.inner === null ? this.tokens.count : this.inner.stored;
  }

  /** The warm-up's rows and queries, or the chosen cache's bytes. */
  override get bytes(): number {
    return this.inner === null ? this.tokens.heldBytes + this.queries.heldBytes : this.inner.bytes;
  }

  /** The warm-up's length, or the chosen cache's capacity. */
  override get capacity(): number {
    return this.inner === null ? this.warmup : this.inner.capacity;
  }

  private fallback(): AutoCandidate {
    return this.candidates[0]!;
  }

  /** The trial's fraction: the cache's (a quarter for fixed budgets). */
  private trialFraction(): number {
    const b = this.spec.budget!;
    return typeof b === 'object' && 'fraction' in b ? b.fraction : typeof b === 'object' && 'ratio' in b ? b.ratio : FIXED_TRIAL_FRACTION;
  }

  /** The trial budget: the trial fraction of what it has seen, floored at that of a quarter of the warm-up. */
  private trialBudget(): Budget {
    const fraction = this.trialFraction();
    const row = 4 * (this.keyDim + this.valueDim);
    return { fraction, minBytes: Math.floor(fraction * row * Math.ceil(this.tokens.count / 4)) };
  }

  private choose(): void {
    const order = new Int32Array(this.tokens.count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    const base = { keyDim: this.keyDim, valueDim: this.valueDim, tau: this.tau, seed: this.spec.seed ?? 0 };
    const budget = this.trialBudget();
    const scores = this.candidates.map((c) => scoreCandidate(this.registry, base, c, budget, this.tokens, this.queries, order));
    const pick = pickCandidate(scores);
    this.settle(pick >= 0 ? this.candidates[pick]! : this.fallback(), scores);
  }

  /** Builds the chosen configuration with the real budget and feeds it the recorded warm-up. */
  private settle(candidate: AutoCandidate, scores: TrialScore[]): void {
    const inner = this.build(candidate);
    const key = new Float32Array(this.keyDim);
    const value = new Float32Array(this.valueDim);
    const query = new Float32Array(this.keyDim);
    const out = new Float32Array(this.valueDim);
    const positions = this.queries.positions();
    let next = 0;
    for (let t = 0; t < this.tokens.count; t++) {
      inner.append(this.tokens.readKey(t, key), this.tokens.readValue(t, value));
      while (next < this.queries.count && positions[next]! === t) inner.attend(this.queries.readKey(next++, query), out);
    }
    this.tokens.clear();
    this.queries.clear();
    this.tokens.limit = 0;
    this.queries.limit = 0;
    this.inner = inner;
    this.chosen = candidate.name;
    this.scores = scores;
  }

  private build(candidate: AutoCandidate): HeadCache {
    return this.registry.create({ ...candidate.choice, keyDim: this.keyDim, valueDim: this.valueDim, tau: this.tau, seed: this.spec.seed ?? 0, budget: this.spec.budget! });
  }

  protected onAppend(key: Float32Array, value: Float32Array): void {
    if (this.inner === null && this.tokens.count === this.warmup) this.choose();
    if (this.inner !== null) {
      this.inner.append(key, value);
      return;
    }
    this.tokens.push(key, 0, value, 0, 0, 0);
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    if (this.inner !== null) return this.inner.sums(query, out);
    const t = this.tokens.count - 1;
    if (t % this.queryStride === this.queryStride - 1 || t === this.warmup - 1) {
      const last = this.queries.count - 1;
      const fresh = last < 0 || this.queries.positionOf[last]! !== t;
      if (fresh && this.queries.count < this.queries.limit) this.queries.push(query, 0, this.zero, 0, t, 0);
    }
    return this.tokens.sums(query, this.tau, out);
  }

  protected onReset(): void {
    this.inner = null;
    this.chosen = '';
    this.scores = [];
    this.tokens.clear();
    this.queries.clear();
    this.tokens.limit = this.warmup;
    this.queries.limit = Math.ceil(this.warmup / this.queryStride) + 1;
    if (this.warmup === 0) this.settle(this.fallback(), []);
  }

  protected saveState(): CacheState {
    if (this.inner === null) return { scalars: {}, arrays: {}, parts: { tokens: this.tokens.state(), queries: this.queries.state() } };
    return {
      scalars: { choice: this.chosen, scores: JSON.stringify(this.scores.map((x) => [x.name, Number.isFinite(x.error) ? x.error : null])) },
      arrays: {},
      parts: { inner: this.inner.state() },
    };
  }

  protected restoreState(r: StateReader): void {
    if (r.hasPart('tokens')) {
      this.tokens.loadState(r.part('tokens'));
      this.queries.loadState(r.part('queries'));
      return;
    }
    const name = r.string('choice');
    const candidate = this.candidates.find((c) => c.name === name);
    if (!candidate) r.refuse(`auto chose "${name}", which is not one of its candidates`);
    let scores: TrialScore[];
    try {
      scores = (JSON.parse(r.string('scores')) as [string, number | null][]).map(([n, e]) => ({ name: n, error: e ?? Infinity }));
    } catch {
      r.refuse('the scores are not a list of [name, error]');
    }
    const inner = this.build(candidate);
    inner.loadState(r.part('inner').state);
    this.tokens.limit = 0;
    this.queries.limit = 0;
    this.inner = inner;
    this.chosen = name;
    this.scores = scores;
  }

  protected override describeSummary(): string {
    if (this.inner === null) return `auto: warm-up ${this.tokens.count}/${this.warmup} tokens (${this.tokens.precisionLabel}), then chooses among ${this.candidates.map((c) => c.name).join(', ')}`;
    if (this.scores.length === 0) return `auto chose ${this.chosen} without a measurement (the budget's smallest bytes hold no warm-up whose trial has ${MIN_TRIAL_ROWS} rows)`;
    const scored = this.scores.map((x) => `${x.name} ${Number.isFinite(x.error) ? x.error.toFixed(3) : 'refused'}`).join(', ');
    return `auto chose ${this.chosen}: lowest median error on its warm-up of ${this.warmup} tokens (${scored})`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    const stats: Record<string, number | string | boolean> = { choice: this.chosen, warmup: this.warmup };
    for (const x of this.scores) stats[`score ${x.name}`] = Number.isFinite(x.error) ? x.error : 'refused';
    return stats;
  }

  protected override describeParts(): CacheDescription[] {
    return this.inner === null ? [] : [this.inner.describe()];
  }
}

/**
 * Registry entry of {@link AutoCache} (`"auto"`): register it with `tieredPolicy` and the middles
 * it may choose (`@kv/polynomial`'s `moment-cells`, and any seed-method middles).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { polynomialPolicies } from '@kv/polynomial';
 * import { autoPolicy, tieredPolicy } from '@kv/hybrid';
 * new PolicyRegistry().register(autoPolicy, tieredPolicy, ...polynomialPolicies);
 * ```
 */
export const autoPolicy: PolicyDefinition = {
  name: 'auto',
  summary: 'Records a warm-up within the budget, scores sinks + window, moment-cell and seed-method middles and precision mixes on it, and keeps the best; describe() says what and why.',
  params: autoParams,
  budget: 'required',
  create: (spec, registry) => new AutoCache(spec, registry),
};
