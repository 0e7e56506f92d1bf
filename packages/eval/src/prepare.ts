import { ExactCache } from '@kv/core';
import { DEFAULT_QUERIES, type QuerySchedule, queryTimes } from './queries.js';
import { buildWorkload } from './workloads/build.js';
import type { Workload, WorkloadSpec } from './workloads/types.js';

/**
 * The exact answers of one head at its query times.
 *
 * @example
 * ```ts
 * import { prepareWorkload } from '@kv/eval';
 * const ref = prepareWorkload({ family: 'gaussian', n: 64, d: 4 }, 0).reference[0]!;
 * ref.steps; // [16, 18, 20, …, 62]: from n/4, every n/32
 * ```
 */
export interface HeadReference {
  /** The query times (0-based steps), ascending. */
  readonly steps: Int32Array;
  /** Exact outputs, steps × s, row-major. */
  readonly outputs: Float32Array;
  /** ||softmax(K·q·τ)||₂ at each query time. */
  readonly softmaxNorms: Float64Array;
  /** ||V||_F over the tokens seen at each query time. */
  readonly valueNorms: Float64Array;
}

/**
 * A built workload with its exact answers at the query times, shared by every policy run on it.
 *
 * @example
 * ```ts
 * import { type PreparedWorkload, prepareWorkload } from '@kv/eval';
 * const p: PreparedWorkload = prepareWorkload({ family: 'gaussian', n: 64, d: 16 }, 0, { from: 0, every: 4 });
 * p.reference[0]!.steps; // [0, 4, 8, …, 60]
 * ```
 */
export interface PreparedWorkload {
  /** The workload. */
  readonly workload: Workload;
  /** Exact outputs per head at the query times. */
  readonly reference: readonly HeadReference[];
}

/**
 * Builds a workload and replays each head through core's `ExactCache` to record the exact
 * outputs, softmax norms and ||V||_F at its query times.
 *
 * @param spec - Workload description.
 * @param seed - Seed of its draws.
 * @param queries - When queries are scored (default from n/4 every n/32).
 * @returns The workload and its reference answers.
 * @throws `InvalidParamsError` (from `@kv/core`) for a bad synthetic workload,
 *   {@link TraceFormatError} for a bad trace, {@link ConfigError} for a model workload that cannot be read;
 *   `DimensionMismatchError` or `NonFiniteInputError` (from `@kv/core`) for a model file that loads
 *   but whose keys or values the cache refuses (NaN or Infinity from corrupt weights).
 * @example
 * ```ts
 * import { prepareWorkload } from '@kv/eval';
 * const p = prepareWorkload({ family: 'gaussian', n: 32, d: 8 }, 0);
 * ```
 */
export function prepareWorkload(spec: WorkloadSpec, seed: number, queries: QuerySchedule = DEFAULT_QUERIES): PreparedWorkload {
  const workload = buildWorkload(spec, seed);
  const reference = workload.heads.map((h) => {
    const steps = queryTimes(h.length, queries, h.firstQuery ?? 0);
    const exact = new ExactCache({ policy: 'exact', keyDim: h.keyDim, valueDim: h.valueDim, tau: workload.tau });
    const outputs = new Float32Array(steps.length * h.valueDim);
    const softmaxNorms = new Float64Array(steps.length);
    const valueNorms = new Float64Array(steps.length);
    let next = 0;
    // cannot throw: the workload's rows are finite views of its own dimensions (buildWorkload checked them) and every query follows an append
    for (let t = 0; t < h.length && next < steps.length; t++) {
      exact.append(h.keys.subarray(t * h.keyDim, (t + 1) * h.keyDim), h.values.subarray(t * h.valueDim, (t + 1) * h.valueDim));
      if (steps[next] !== t) continue;
      const q = h.queries.subarray(t * h.keyDim, (t + 1) * h.keyDim);
      exact.attend(q, outputs.subarray(next * h.valueDim, (next + 1) * h.valueDim));
      softmaxNorms[next] = exact.softmaxNorm(q);
      valueNorms[next] = exact.valueFrobeniusNorm;
      next++;
    }
    return { steps, outputs, softmaxNorms, valueNorms };
  });
  return { workload, reference };
}
