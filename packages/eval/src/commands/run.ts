import { BUDGET_SHAPES } from '../budgets.js';
import { CONFIG_FIELDS, type EvalConfig, readConfigFile } from '../config.js';
import { ConfigError } from '../errors.js';
import { evaluate, writeReport } from '../evaluate.js';
import { ProgressBar } from '../progress.js';
import { headlineMarkdown, markdownReport } from '../report/tables.js';
import type { EvalReport } from '../report/types.js';
import { syntheticFamilies } from '../workloads/synthetic.js';
import type { WorkloadSpec } from '../workloads/types.js';
import { WORKLOAD_FIELDS } from '../workloads/validate.js';
import { type FlagValues, parseFlags } from './args.js';
import type { CliCommand, CliIO } from './command.js';

/**
 * Exit status when every run finished.
 *
 * @example
 * ```ts
 * import { EXIT_OK, main } from '@kv/eval/cli';
 * if ((await main(['demo'])) === EXIT_OK) console.log('EXIT_OK');
 * ```
 */
export const EXIT_OK = 0;
/**
 * Exit status for a bad input (config, flag, file): one line on stderr, nothing run.
 *
 * @example
 * ```ts
 * import { EXIT_BAD_INPUT, main } from '@kv/eval/cli';
 * if ((await main(['demo'])) === EXIT_BAD_INPUT) console.log('EXIT_BAD_INPUT');
 * ```
 */
export const EXIT_BAD_INPUT = 1;
/**
 * Exit status for an unknown command.
 *
 * @example
 * ```ts
 * import { EXIT_USAGE, main } from '@kv/eval/cli';
 * if ((await main(['demo'])) === EXIT_USAGE) console.log('EXIT_USAGE');
 * ```
 */
export const EXIT_USAGE = 2;
/**
 * Exit status when the evaluation ran but some runs failed (listed on stderr and in the report).
 *
 * @example
 * ```ts
 * import { EXIT_RUNS_FAILED, main } from '@kv/eval/cli';
 * if ((await main(['demo'])) === EXIT_RUNS_FAILED) console.log('EXIT_RUNS_FAILED');
 * ```
 */
export const EXIT_RUNS_FAILED = 3;

const RUN_OPTIONS = {
  name: { type: 'string' },
  policies: { type: 'string' },
  exclude: { type: 'string' },
  budgets: { type: 'string' },
  precision: { type: 'string' },
  workloads: { type: 'string' },
  n: { type: 'string' },
  d: { type: 'string' },
  s: { type: 'string' },
  rho: { type: 'string' },
  seeds: { type: 'string' },
  from: { type: 'string' },
  every: { type: 'string' },
  workers: { type: 'string' },
  out: { type: 'string' },
  registry: { type: 'string' },
  progress: { type: 'boolean' },
  quiet: { type: 'boolean' },
  summary: { type: 'boolean' },
} as const;

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((x) => x.trim()).filter(Boolean);
}

function int(name: string, v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isInteger(x)) throw new ConfigError(`--${name} is "${v}", expected an integer`);
  return x;
}

/**
 * How {@link runAndReport} writes and prints.
 *
 * @example
 * ```ts
 * import type { RunAndReportOptions } from '@kv/eval/cli';
 * const o: RunAndReportOptions = { out: 'results', summary: true };
 * ```
 */
export interface RunAndReportOptions {
  /** Output root (default `kv-eval-results`). */
  readonly out?: string;
  /** Overrides the config's worker count. */
  readonly workers?: number | 'auto';
  /** Module exporting `createRegistry()`. */
  readonly registryModule?: string;
  /** Draw the progress bar even when stderr is not a TTY. */
  readonly progress?: boolean;
  /** Print nothing on stdout. */
  readonly quiet?: boolean;
  /** Print only the headline (rankings) on stdout; the files hold everything. */
  readonly summary?: boolean;
}

/**
 * Prints the closing line of an evaluation on stderr and names every failed run.
 * @param report - The report.
 * @param io - Output streams.
 * @param where - What was written.
 * @returns {@link EXIT_RUNS_FAILED} when a run failed, else {@link EXIT_OK}.
 * @example
 * ```ts
 * import { evaluate } from '@kv/eval';
 * import { reportOutcome } from '@kv/eval/cli';
 * const report = await evaluate({ workloads: ['gaussian'] });
 * process.exitCode = reportOutcome(report, { stdout: console.log, stderr: console.error }, 'nowhere');
 * ```
 */
export function reportOutcome(report: EvalReport, io: CliIO, where: string): number {
  const failed = report.results.filter((r) => !r.ok);
  io.stderr(`kv-eval: ${report.results.length} runs (${failed.length} failed) in ${(report.durationMs / 1000).toFixed(1)} s; wrote ${where}\n`);
  if (failed.length === 0) return EXIT_OK;
  io.stderr(`kv-eval: failed runs:\n${failed.map((r) => `  ${r.workload} · ${r.label} @ ${r.budget} (seed ${r.seed}): ${r.ok ? '' : r.error}`).join('\n')}\n`);
  return EXIT_RUNS_FAILED;
}

/**
 * Runs a config (already merged with flags), writes every output and prints the markdown report.
 *
 * @param config - The config.
 * @param io - Output streams.
 * @param options - Output root, worker override, registry module, progress, quiet and summary.
 * @returns The exit code: {@link EXIT_OK}, or {@link EXIT_RUNS_FAILED} when some run failed.
 * @throws `ConfigError` for a bad config, registry module or model workload,
 *   `TraceFormatError` for a bad trace, `InvalidParamsError` (from `@kv/core`) for a bad
 *   synthetic workload (before anything runs); `DimensionMismatchError` or `NonFiniteInputError`
 *   (from `@kv/core`) for a model file that loads but whose keys or values the cache refuses (NaN
 *   or Infinity from corrupt weights).
 * @example
 * ```ts
 * import { runAndReport } from '@kv/eval/cli';
 * const code = await runAndReport({ workloads: ['gaussian'] }, { stdout: console.log, stderr: console.error }, { out: 'results' });
 * ```
 */
export async function runAndReport(config: EvalConfig, io: CliIO, options: RunAndReportOptions = {}): Promise<number> {
  const bar = new ProgressBar({ force: options.progress === true, ...(io.stderrStream ? { stream: io.stderrStream } : {}) });
  const report = await evaluate(config, {
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.registryModule !== undefined ? { registryModule: options.registryModule } : {}),
    onProgress: (done, total) => bar.update(done, total),
  });
  bar.done();
  const files = await writeReport(report, options.out ?? 'kv-eval-results');
  if (!options.quiet) io.stdout(options.summary ? headlineMarkdown(report) : markdownReport(report));
  return reportOutcome(report, io, `${files.dir}/{results.md,results.json,results.csv,heads.csv,report.html} and ${files.plots.length} SVG plots`);
}

function mergeFlags(base: EvalConfig, values: FlagValues<typeof RUN_OPTIONS>): EvalConfig {
  const merged: Record<string, unknown> = { ...base };
  if (values.name !== undefined) merged['name'] = values.name;
  const policies = list(values.policies);
  if (policies) merged['policies'] = policies.length === 1 && policies[0] === 'all' ? 'all' : policies;
  if (values.exclude !== undefined) merged['exclude'] = list(values.exclude);
  if (values.budgets !== undefined) merged['budgets'] = list(values.budgets);
  if (values.precision !== undefined) merged['precision'] = list(values.precision);
  if (values.seeds !== undefined) merged['seeds'] = list(values.seeds)!.map((s) => int('seeds', s));
  if (values.from !== undefined || values.every !== undefined) {
    const q: Record<string, unknown> = { ...(base.queries ?? {}) };
    for (const k of ['from', 'every'] as const) if (values[k] !== undefined) q[k] = /^\d+$/.test(values[k]!) ? Number(values[k]) : values[k];
    merged['queries'] = q;
  }
  if (values.workers !== undefined) merged['workers'] = values.workers === 'auto' ? 'auto' : int('workers', values.workers);
  let workloads = (list(values.workloads) ?? base.workloads ?? ['gaussian']) as (string | WorkloadSpec)[];
  const sizes: Record<string, number> = {};
  for (const k of ['n', 'd', 's'] as const) if (values[k] !== undefined) sizes[k] = int(k, values[k]!);
  if (values.rho !== undefined) {
    const rho = Number(values.rho);
    if (!(rho > 0)) throw new ConfigError(`--rho is "${values.rho}", expected a number > 0`);
    sizes['rho'] = rho;
  }
  if (Object.keys(sizes).length > 0) {
    workloads = workloads.map((w) => {
      const spec = typeof w === 'string' ? ({ family: w } as WorkloadSpec) : w;
      if (!(spec.family in syntheticFamilies)) return spec;
      return { ...spec, ...sizes } as WorkloadSpec;
    });
  }
  merged['workloads'] = workloads;
  return merged as EvalConfig;
}

function fieldLines(fields: Readonly<Record<string, { readonly shape: string }>>): string[] {
  const width = Math.max(...Object.keys(fields).map((k) => k.length));
  return Object.entries(fields).map(([k, f]) => `      ${k.padEnd(width)}  ${f.shape}`);
}

const CONFIG_HELP = [
  'The config file (JSON, or YAML for .yaml/.yml); every field is optional, flags override it:',
  ...Object.entries(CONFIG_FIELDS).map(([k, doc]) => `  ${k.padEnd(10)} ${doc}`),
  '',
  `Budgets: ${BUDGET_SHAPES}.`,
  'A fraction f gives each head {fraction: f, minBytes: f·4(d+s)·from}: f of the float32 bytes it has seen.',
  '',
  'Workloads:',
  `  a synthetic family (${Object.keys(syntheticFamilies).join(', ')}), bare or {family, ...}:`,
  ...fieldLines(WORKLOAD_FIELDS.synthetic),
  '    e.g. a bare "gaussian" is {family: gaussian, n: 512, d: 64, s: 64, rho: 4}',
  '  model: the attention of a Llama model reading a text, run on the fly ({family: model, ...}):',
  ...fieldLines(WORKLOAD_FIELDS.model),
  '  {family: npy, path: <folder with manifest.json>} or {family: safetensors, path: <file>}:',
  ...fieldLines(WORKLOAD_FIELDS.trace),
  '  Paths in a config file are relative to the file.',
  '',
  'Example (eval.yaml):',
  '  name: my-comparison',
  '  policies: [sliding-window, streamingllm, {policy: h2o, label: H2O}]',
  '  budgets: ["1/4", "1/8", "64 KiB"]',
  '  workloads: [model, {family: npy, path: ../traces/llama}, {family: index, n: 1024, d: 64}]',
  '  queries: {from: "1/4", every: "1/32"}',
].join('\n');

/**
 * `kv-eval run`: policies × budgets × workloads × seeds from a JSON/YAML config and/or flags.
 *
 * @example
 * ```sh
 * kv-eval run eval.yaml
 * kv-eval run --policies exact,sliding-window --budgets 1/4,1/8 --workloads model,gaussian,index --n 512 --d 64
 * ```
 */
export const runCommand: CliCommand = {
  name: 'run',
  summary: 'Run policies × budgets × workloads × seeds; write results.md/.json/.csv, SVG plots and report.html.',
  usage: [
    'kv-eval run [config.json|config.yaml] [flags]',
    '  --name <name>            output folder name (default: the config name, else kv-eval)',
    '  --policies a,b|all       registered policies (default all)   --exclude a,b',
    '  --budgets 1/4,1/8,64KiB  budgets (default 1/4,1/8; see below)',
    '  --precision f32,int8,int4  sweep selection × precision (policies taking a precision)',
    '  --workloads model,gaussian,index   families (traces: use a config file)',
    '  --n --d --s --rho        sizes of the synthetic workloads',
    '  --from 1/4 --every 1/32  scored query times (integers or fractions of n)',
    '  --seeds 0,1  --workers N|auto  --out <dir, default kv-eval-results>',
    '  --registry <module>      module exporting createRegistry() (used in workers too)',
    '  --progress               draw the progress bar even when stderr is not a TTY',
    '  --summary                print only the rankings (the files hold everything)',
    '  --quiet                  print nothing on stdout',
    '',
    'Exit status: 0 every run finished; 1 bad input (nothing ran); 3 some runs failed (named on stderr).',
    '',
    CONFIG_HELP,
  ].join('\n'),
  async run(args, io) {
    const { values, positionals } = parseFlags('run', args, RUN_OPTIONS, true);
    if (positionals.length > 1) throw new ConfigError(`run takes at most one config file, got ${positionals.join(' ')}`);
    const base = positionals[0] !== undefined ? readConfigFile(positionals[0]) : {};
    const config = mergeFlags(base, values);
    return runAndReport(config, io, {
      ...(values.out !== undefined ? { out: values.out } : {}),
      ...(values.registry !== undefined ? { registryModule: values.registry } : {}),
      progress: values.progress === true,
      quiet: values.quiet === true,
      summary: values.summary === true,
    });
  },
};
