import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { PolicyRegistry } from '@kv/core';
import { spaceBounds } from './bounds.js';
import { type EvalConfig, expandJobs, folderName, resolveConfig } from './config.js';
import { loadRegistry } from './job-context.js';
import { autoWorkers, runJobs } from './pool.js';
import { policyFamilies } from './report/families.js';
import { htmlReport } from './report/html.js';
import { plotFile, renderSvg, reportPlots } from './report/plots.js';
import { headsCsv, markdownReport, resultsCsv } from './report/tables.js';
import type { BoundComparison, EvalReport, WorkloadInfo } from './report/types.js';
import { buildWorkload } from './workloads/build.js';

/**
 * Options of {@link evaluate}.
 *
 * @example
 * ```ts
 * import type { EvaluateOptions } from '@kv/eval';
 * const o: EvaluateOptions = { workers: 1 };
 * ```
 */
export interface EvaluateOptions {
  /**
   * A custom registry. Without `registryModule` it forces an in-process run, since a registry
   * object cannot cross threads. Default: `registryModule`'s, else {@link createDefaultRegistry}.
   */
  readonly registry?: PolicyRegistry;
  /** Module exporting `createRegistry()`, loaded in the main thread and in every worker. */
  readonly registryModule?: string;
  /** Overrides the config's worker count. */
  readonly workers?: number | 'auto';
  /** Progress callback. */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Runs an evaluation: resolves the config, runs the grid with the decode protocol (in worker
 * threads when several cores are available), and evaluates every bound at the error each run
 * reached. `durationMs` is the wall time of all of it.
 *
 * @param config - The config.
 * @param options - Registry, workers and progress.
 * @returns The report (also what `results.json` holds).
 * @throws {@link ConfigError} for a bad config, registry module or model workload;
 *   {@link TraceFormatError} for a bad trace; `InvalidParamsError` (from `@kv/core`) for a bad
 *   synthetic workload; `DimensionMismatchError` or `NonFiniteInputError` (from `@kv/core`) for a
 *   model file that loads but whose keys or values the cache refuses (NaN or Infinity from corrupt
 *   weights).
 * @example
 * ```ts
 * import { createDefaultRegistry, evaluate } from '@kv/eval';
 * const report = await evaluate({ workloads: ['gaussian'], budgets: ['1/4'] }, { registry: createDefaultRegistry() });
 * // or, in worker threads with the built-in registry: await evaluate(config)
 * ```
 */
export async function evaluate(config: EvalConfig, options: EvaluateOptions = {}): Promise<EvalReport> {
  const started = performance.now();
  const registry = options.registry ?? (await loadRegistry(options.registryModule));
  const resolved = resolveConfig(config, registry);
  // cannot throw: resolved was resolved against this registry
  const jobs = expandJobs(resolved, registry);
  const inProcess = options.registry !== undefined && options.registryModule === undefined;
  const requested = inProcess ? 1 : (options.workers ?? resolved.workers);
  const workers = Math.max(1, requested === 'auto' ? autoWorkers(jobs.length) : Math.min(requested, jobs.length));
  const workloads: WorkloadInfo[] = resolved.workloads.map((spec) => {
    const w = buildWorkload(spec, resolved.seeds[0]!);
    return {
      name: w.name,
      family: w.family,
      description: w.description,
      n: w.length,
      d: w.keyDim,
      s: w.valueDim,
      heads: w.heads.length,
      radius: w.radius,
      tau: w.tau,
      rho: w.rho,
      hard: w.hard,
    };
  });
  const results = await runJobs(jobs, {
    workers,
    ...(workers <= 1 ? { registry } : {}),
    ...(options.registryModule !== undefined ? { registryModule: options.registryModule } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const durationMs = performance.now() - started;
  const bounds: BoundComparison[] = [];
  for (const r of results) {
    const w = workloads[jobs[r.index]!.workloadIndex]!;
    if (!r.ok || !(r.normalized.p90 > 0) || !Number.isFinite(r.normalized.p90) || w.radius <= 0) continue;
    bounds.push({
      workload: r.workload,
      label: r.label,
      budget: r.budget,
      seed: r.seed,
      epsilon: r.normalized.p90,
      measuredBytes: r.bytes / r.heads.length,
      bounds: spaceBounds({ n: w.n, d: w.d, s: w.s, epsilon: r.normalized.p90, r: w.radius, tau: w.tau }),
    });
  }
  return {
    name: resolved.name,
    config: resolved,
    environment: { node: process.versions.node, platform: process.platform, cpus: availableParallelism(), workers },
    durationMs,
    families: policyFamilies(registry),
    workloads,
    results,
    bounds,
  };
}

/**
 * The files an evaluation writes.
 *
 * @example
 * ```ts
 * import type { ReportFiles } from '@kv/eval';
 * const f: ReportFiles = { dir: 'out', markdown: 'out/results.md', json: 'out/results.json', csv: 'out/results.csv',
 *   headsCsv: 'out/heads.csv', html: 'out/report.html', plots: [] };
 * ```
 */
export interface ReportFiles {
  /** The output folder. */
  readonly dir: string;
  /** `results.md`. */
  readonly markdown: string;
  /** `results.json`. */
  readonly json: string;
  /** `results.csv`: one row per run. */
  readonly csv: string;
  /** `heads.csv`: one row per head of every finished run. */
  readonly headsCsv: string;
  /** `report.html` (tables and plots inline). */
  readonly html: string;
  /** The SVG plots. */
  readonly plots: readonly string[];
}

/**
 * Writes a report into `<root>/<folder name of the config name>`: results.md, results.json,
 * results.csv, heads.csv, one SVG per plot and a self-contained report.html.
 *
 * @param report - The report.
 * @param root - Parent folder (created).
 * @returns The paths written.
 * @example
 * ```ts
 * import { evaluate, writeReport } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * const files = await writeReport(report, 'kv-eval-results');
 * ```
 */
export async function writeReport(report: EvalReport, root: string): Promise<ReportFiles> {
  const dir = join(root, folderName(report.name));
  mkdirSync(dir, { recursive: true });
  const files = {
    dir,
    markdown: join(dir, 'results.md'),
    json: join(dir, 'results.json'),
    csv: join(dir, 'results.csv'),
    headsCsv: join(dir, 'heads.csv'),
    html: join(dir, 'report.html'),
  };
  const pareto = (w: string): string => plotFile('pareto', w);
  writeFileSync(files.markdown, markdownReport(report, pareto));
  // JSON has no Infinity/NaN: they are written as strings so the file round-trips without loss.
  writeFileSync(files.json, `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`);
  writeFileSync(files.csv, resultsCsv(report));
  writeFileSync(files.headsCsv, headsCsv(report));
  const rendered: { file: string; title: string; svg: string; path: string }[] = [];
  for (const plot of reportPlots(report)) {
    const svg = await renderSvg(plot.spec);
    const path = join(dir, plot.file);
    writeFileSync(path, svg);
    rendered.push({ file: plot.file, title: plot.title, svg, path });
  }
  writeFileSync(files.html, htmlReport(report, rendered, pareto));
  return { ...files, plots: rendered.map((p) => p.path) };
}
