import type { SpaceBound } from '../bounds.js';
import type { ResolvedConfig } from '../config.js';
import type { RunResult } from '../runner.js';

/**
 * Facts about one workload of a report (from its first seed).
 *
 * @example
 * ```ts
 * import type { WorkloadInfo } from '@kv/eval';
 * const w: WorkloadInfo = { name: 'index', family: 'index', description: '', n: 512, d: 64, s: 64,
 *   heads: 1, radius: 14, tau: 0.125, rho: 24.5, hard: true };
 * ```
 */
export interface WorkloadInfo {
  /** Name. */
  name: string;
  /** Family. */
  family: string;
  /** Description. */
  description: string;
  /** Stream length. */
  n: number;
  /** Key dimension. */
  d: number;
  /** Value dimension. */
  s: number;
  /** Number of heads. */
  heads: number;
  /** Measured radius r. */
  radius: number;
  /** Logit scale τ. */
  tau: number;
  /** ρ = r²τ. */
  rho: number;
  /** Whether it is a lower-bound (hard) instance. */
  hard: boolean;
}

/**
 * The theorem space next to what a run measured, at the error the run reached.
 *
 * @example
 * ```ts
 * import type { BoundComparison } from '@kv/eval';
 * const row: BoundComparison = { workload: 'gaussian', label: 'sliding-window', budget: '1/4', seed: 0,
 *   epsilon: 0.1, measuredBytes: 8192, bounds: [] };
 * ```
 */
export interface BoundComparison {
  /** Workload name. */
  workload: string;
  /** Policy label. */
  label: string;
  /** Budget label. */
  budget: string;
  /** Seed. */
  seed: number;
  /** The error reached: the normalised error's p90 over query times, median over heads. */
  epsilon: number;
  /** Bytes the policy held per head at the last query time (mean over heads), as the bounds count. */
  measuredBytes: number;
  /** Every bound at (n, d, s, ε, r) of the workload. */
  bounds: SpaceBound[];
}

/**
 * Everything one evaluation produced; `results.json` is this object.
 *
 * @example
 * ```ts
 * import type { EvalReport } from '@kv/eval';
 * const best = (r: EvalReport) => r.results.filter((x) => x.ok);
 * ```
 */
export interface EvalReport {
  /** The config name. */
  name: string;
  /** The resolved config. */
  config: ResolvedConfig;
  /** Where and how it ran. */
  environment: {
    /** Node.js version. */
    node: string;
    /** `process.platform`. */
    platform: string;
    /** Available cores. */
    cpus: number;
    /** Threads the runs used (1: in process). */
    workers: number;
  };
  /** Wall time of the evaluation (workloads, reference passes and runs), milliseconds. */
  durationMs: number;
  /** Family of each policy name (the package it comes from); plots draw one panel per family. */
  families: Record<string, string>;
  /** The workloads. */
  workloads: WorkloadInfo[];
  /** One result per job, in grid order. */
  results: RunResult[];
  /** Bounds at the error each finished run reached. */
  bounds: BoundComparison[];
}
