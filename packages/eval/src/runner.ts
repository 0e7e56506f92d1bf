import {
  ExactCache,
  type HeadCache,
  mixSeed,
  normalizedError,
  type PolicyRegistry,
  relativeError,
} from '@kv/core';
import { type BudgetChoice, resolveBudget } from './budgets.js';
import { type Summary, summarize } from './stats.js';
import { buildWorkload } from './workloads/build.js';
import type { Workload, WorkloadSpec } from './workloads/types.js';

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
 *   workload: { family: 'gaussian', n: 64, d: 16 }, workloadIndex: 0, seed: 0, queryStride: 1 };
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
  /** Ask a query every `queryStride` steps (and at the last step). */
  readonly queryStride: number;
}

/**
 * The error of a policy along the stream: the mean over heads at each asked step, thinned to at
 * most 256 points.
 *
 * @example
 * ```ts
 * import type { ErrorSeries } from '@kv/eval';
 * const s: ErrorSeries = { step: [0, 1], relative: [0, 0.1], normalized: [0, 0.01] };
 * ```
 */
export interface ErrorSeries {
  /** Step t (0-based) of each point. */
  step: number[];
  /** Mean relative error over heads at that step. */
  relative: number[];
  /** Mean normalised error over heads at that step. */
  normalized: number[];
}

/**
 * The outcome of one {@link RunJob}: errors over every asked query of every head, memory and time.
 *
 * @example
 * ```ts
 * import type { RunResult } from '@kv/eval';
 * const worst = (r: RunResult) => r.relative.max;
 * ```
 */
export interface RunResult {
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
  /** The core budget given to the policy (a token count, {ratio}, or null when none). */
  budgetValue: unknown;
  /** Workload name. */
  workload: string;
  /** Seed. */
  seed: number;
  /** Whether the run finished; otherwise `error` says why. */
  ok: boolean;
  /** The error that stopped the run (`Name: message`). */
  error?: string;
  /** Number of queries scored (over all heads). */
  queries: number;
  /** Relative error ||z − Attn|| / ||Attn||. */
  relative: Summary;
  /** Normalised error ||z − Attn|| / (||softmax||·||V||_F). */
  normalized: Summary;
  /** Bytes held at the end of the stream, summed over heads. */
  bytes: number;
  /** Largest bytes held at any asked step, summed over heads. */
  peakBytes: number;
  /** Token-equivalents stored at the end, summed over heads. */
  stored: number;
  /** Full fp32 cache bytes over final bytes (4·n·(d+s)·heads / bytes). */
  compression: number;
  /** Mean append time per token, nanoseconds. */
  appendNs: number;
  /** Mean attend time per query, nanoseconds. */
  attendNs: number;
  /** Errors along the stream. */
  series: ErrorSeries;
}

/**
 * The exact answers of one head at its asked steps.
 *
 * @example
 * ```ts
 * import { prepareWorkload } from '@kv/eval';
 * const ref = prepareWorkload({ family: 'gaussian', n: 8, d: 4 }, 0, 1).reference[0]!;
 * ref.steps.length; // 8
 * ```
 */
export interface HeadReference {
  /** The asked steps, ascending. */
  readonly steps: Int32Array;
  /** Exact outputs, steps × s, row-major. */
  readonly outputs: Float32Array;
  /** ||softmax(K·q·τ)||₂ at each asked step. */
  readonly softmaxNorms: Float64Array;
  /** ||V||_F over the tokens seen at each asked step. */
  readonly valueNorms: Float64Array;
}

/**
 * A built workload with its exact answers at the asked steps, shared by every policy run on it.
 *
 * @example
 * ```ts
 * import { type PreparedWorkload, prepareWorkload } from '@kv/eval';
 * const p: PreparedWorkload = prepareWorkload({ family: 'gaussian', n: 64, d: 16 }, 0, 4);
 * p.reference[0]!.steps; // [3, 7, …, 63]: the steps asked with stride 4
 * ```
 */
export interface PreparedWorkload {
  /** The workload. */
  readonly workload: Workload;
  /** Exact outputs per head at the asked steps. */
  readonly reference: readonly HeadReference[];
}

/**
 * The steps at which queries are asked: every `stride`-th step from `first` on, and the last.
 * @param n - Stream length.
 * @param stride - Query stride (≥ 1).
 * @param first - First step that may be asked (default 0).
 * @returns Ascending steps.
 * @example
 * ```ts
 * import { querySteps } from '@kv/eval';
 * querySteps(10, 4); // [3, 7, 9]
 * ```
 */
export function querySteps(n: number, stride: number, first = 0): Int32Array {
  const steps: number[] = [];
  for (let t = first + stride - 1; t < n; t += stride) steps.push(t);
  if (steps[steps.length - 1] !== n - 1) steps.push(n - 1);
  return Int32Array.from(steps);
}

/**
 * Builds a workload and replays it through core's `ExactCache` to record the exact outputs,
 * softmax norms and ||V||_F at the asked steps.
 *
 * @param spec - Workload description.
 * @param seed - Seed of its draws.
 * @param queryStride - Query stride.
 * @returns The workload and its reference answers.
 * @example
 * ```ts
 * import { prepareWorkload } from '@kv/eval';
 * const p = prepareWorkload({ family: 'gaussian', n: 32, d: 8 }, 0, 1);
 * ```
 */
export function prepareWorkload(spec: WorkloadSpec, seed: number, queryStride: number): PreparedWorkload {
  const workload = buildWorkload(spec, seed);
  const reference = workload.heads.map((h) => {
    const steps = querySteps(h.length, queryStride, h.firstQuery ?? 0);
    const exact = new ExactCache({ policy: 'exact', keyDim: h.keyDim, valueDim: h.valueDim, tau: workload.tau });
    const outputs = new Float32Array(steps.length * h.valueDim);
    const softmaxNorms = new Float64Array(steps.length);
    const valueNorms = new Float64Array(steps.length);
    let next = 0;
    for (let t = 0; t < h.length; t++) {
      exact.append(h.keys.subarray(t * h.keyDim, (t + 1) * h.keyDim), h.values.subarray(t * h.valueDim, (t + 1) * h.valueDim));
      if (steps[next] === t) {
        const q = h.queries.subarray(t * h.keyDim, (t + 1) * h.keyDim);
        exact.attend(q, outputs.subarray(next * h.valueDim, (next + 1) * h.valueDim));
        softmaxNorms[next] = exact.softmaxNorm(q);
        valueNorms[next] = exact.valueFrobeniusNorm;
        next++;
      }
    }
    return { steps, outputs, softmaxNorms, valueNorms };
  });
  return { workload, reference };
}

const MAX_SERIES_POINTS = 256;

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/**
 * Runs one policy on a prepared workload: every head is replayed causally (append k_t, v_t, then
 * answer q_t at the asked steps), and each answer is scored against the exact one.
 * A policy that throws yields `ok: false` with the error, not an exception.
 *
 * @param registry - Registry holding the policy.
 * @param job - The grid cell.
 * @param prepared - The workload with its exact answers (from {@link prepareWorkload}).
 * @returns The result.
 * @example
 * ```ts
 * import { createDefaultRegistry, prepareWorkload, runJob } from '@kv/eval';
 * const w = { family: 'gaussian', n: 64, d: 16 } as const;
 * const r = runJob(createDefaultRegistry(), { index: 0, policy: { policy: 'exact' },
 *   budget: { kind: 'full', value: 0, label: 'full' }, workload: w, workloadIndex: 0, seed: 0, queryStride: 1 },
 *   prepareWorkload(w, 0, 1));
 * ```
 */
export function runJob(registry: PolicyRegistry, job: RunJob, prepared: PreparedWorkload): RunResult {
  const { workload, reference } = prepared;
  const budgetValue = resolveBudget(job.budget, workload.length);
  const relative: number[] = [];
  const normalized: number[] = [];
  const seriesSteps = reference[0]!.steps;
  const seriesRel = new Float64Array(seriesSteps.length);
  const seriesNorm = new Float64Array(seriesSteps.length);
  const seriesCount = new Float64Array(seriesSteps.length);
  let bytes = 0;
  let stored = 0;
  let peakBytes = 0;
  let fullBytes = 0;
  let appendMs = 0;
  let attendMs = 0;
  let appends = 0;
  let attends = 0;
  let error: string | undefined;
  const heads: HeadCache[] = [];
  const peakPerHead: number[] = [];
  try {
    workload.heads.forEach((h, hi) => {
      const ref = reference[hi]!;
      const spec = {
        policy: job.policy.policy,
        keyDim: h.keyDim,
        valueDim: h.valueDim,
        tau: workload.tau,
        seed: mixSeed(job.seed, hi),
        ...(job.policy.params ? { params: job.policy.params } : {}),
        ...(budgetValue !== undefined ? { budget: budgetValue } : {}),
      };
      const cache = registry.create(spec);
      heads.push(cache);
      const out = new Float32Array(h.valueDim);
      let next = 0;
      let peak = 0;
      for (let t = 0; t < h.length; t++) {
        const k = h.keys.subarray(t * h.keyDim, (t + 1) * h.keyDim);
        const v = h.values.subarray(t * h.valueDim, (t + 1) * h.valueDim);
        const t0 = performance.now();
        cache.append(k, v);
        appendMs += performance.now() - t0;
        appends++;
        if (ref.steps[next] !== t) continue;
        const q = h.queries.subarray(t * h.keyDim, (t + 1) * h.keyDim);
        const t1 = performance.now();
        cache.attend(q, out);
        attendMs += performance.now() - t1;
        attends++;
        const want = ref.outputs.subarray(next * h.valueDim, (next + 1) * h.valueDim);
        const rel = relativeError(out, want);
        const nrm = normalizedError(out, want, ref.softmaxNorms[next]!, ref.valueNorms[next]!);
        relative.push(rel);
        normalized.push(nrm);
        // Heads of a trace share step indices when they have equal lengths; others are skipped.
        if (seriesSteps[next] === t) {
          seriesRel[next]! += rel;
          seriesNorm[next]! += nrm;
          seriesCount[next]! += 1;
        }
        peak = Math.max(peak, cache.bytes);
        next++;
      }
      peakPerHead.push(peak);
      fullBytes += 4 * h.length * (h.keyDim + h.valueDim);
    });
  } catch (e) {
    error = describeError(e);
  }
  for (const c of heads) {
    bytes += c.bytes;
    stored += c.stored;
  }
  for (const p of peakPerHead) peakBytes += p;
  const thin = Math.max(1, Math.ceil(seriesSteps.length / MAX_SERIES_POINTS));
  const series: ErrorSeries = { step: [], relative: [], normalized: [] };
  for (let i = 0; i < seriesSteps.length; i++) {
    if (seriesCount[i] === 0 || (i % thin !== 0 && i !== seriesSteps.length - 1)) continue;
    series.step.push(seriesSteps[i]!);
    series.relative.push(seriesRel[i]! / seriesCount[i]!);
    series.normalized.push(seriesNorm[i]! / seriesCount[i]!);
  }
  const result: RunResult = {
    index: job.index,
    policy: job.policy.policy,
    label: job.policy.label ?? job.policy.policy,
    params: job.policy.params ?? {},
    budget: job.budget.label,
    budgetValue: budgetValue ?? null,
    workload: workload.name,
    seed: job.seed,
    ok: error === undefined,
    queries: relative.length,
    relative: summarize(relative),
    normalized: summarize(normalized),
    bytes,
    peakBytes: Math.max(peakBytes, bytes),
    stored,
    compression: bytes === 0 ? (fullBytes === 0 ? 0 : Infinity) : fullBytes / bytes,
    appendNs: appends === 0 ? NaN : (appendMs * 1e6) / appends,
    attendNs: attends === 0 ? NaN : (attendMs * 1e6) / attends,
    series,
  };
  if (error !== undefined) result.error = error;
  return result;
}
