// The @kv/eval library: workloads, the decode-protocol runner, reports. The kv-eval commands live
// behind the bin and the `@kv/eval/cli` subpath, so importing the library never loads the CLI.
export { binomial, type BoundInputs, type SpaceBound, spaceBounds, taylorDegree, taylorTail } from './bounds.js';
export { BUDGET_SHAPES, type BudgetChoice, type BudgetContext, FULL_BUDGET, parseBudget, resolveBudget } from './budgets.js';
export { CONFIG_FIELDS, type EvalConfig, expandJobs, folderName, readConfigFile, type ResolvedConfig, resolveConfig } from './config.js';
export { demoConfig, demoSamplePath } from './demo.js';
export { ConfigError, TraceFormatError } from './errors.js';
export { evaluate, type EvaluateOptions, type ReportFiles, writeReport } from './evaluate.js';
export { loadRegistry, PreparedCache } from './job-context.js';
export { autoWorkers, runJobs, type RunJobsOptions } from './pool.js';
export { type HeadReference, type PreparedWorkload, prepareWorkload } from './prepare.js';
export { ProgressBar } from './progress.js';
export { DEFAULT_QUERIES, parseQuerySchedule, type QuerySchedule, queryTimes } from './queries.js';
export { createDefaultRegistry } from './registry.js';
export { CONTEXT_GREY, MAX_SERIES_PER_PANEL, plotPanels, policyColors } from './report/colors.js';
export { policyFamilies, tagFamily } from './report/families.js';
export { fmt, fmtBytes, fmtRatio } from './report/format.js';
export { htmlReport } from './report/html.js';
export { markdownTable } from './report/markdown.js';
export { plotFile, type PlotSpec, renderSvg, reportPlots } from './report/plots.js';
export { type RankedRow, type Ranking, rankings, rankingTable } from './report/ranking.js';
export {
  boundsTable,
  failedTable,
  hardInstanceSummary,
  headlineMarkdown,
  headsCsv,
  headsTable,
  markdownReport,
  resultsCsv,
  resultsTable,
  workloadsTable,
} from './report/tables.js';
export type { BoundComparison, EvalReport, WorkloadInfo } from './report/types.js';
export {
  type ErrorSeries,
  type HeadResult,
  type PolicyChoice,
  type RunFailed,
  type RunIdentity,
  type RunJob,
  runJob,
  type RunOk,
  type RunResult,
} from './runner.js';
export { sweepPrecision, validatePrecision } from './sweep.js';
export { acrossHeads, type ErrorSummary, quantileSorted, type Summary, summarize } from './stats.js';
export { buildWorkload } from './workloads/build.js';
export { modelLocation, modelWorkload } from './workloads/model.js';
export { float16Bits, type NpyMatrix, readNpy, writeNpy } from './workloads/npy.js';
export { streamRadius, syntheticFamilies, syntheticWorkload } from './workloads/synthetic.js';
export {
  loadNpyTrace,
  loadSafetensorsTrace,
  type TraceManifest,
  type TraceManifestHead,
  writeNpyTrace,
  writeSafetensorsTrace,
} from './workloads/traces.js';
export type {
  HeadStream,
  ModelWorkloadSpec,
  SyntheticFamily,
  SyntheticWorkloadSpec,
  TraceWorkloadSpec,
  Workload,
  WorkloadSpec,
} from './workloads/types.js';
export { validateWorkloadSpec } from './workloads/validate.js';
