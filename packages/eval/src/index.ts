export { binomial, type BoundInputs, type SpaceBound, spaceBounds, taylorDegree, taylorTail } from './bounds.js';
export { type BudgetChoice, FULL_BUDGET, parseBudget, resolveBudget } from './budgets.js';
export { cliCommands, main } from './cli.js';
export type { CliCommand, CliIO } from './commands/command.js';
export { runAndReport } from './commands/run.js';
export { type EvalConfig, expandJobs, folderName, readConfigFile, type ResolvedConfig, resolveConfig } from './config.js';
export { demoConfig } from './demo.js';
export { ConfigError, TraceFormatError } from './errors.js';
export { evaluate, type EvaluateOptions, type ReportFiles, writeReport } from './evaluate.js';
export { loadRegistry, PreparedCache } from './job-context.js';
export { autoWorkers, runJobs, type RunJobsOptions } from './pool.js';
export { ProgressBar } from './progress.js';
export { createDefaultRegistry } from './registry.js';
export { fmt, fmtBytes } from './report/format.js';
export { htmlReport } from './report/html.js';
export { ERROR_FLOOR, type PlotSpec, renderSvg, reportPlots } from './report/plots.js';
export { boundsTable, hardInstanceSummary, markdownReport, resultsCsv, resultsTable, workloadsTable } from './report/tables.js';
export type { BoundComparison, EvalReport, WorkloadInfo } from './report/types.js';
export {
  type ErrorSeries,
  type HeadReference,
  type PolicyChoice,
  type PreparedWorkload,
  prepareWorkload,
  querySteps,
  type RunJob,
  runJob,
  type RunResult,
} from './runner.js';
export { quantileSorted, type Summary, summarize } from './stats.js';
export { buildWorkload } from './workloads/build.js';
export { type NpyMatrix, readNpy, writeNpy } from './workloads/npy.js';
export { streamRadius, syntheticFamilies, syntheticWorkload } from './workloads/synthetic.js';
export {
  loadNpyTrace,
  loadSafetensorsTrace,
  type TraceManifest,
  type TraceManifestHead,
  writeNpyTrace,
  writeSafetensorsTrace,
} from './workloads/traces.js';
export type { HeadStream, SyntheticFamily, SyntheticWorkloadSpec, TraceWorkloadSpec, Workload, WorkloadSpec } from './workloads/types.js';
