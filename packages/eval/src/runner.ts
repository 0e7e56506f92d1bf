import { type Budget, budgetBytes, type HeadCache, isByteBudget, mixSeed, normalizedError, type PolicyRegistry, relativeError } from '@kv/core';
import { type BudgetChoice, resolveBudget } from './budgets.js';
import type { PreparedWorkload } from './prepare.js';
import type { QuerySchedule } from './queries.js';
import { acrossHeads, type ErrorSummary, quantileSorted, type Summary, summarize } from './stats.js';
import type { WorkloadSpec } from './workloads/types.js';

/**
 * A policy to evaluate: registered name, parameters and a display label.
 *
 * @example
 * ```ts
 * import type { PolicyChoice } from '@kv/eval';
 * const p: PolicyChoice = { policy: 'sliding-window', label: 'window' };
 * ```
 */
export interface PolicyChoice {
  /** Registered policy name. */
  readonly policy: string;
  /** Policy parameters. */
  readonly params?: Readonly<Record<string, unknown>>;
  /** Label in tables (default: the name). */
  readonly label?: string;
}

/**
 * One cell of the grid: a policy at a budget on a workload with a seed.
 *
 * @example
 * ```ts
 * import type { RunJob } from '@kv/eval';
 * const job: RunJob = { index: 0, policy: { policy: 'exact' }, budget: { kind: 'full', value: 0, label: 'full' },
 *   workload: { family: 'gaussian', n: 64, d: 16 }, workloadIndex: 0, seed: 0, queries: { from: '1/4', every: '1/32' } };
 * ```
 */
export interface RunJob {
  /** Position in the grid; results come back in this order. */
  readonly index: number;
  /** The policy. */
  readonly policy: PolicyChoice;
  /** The budget. */
  readonly budget: BudgetChoice;
  /** The workload description. */
  readonly workload: WorkloadSpec;
  /** Index of the workload in the config (workloads are built once per index and seed). */
  readonly workloadIndex: number;
  /** Seed of the workload draws and of the policy. */
  readonly seed: number;
  /** When queries are scored. */
  readonly queries: Required<QuerySchedule>;
}

/**
 * The error of a policy along the stream: the median over heads at each query time.
 *
 * @example
 * ```ts
 * import type { ErrorSeries } from '@kv/eval';
 * const s: ErrorSeries = { step: [256, 288], relative: [0.04, 0.05], normalized: [0.001, 0.002] };
 * ```
 */
export interface ErrorSeries {
  /** Query time t (0-based) of each point. */
  step: number[];
  /** Median relative error over heads at that time. */
  relative: number[];
  /** Median normalised error over heads at that time. */
  normalized: number[];
}

/**
 * One head of a finished run: its errors over its query times, and its memory.
 *
 * @example
 * ```ts
 * import type { HeadResult } from '@kv/eval';
 * const worstHead = (heads: HeadResult[]) => heads.reduce((a, b) => (b.relative.median > a.relative.median ? b : a));
 * ```
 */
export interface HeadResult {
  /** Head label (`L1.H2` for traces, `h0` for synthetic streams). */
  label: string;
  /** Query times scored. */
  queries: number;
  /** Relative error ||z − Attn|| / ||Attn|| over the query times. */
  relative: Summary;
  /** Normalised error ||z − Attn|| / (||softmax||·||V||_F) over the query times. */
  normalized: Summary;
  /** Bytes held at the last query time. */
  bytes: number;
  /** The budget in bytes at the last query time (token budgets count float32 rows; null: none). */
  budgetBytes: number | null;
  /** Largest bytes held / budget over the query times (null: no budget). */
  budgetRatio: number | null;
}

/**
 * What every result carries, finished or not.
 *
 * @example
 * ```ts
 * import type { RunIdentity } from '@kv/eval';
 * const key = (r: RunIdentity) => `${r.workload}/${r.label}@${r.budget}`;
 * ```
 */
export interface RunIdentity {
  /** Grid position. */
  index: number;
  /** Policy name. */
  policy: string;
  /** Policy label. */
  label: string;
  /** Policy parameters. */
  params: Readonly<Record<string, unknown>>;
  /** Budget label. */
  budget: string;
  /** The core budget given to the first head (null when none). */
  budgetValue: Budget | null;
  /** Workload name. */
  workload: string;
  /** Seed. */
  seed: number;
}

/**
 * A finished run: errors per head over the query times and summarised over heads, memory at the
 * query times, time.
 *
 * @example
 * ```ts
 * import type { RunOk } from '@kv/eval';
 * const headline = (r: RunOk) => `${r.label}: ${r.relative.median} at ${r.bytes} B`;
 * ```
 */
export interface RunOk extends RunIdentity {
  /** The run finished. */
  ok: true;
  /** Queries scored, over all heads. */
  queries: number;
  /** Relative error: median over query times per head, then over heads, with the spread. */
  relative: ErrorSummary;
  /** Normalised error, summarised the same way. */
  normalized: ErrorSummary;
  /** Every head. */
  heads: HeadResult[];
  /** Bytes held at the last query time, summed over heads. */
  bytes: number;
  /** Largest bytes held at a query time, summed over heads. */
  peakBytes: number;
  /** The budget in bytes at the last query time, summed over heads (null: no budget). */
  budgetBytes: number | null;
  /** Largest bytes held / budget of any head at any query time (null: no budget). */
  budgetRatio: number | null;
  /** Whether a byte budget (`{bytes}`, `{fraction}`) was exceeded at some query time. */
  overBudget: boolean;
  /** Token-equivalents stored at the last query time, summed over heads. */
  stored: number;
  /** Float32 bytes of the tokens seen at the last query time over `bytes`. */
  compression: number;
  /** Mean append time per token, nanoseconds. */
  appendNs: number;
  /** Mean attend time per query, nanoseconds. */
  attendNs: number;
  /** Errors along the stream. */
  series: ErrorSeries;
  /** What the first head's cache chose (`describe().summary` at the end). */
  chose: string;
}

/**
 * A run that stopped: no numbers, only the error.
 *
 * @example
 * ```ts
 * import type { RunFailed } from '@kv/eval';
 * const line = (r: RunFailed) => `${r.label} @ ${r.budget}: ${r.error}`;
 * ```
 */
export interface RunFailed extends RunIdentity {
  /** The run failed. */
  ok: false;
  /** The error that stopped it (`Name: message (head, step)`). */
  error: string;
}

/**
 * The outcome of one {@link RunJob}.
 *
 * @example
 * ```ts
 * import type { RunResult } from '@kv/eval';
 * const worst = (r: RunResult) => (r.ok ? r.relative.max : NaN);
 * ```
 */
export type RunResult = RunOk | RunFailed;

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

function medianOf(values: number[]): number {
  return quantileSorted(Float64Array.from(values).sort(), 0.5);
}

interface HeadRun {
  readonly result: HeadResult;
  readonly relative: Float64Array;
  readonly normalized: Float64Array;
  readonly peak: number;
  readonly stored: number;
  readonly fullBytes: number;
  readonly chose: string;
  readonly appendMs: number;
  readonly attendMs: number;
  readonly attends: number;
}

function runHead(registry: PolicyRegistry, job: RunJob, prepared: PreparedWorkload, hi: number, budget: Budget | undefined): HeadRun {
  const { workload } = prepared;
  const h = workload.heads[hi]!;
  const ref = prepared.reference[hi]!;
  const d = h.keyDim;
  const s = h.valueDim;
  let cache: HeadCache;
  try {
    cache = registry.create({
      policy: job.policy.policy,
      keyDim: d,
      valueDim: s,
      tau: workload.tau,
      seed: mixSeed(job.seed, hi),
      ...(job.policy.params ? { params: job.policy.params } : {}),
      ...(budget !== undefined ? { budget } : {}),
    });
  } catch (e) {
    throw new Error(`${describeError(e)} (creating head ${h.label})`);
  }
  const steps = ref.steps;
  const last = steps[steps.length - 1]!;
  const relative = new Float64Array(steps.length);
  const normalized = new Float64Array(steps.length);
  const out = new Float32Array(s);
  let next = 0;
  let peak = 0;
  let ratio = budget === undefined ? null : 0;
  let bytes = 0;
  let budgetAtLast: number | null = null;
  let appendMs = 0;
  let attendMs = 0;
  let t = 0;
  try {
    for (; t <= last; t++) {
      const t0 = performance.now();
      cache.append(h.keys.subarray(t * d, (t + 1) * d), h.values.subarray(t * s, (t + 1) * s));
      const t1 = performance.now();
      // Every query is answered, so query-aware policies see each one; only query times are scored.
      cache.attend(h.queries.subarray(t * d, (t + 1) * d), out);
      appendMs += t1 - t0;
      attendMs += performance.now() - t1;
      if (steps[next] !== t) continue;
      const want = ref.outputs.subarray(next * s, (next + 1) * s);
      for (let j = 0; j < s; j++) if (!Number.isFinite(out[j]!)) throw new Error(`NonFiniteOutput: the answer holds ${out[j]}`);
      relative[next] = relativeError(out, want);
      normalized[next] = normalizedError(out, want, ref.softmaxNorms[next]!, ref.valueNorms[next]!);
      bytes = cache.bytes;
      peak = Math.max(peak, bytes);
      if (budget !== undefined) {
        budgetAtLast = budgetBytes(budget, t + 1, d, s);
        ratio = Math.max(ratio!, bytes / budgetAtLast);
      }
      next++;
    }
  } catch (e) {
    throw new Error(`${describeError(e)} (head ${h.label}, step ${t})`);
  }
  return {
    result: { label: h.label, queries: steps.length, relative: summarize(relative), normalized: summarize(normalized), bytes, budgetBytes: budgetAtLast, budgetRatio: ratio },
    relative,
    normalized,
    peak,
    stored: cache.stored,
    fullBytes: 4 * (last + 1) * (d + s),
    chose: cache.describe().summary,
    appendMs,
    attendMs,
    attends: last + 1,
  };
}

function seriesOf(prepared: PreparedWorkload, runs: readonly HeadRun[]): ErrorSeries {
  const steps = prepared.reference[0]!.steps;
  const series: ErrorSeries = { step: [], relative: [], normalized: [] };
  steps.forEach((step, i) => {
    const rel: number[] = [];
    const nrm: number[] = [];
    runs.forEach((r, hi) => {
      // Heads of a trace share query times when they have equal lengths; others are left out.
      if (prepared.reference[hi]!.steps[i] !== step) return;
      rel.push(r.relative[i]!);
      nrm.push(r.normalized[i]!);
    });
    series.step.push(step);
    series.relative.push(medianOf(rel));
    series.normalized.push(medianOf(nrm));
  });
  return series;
}

/**
 * Runs one policy on a prepared workload with the decode protocol: every head is fed causally
 * (append k_t, v_t, then answer q_t at every step), holds the budget computed for its stream
 * (a fraction is a fraction of what it has seen, never below its value at the first query time),
 * and is scored at the query times. A policy that throws yields `ok: false` with the error and
 * no numbers, not an exception.
 *
 * @param registry - Registry holding the policy.
 * @param job - The grid cell.
 * @param prepared - The workload with its exact answers (from {@link prepareWorkload}).
 * @returns The result.
 * @example
 * ```ts
 * import { createDefaultRegistry, prepareWorkload, runJob, parseBudget, DEFAULT_QUERIES } from '@kv/eval';
 * const w = { family: 'gaussian', n: 256, d: 16 } as const;
 * const r = runJob(createDefaultRegistry(), { index: 0, policy: { policy: 'sliding-window' },
 *   budget: parseBudget('1/4'), workload: w, workloadIndex: 0, seed: 0, queries: DEFAULT_QUERIES },
 *   prepareWorkload(w, 0));
 * if (r.ok) console.log(r.relative.median, r.budgetRatio);
 * ```
 */
export function runJob(registry: PolicyRegistry, job: RunJob, prepared: PreparedWorkload): RunResult {
  const { workload } = prepared;
  const budgets = workload.heads.map((h, hi) => resolveBudget(job.budget, { keyDim: h.keyDim, valueDim: h.valueDim, firstQuery: prepared.reference[hi]!.steps[0]! }));
  const identity: RunIdentity = {
    index: job.index,
    policy: job.policy.policy,
    label: job.policy.label ?? job.policy.policy,
    params: job.policy.params ?? {},
    budget: job.budget.label,
    budgetValue: budgets[0] ?? null,
    workload: workload.name,
    seed: job.seed,
  };
  const runs: HeadRun[] = [];
  try {
    for (let hi = 0; hi < workload.heads.length; hi++) runs.push(runHead(registry, job, prepared, hi, budgets[hi]));
  } catch (e) {
    return { ...identity, ok: false, error: (e as Error).message };
  }
  const heads = runs.map((r) => r.result);
  const bytes = heads.reduce((a, h) => a + h.bytes, 0);
  const fullBytes = runs.reduce((a, r) => a + r.fullBytes, 0);
  const hasBudget = budgets[0] !== undefined;
  const budgetRatio = hasBudget ? Math.max(...heads.map((h) => h.budgetRatio!)) : null;
  const attends = runs.reduce((a, r) => a + r.attends, 0);
  return {
    ...identity,
    ok: true,
    queries: heads.reduce((a, h) => a + h.queries, 0),
    relative: acrossHeads(heads.map((h) => h.relative)),
    normalized: acrossHeads(heads.map((h) => h.normalized)),
    heads,
    bytes,
    peakBytes: runs.reduce((a, r) => a + r.peak, 0),
    budgetBytes: hasBudget ? heads.reduce((a, h) => a + h.budgetBytes!, 0) : null,
    budgetRatio,
    overBudget: isByteBudget(budgets[0]) && budgetRatio! > 1,
    stored: runs.reduce((a, r) => a + r.stored, 0),
    compression: bytes === 0 ? Infinity : fullBytes / bytes,
    appendNs: (runs.reduce((a, r) => a + r.appendMs, 0) * 1e6) / attends,
    attendNs: (runs.reduce((a, r) => a + r.attendMs, 0) * 1e6) / attends,
    series: seriesOf(prepared, runs),
    chose: runs[0]!.chose,
  };
}
