import { parseArgs } from 'node:util';
import type { EvalConfig } from '../config.js';
import { readConfigFile } from '../config.js';
import { ConfigError } from '../errors.js';
import { evaluate, writeReport } from '../evaluate.js';
import { ProgressBar } from '../progress.js';
import { markdownReport } from '../report/tables.js';
import type { WorkloadSpec } from '../workloads/types.js';
import type { CliCommand, CliIO } from './command.js';

const RUN_OPTIONS = {
  name: { type: 'string' },
  policies: { type: 'string' },
  exclude: { type: 'string' },
  budgets: { type: 'string' },
  workloads: { type: 'string' },
  n: { type: 'string' },
  d: { type: 'string' },
  s: { type: 'string' },
  rho: { type: 'string' },
  seeds: { type: 'string' },
  stride: { type: 'string' },
  workers: { type: 'string' },
  out: { type: 'string' },
  registry: { type: 'string' },
  progress: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((x) => x.trim()).filter(Boolean);
}

function int(name: string, v: string): number {
  const x = Number(v);
  if (!Number.isInteger(x)) throw new ConfigError(`--${name} is "${v}", expected an integer`);
  return x;
}

/**
 * Runs a config (already merged with flags), writes every output and prints the markdown report.
 *
 * @param config - The config.
 * @param io - Output streams.
 * @param options - Output root, worker override, registry module, progress and quiet flags.
 * @returns The exit code (1 when some run failed, 0 otherwise).
 * @example
 * ```ts
 * import { runAndReport } from '@kv/eval';
 * await runAndReport({ workloads: ['gaussian'] }, { stdout: console.log, stderr: console.error }, { out: 'results' });
 * ```
 */
export async function runAndReport(
  config: EvalConfig,
  io: CliIO,
  options: { out?: string; workers?: number | 'auto'; registryModule?: string; progress?: boolean; quiet?: boolean } = {},
): Promise<number> {
  const bar = new ProgressBar({ force: options.progress === true, ...(io.stderrStream ? { stream: io.stderrStream } : {}) });
  const started = performance.now();
  const report = await evaluate(config, {
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.registryModule !== undefined ? { registryModule: options.registryModule } : {}),
    onProgress: (done, total) => bar.update(done, total),
  });
  bar.done();
  const files = await writeReport(report, options.out ?? 'kv-eval-results');
  if (!options.quiet) io.stdout(markdownReport(report));
  const failed = report.results.filter((r) => !r.ok).length;
  io.stderr(
    `kv-eval: ${report.results.length} runs (${failed} failed) in ${((performance.now() - started) / 1000).toFixed(1)} s; wrote ${files.dir}/{results.md,results.json,results.csv,report.html} and ${files.plots.length} SVG plots\n`,
  );
  return 0;
}

/**
 * Turns `run` flags into a config, on top of a config file's.
 * @param base - The file's config (or empty).
 * @param values - Parsed flags.
 * @returns The merged config.
 */
function mergeFlags(base: EvalConfig, values: Partial<Record<keyof typeof RUN_OPTIONS, string | boolean>>): EvalConfig {
  const str = (k: keyof typeof RUN_OPTIONS): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const merged: Record<string, unknown> = { ...base };
  if (str('name') !== undefined) merged['name'] = str('name');
  const policies = list(str('policies'));
  if (policies) merged['policies'] = policies.length === 1 && policies[0] === 'all' ? 'all' : policies;
  if (str('exclude') !== undefined) merged['exclude'] = list(str('exclude'));
  if (str('budgets') !== undefined) merged['budgets'] = list(str('budgets'));
  if (str('seeds') !== undefined) merged['seeds'] = list(str('seeds'))!.map((s) => int('seeds', s));
  if (str('stride') !== undefined) merged['queryStride'] = int('stride', str('stride')!);
  if (str('workers') !== undefined) merged['workers'] = str('workers') === 'auto' ? 'auto' : int('workers', str('workers')!);
  let workloads = (list(str('workloads')) ?? base.workloads ?? ['gaussian']) as (string | WorkloadSpec)[];
  const sizes: Record<string, number> = {};
  for (const k of ['n', 'd', 's'] as const) if (str(k) !== undefined) sizes[k] = int(k, str(k)!);
  if (str('rho') !== undefined) {
    const rho = Number(str('rho'));
    if (!(rho > 0)) throw new ConfigError(`--rho is "${str('rho')}", expected a number > 0`);
    sizes['rho'] = rho;
  }
  if (Object.keys(sizes).length > 0) {
    workloads = workloads.map((w) => {
      const spec = typeof w === 'string' ? ({ family: w } as WorkloadSpec) : w;
      return spec.family === 'npy' || spec.family === 'safetensors' ? spec : ({ ...spec, ...sizes } as WorkloadSpec);
    });
  }
  merged['workloads'] = workloads;
  return merged as EvalConfig;
}

/**
 * `kv-eval run`: policies × budgets × workloads × seeds from a JSON/YAML config and/or flags.
 *
 * @example
 * ```sh
 * kv-eval run eval.yaml
 * kv-eval run --policies exact,sliding-window --budgets 1/4,1/8 --workloads gaussian,index --n 512 --d 64
 * ```
 */
export const runCommand: CliCommand = {
  name: 'run',
  summary: 'Run policies × budgets × workloads × seeds; write results.md/.json/.csv, SVG plots and report.html.',
  usage: [
    'kv-eval run [config.json|config.yaml] [flags]',
    '  --name <name>            output folder name (default: the config name, else kv-eval)',
    '  --policies a,b|all       registered policies (default all)   --exclude a,b',
    '  --budgets 1/4,1/8,64     fractions of the stream, token counts (default 1/4,1/8)',
    '  --workloads gaussian,index   synthetic families (traces: use a config file)',
    '  --n --d --s --rho        sizes of synthetic workloads',
    '  --seeds 0,1  --stride k  --workers N|auto  --out <dir, default kv-eval-results>',
    '  --registry <module>      module exporting createRegistry() (used in workers too)',
    '  --progress               draw the progress bar even when stderr is not a TTY',
    '  --quiet                  do not print the markdown report',
  ].join('\n'),
  async run(args, io) {
    const { values, positionals } = parseArgs({ args: [...args], options: RUN_OPTIONS, allowPositionals: true });
    if (positionals.length > 1) throw new ConfigError(`run takes at most one config file, got ${positionals.join(' ')}`);
    const base = positionals[0] !== undefined ? readConfigFile(positionals[0]) : {};
    const config = mergeFlags(base, values);
    return runAndReport(config, io, {
      ...(values.out !== undefined ? { out: values.out } : {}),
      ...(values.registry !== undefined ? { registryModule: values.registry } : {}),
      progress: values.progress === true,
      quiet: values.quiet === true,
    });
  },
};
