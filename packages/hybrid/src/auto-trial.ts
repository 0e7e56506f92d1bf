import {
  type Budget,
  createKernelSums,
  type HeadCache,
  isKvError,
  type PolicyChoice,
  type PolicyRegistryLike,
  type PolicySpec,
  type SlotStore,
  sumsToOutput,
} from '@kv/core';

/**
 * A configuration `auto` may choose: a name for `describe()` and the policy choice (budget-free:
 * the trial and the real cache give it their budgets).
 *
 * @example
 * ```ts
 * import type { AutoCandidate } from '@kv/hybrid';
 * const cells: AutoCandidate = { name: 'cells 1/2', choice: { policy: 'tiered', params: { sinks: 4, window: { share: 0.5 }, middle: { policy: 'moment-cells' } } } };
 * ```
 */
export interface AutoCandidate {
  /** Short name, for `describe()`. */
  readonly name: string;
  /** The configuration, without a budget. */
  readonly choice: PolicyChoice;
}

/**
 * The candidates `auto` scores by default, in its order of preference (what it keeps among
 * candidates its warm-up cannot tell apart): moment cells (`@kv/polynomial`) behind windows of
 * 1/2, 3/4 and 1/4 of the budget with every part in int8 (int8 holds about 3.6 times the rows of
 * float32 in the same bytes), plain sinks + window in int8, the same cells in float32, plain sinks
 * + window in float32 (the baseline `auto` never does worse than on its warm-up), and every other
 * registered seed-method middle (`balancekv`, `lsh-sample`, `subgen`) behind half the budget. The
 * order is the measured ranking on real attention of the tiny model (texts 1–3, 1/4–1/16 of the
 * float32 bytes); windows are shares of the budget, so a configuration means the same at the
 * warm-up's scale and at the stream's.
 *
 * @param registry - The registry the candidates are built from (middles it lacks are left out).
 * @returns The candidates, most preferred first.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { polynomialPolicies } from '@kv/polynomial';
 * import { defaultAutoCandidates, tieredPolicy } from '@kv/hybrid';
 * const registry = new PolicyRegistry().register(tieredPolicy, ...polynomialPolicies);
 * defaultAutoCandidates(registry).map((c) => c.name); // ['cells 1/2 int8', 'cells 3/4 int8', …]
 * ```
 */
export function defaultAutoCandidates(registry: PolicyRegistryLike): AutoCandidate[] {
  const tieredWith = (share: number, middle?: PolicyChoice, precision?: string): PolicyChoice => ({
    policy: 'tiered',
    params: { sinks: 4, window: { share }, ...(middle ? { middle } : {}), ...(precision ? { precision } : {}) },
  });
  const cells = registry.has('moment-cells');
  const shares = [[0.5, '1/2'], [0.75, '3/4'], [0.25, '1/4']] as const;
  const out: AutoCandidate[] = [];
  for (const precision of ['int8', undefined]) {
    const tag = precision ? ` ${precision}` : '';
    if (cells) for (const [share, label] of shares) out.push({ name: `cells ${label}${tag}`, choice: tieredWith(share, { policy: 'moment-cells' }, precision) });
    out.push({ name: `sinks + window${tag}`, choice: tieredWith(1, undefined, precision) });
  }
  // As middles, these keep no sinks or window of their own: the tiered cache has them.
  for (const [middle, params] of [['balancekv', { sink: 0, window: 0, blockShare: 0.25 }], ['lsh-sample', { sink: 0, window: 0 }], ['subgen', undefined]] as const) {
    if (registry.has(middle)) out.push({ name: `${middle} 1/2`, choice: tieredWith(0.5, { policy: middle, ...(params ? { params } : {}) }) });
  }
  return out;
}

/**
 * The outcome of one candidate's trial on the warm-up.
 *
 * @example
 * ```ts
 * import type { TrialScore } from '@kv/hybrid';
 * const score: TrialScore = { name: 'cells 1/2 int8', error: 0.012 };
 * ```
 */
export interface TrialScore {
  /** The candidate's name. */
  readonly name: string;
  /** Median relative error over the scored warm-up queries (Infinity when it refused or failed). */
  readonly error: number;
}

/**
 * Replays a recorded warm-up through a candidate at `budget` and scores it: at each recorded query
 * time from a quarter of the warm-up on, the relative error ||ô − o||/||o|| against exact attention
 * over the warm-up rows so far; the score is the median. A candidate that refuses the budget or
 * fails scores Infinity.
 *
 * @param registry - Builds the candidate.
 * @param base - Dimensions, τ and seed of the real cache.
 * @param candidate - The configuration.
 * @param budget - The trial's budget.
 * @param tokens - The warm-up rows (slot i = position i).
 * @param queries - The recorded queries (value unused; position = the step it was asked after).
 * @param order - The identity slot list 0…n−1 (reused scratch).
 * @returns The score.
 */
export function scoreCandidate(
  registry: PolicyRegistryLike,
  base: Pick<PolicySpec, 'keyDim' | 'valueDim' | 'tau' | 'seed'>,
  candidate: AutoCandidate,
  budget: Budget,
  tokens: SlotStore,
  queries: SlotStore,
  order: Int32Array,
): TrialScore {
  const d = base.keyDim;
  const s = base.valueDim;
  const tau = base.tau ?? 1 / Math.sqrt(d);
  let cache: HeadCache;
  try {
    cache = registry.create({ ...candidate.choice, ...base, budget });
  } catch (e) {
    if (isKvError(e)) return { name: candidate.name, error: Infinity };
    throw e;
  }
  const key = new Float32Array(d);
  const value = new Float32Array(s);
  const query = new Float32Array(d);
  const out = new Float32Array(s);
  const want = new Float64Array(s);
  const exact = createKernelSums(s);
  const positions = queries.positions();
  const from = Math.floor(tokens.count / 4);
  const errors: number[] = [];
  let next = 0;
  try {
    for (let t = 0; t < tokens.count; t++) {
      cache.append(tokens.readKey(t, key), tokens.readValue(t, value));
      while (next < queries.count && positions[next]! === t) {
        queries.readKey(next++, query);
        cache.attend(query, out);
        if (t < from) continue;
        sumsToOutput(tokens.sumsOf(query, tau, order, 0, t + 1, 0, exact), want);
        let num = 0;
        let den = 0;
        for (let j = 0; j < s; j++) {
          num += (out[j]! - want[j]!) ** 2;
          den += want[j]! ** 2;
        }
        errors.push(den > 0 ? Math.sqrt(num / den) : Math.sqrt(num));
      }
    }
  } catch (e) {
    if (isKvError(e)) return { name: candidate.name, error: Infinity };
    throw e;
  }
  if (errors.length === 0) return { name: candidate.name, error: Infinity };
  errors.sort((a, b) => a - b);
  const m = errors.length >> 1;
  return { name: candidate.name, error: errors.length % 2 ? errors[m]! : (errors[m - 1]! + errors[m]!) / 2 };
}
