import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { PolicyRegistry } from '@kv/core';
import { parse as parseYaml } from 'yaml';
import { type BudgetChoice, FULL_BUDGET, parseBudget } from './budgets.js';
import { ConfigError } from './errors.js';
import type { PolicyChoice, RunJob } from './runner.js';
import { syntheticFamilies } from './workloads/synthetic.js';
import type { WorkloadSpec } from './workloads/types.js';

/**
 * An evaluation as written in a JSON or YAML file (or built from CLI flags).
 *
 * @remarks
 * Trace paths (`{family: npy | safetensors, path}`) in a config read by {@link readConfigFile} are
 * relative to the config file's folder, so a config and its traces can move together. In a config
 * built in code (passed to {@link resolveConfig} or `evaluate`), they are used as given, i.e.
 * relative to the current directory, as Node's `fs` functions read them.
 *
 * @example
 * ```yaml
 * name: my-comparison
 * policies: all            # or a list: [exact, {policy: sliding-window, label: window}]
 * budgets: ["1/4", "1/8"]  # fractions of the stream, token counts, {ratio: 0.25}
 * workloads: [gaussian, {family: index, n: 512, d: 64}]
 * seeds: [0, 1]
 * queryStride: 1
 * ```
 */
export interface EvalConfig {
  /** Names the output folder. */
  readonly name?: string;
  /** `all` (every registered policy) or a list of names / {@link PolicyChoice}. */
  readonly policies?: 'all' | readonly (string | PolicyChoice)[];
  /** Policies to leave out of `all`. */
  readonly exclude?: readonly string[];
  /**
   * Parameters per policy name, used for every policy listed without its own `params` (also
   * those `all` expands to), e.g. `{ taylor: { degree: 2 }, pyramidkv: { layer: 0, layers: 1 } }`.
   */
  readonly params?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Budgets (see {@link parseBudget}). */
  readonly budgets?: readonly unknown[];
  /** Workloads: family names or {@link WorkloadSpec}s. */
  readonly workloads?: readonly (string | WorkloadSpec)[];
  /** Seeds (default [0]). */
  readonly seeds?: readonly number[];
  /** Ask a query every k steps (default 1). */
  readonly queryStride?: number;
  /** Worker threads or `auto`. */
  readonly workers?: number | 'auto';
}

/**
 * A validated config: everything explicit.
 *
 * @example
 * ```ts
 * import { createDefaultRegistry, resolveConfig } from '@kv/eval';
 * const c = resolveConfig({ workloads: ['gaussian'] }, createDefaultRegistry());
 * ```
 */
export interface ResolvedConfig {
  /** Output folder name. */
  readonly name: string;
  /** Policies to run. */
  readonly policies: readonly PolicyChoice[];
  /** Budgets. */
  readonly budgets: readonly BudgetChoice[];
  /** Workloads. */
  readonly workloads: readonly WorkloadSpec[];
  /** Seeds. */
  readonly seeds: readonly number[];
  /** Query stride. */
  readonly queryStride: number;
  /** Worker threads or `auto`. */
  readonly workers: number | 'auto';
}

const KNOWN_KEYS = new Set(['name', 'policies', 'exclude', 'params', 'budgets', 'workloads', 'seeds', 'queryStride', 'workers']);

/**
 * Reads a config file: `.yaml`/`.yml` with the `yaml` package, anything else as JSON. Relative
 * trace paths in `workloads` are resolved against the file's folder (not the current directory),
 * and returned absolute; everything else is returned as written.
 * @param path - The file.
 * @returns The raw config (validate it with {@link resolveConfig}), trace paths absolute.
 * @throws {@link ConfigError} when the file cannot be read or parsed.
 * @example
 * ```ts
 * import { readConfigFile } from '@kv/eval';
 * const raw = readConfigFile('eval.yaml');
 * ```
 */
export function readConfigFile(path: string): EvalConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const raw: unknown = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('the top level must be a mapping');
    return withTracePathsFrom(dirname(resolve(path)), raw as EvalConfig);
  } catch (e) {
    throw new ConfigError(`${path}: ${(e as Error).message}`);
  }
}

// Only well-formed trace entries are rewritten: anything else is left for resolveConfig to reject
// with its usual message.
function withTracePathsFrom(base: string, config: EvalConfig): EvalConfig {
  if (!Array.isArray(config.workloads)) return config;
  const workloads = config.workloads.map((w: unknown) => {
    if (typeof w !== 'object' || w === null) return w;
    const spec = w as { family?: unknown; path?: unknown };
    if ((spec.family !== 'npy' && spec.family !== 'safetensors') || typeof spec.path !== 'string') return w;
    return { ...spec, path: resolve(base, spec.path) };
  });
  return { ...config, workloads } as EvalConfig;
}

function workloadSpec(raw: string | WorkloadSpec, i: number): WorkloadSpec {
  if (typeof raw === 'string') {
    if (!(raw in syntheticFamilies)) throw new ConfigError(`workloads[${i}] is "${raw}"; known families: ${Object.keys(syntheticFamilies).join(', ')} (traces need {family: npy|safetensors, path})`);
    return { family: raw as keyof typeof syntheticFamilies };
  }
  if (typeof raw !== 'object' || raw === null || typeof raw.family !== 'string') {
    throw new ConfigError(`workloads[${i}] is ${JSON.stringify(raw)}, expected a family name or {family, ...}`);
  }
  if ((raw.family === 'npy' || raw.family === 'safetensors') && typeof (raw as { path?: unknown }).path !== 'string') {
    throw new ConfigError(`workloads[${i}] (${raw.family}) needs a path`);
  }
  if (raw.family !== 'npy' && raw.family !== 'safetensors' && !(raw.family in syntheticFamilies)) {
    throw new ConfigError(`workloads[${i}].family is "${raw.family}"; known: ${Object.keys(syntheticFamilies).join(', ')}, npy, safetensors`);
  }
  return raw;
}

/**
 * Validates a config against a registry and fills the defaults (all policies, budgets 1/4 and
 * 1/8, the gaussian workload, seed 0, stride 1, auto workers).
 *
 * @param raw - The config.
 * @param registry - Registry the policies must be in.
 * @returns The resolved config.
 * @throws {@link ConfigError} for unknown keys, policies, families or bad budgets.
 * @example
 * ```ts
 * import { createDefaultRegistry, resolveConfig } from '@kv/eval';
 * resolveConfig({ policies: ['exact'], budgets: ['1/4'], workloads: ['index'] }, createDefaultRegistry());
 * ```
 */
export function resolveConfig(raw: EvalConfig, registry: PolicyRegistry): ResolvedConfig {
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key)) throw new ConfigError(`unknown config key "${key}"; known: ${[...KNOWN_KEYS].join(', ')}`);
  }
  const exclude = new Set(raw.exclude ?? []);
  const policiesRaw = raw.policies ?? 'all';
  let policies: PolicyChoice[];
  if (policiesRaw === 'all') {
    policies = registry.list().filter((d) => !exclude.has(d.name)).map((d) => ({ policy: d.name }));
  } else if (Array.isArray(policiesRaw)) {
    policies = policiesRaw.map((p, i) => {
      const choice: PolicyChoice = typeof p === 'string' ? { policy: p } : p;
      if (typeof choice !== 'object' || choice === null || typeof choice.policy !== 'string') {
        throw new ConfigError(`policies[${i}] is ${JSON.stringify(p)}, expected a name or {policy, params?, label?}`);
      }
      if (!registry.has(choice.policy)) {
        throw new ConfigError(`policies[${i}] "${choice.policy}" is not registered; registered: ${registry.list().map((d) => d.name).join(', ')}`);
      }
      return choice;
    });
  } else {
    throw new ConfigError(`policies is ${JSON.stringify(policiesRaw)}, expected "all" or a list`);
  }
  if (policies.length === 0) throw new ConfigError('no policy to run');
  const defaults = raw.params ?? {};
  if (typeof defaults !== 'object' || defaults === null || Array.isArray(defaults)) {
    throw new ConfigError(`params is ${JSON.stringify(defaults)}, expected a mapping from policy name to parameters`);
  }
  for (const name of Object.keys(defaults)) {
    if (!registry.has(name)) throw new ConfigError(`params names "${name}", which is not registered`);
  }
  policies = policies.map((p) => (p.params === undefined && defaults[p.policy] !== undefined ? { ...p, params: defaults[p.policy] } : p));
  const labels = new Set<string>();
  for (const p of policies) {
    const label = p.label ?? p.policy;
    if (labels.has(label)) throw new ConfigError(`two policies are labelled "${label}"; give them distinct labels`);
    labels.add(label);
  }
  const budgets = (raw.budgets ?? ['1/4', '1/8']).map((b, i) => {
    try {
      return parseBudget(b);
    } catch (e) {
      throw new ConfigError(`budgets[${i}]: ${(e as Error).message}`);
    }
  });
  if (budgets.length === 0) throw new ConfigError('budgets is empty');
  const workloadsRaw = raw.workloads ?? ['gaussian'];
  if (!Array.isArray(workloadsRaw) || workloadsRaw.length === 0) throw new ConfigError('workloads must be a non-empty list');
  const workloads = workloadsRaw.map(workloadSpec);
  const seeds = raw.seeds ?? [0];
  if (!Array.isArray(seeds) || seeds.length === 0 || seeds.some((s) => !Number.isSafeInteger(s))) {
    throw new ConfigError(`seeds is ${JSON.stringify(seeds)}, expected a non-empty list of integers`);
  }
  const queryStride = raw.queryStride ?? 1;
  if (!Number.isInteger(queryStride) || queryStride < 1) throw new ConfigError(`queryStride is ${queryStride}, expected an integer >= 1`);
  const workers = raw.workers ?? 'auto';
  if (workers !== 'auto' && !(Number.isInteger(workers) && workers >= 1)) throw new ConfigError(`workers is ${JSON.stringify(workers)}, expected "auto" or an integer >= 1`);
  const name = raw.name ?? 'kv-eval';
  if (typeof name !== 'string' || name.length === 0) throw new ConfigError('name must be a non-empty string');
  return { name, policies, budgets, workloads, seeds, queryStride, workers };
}

/**
 * Expands a config into its grid: workloads × seeds × policies × budgets, in that order.
 * Policies that take no budget run once per workload and seed, at budget `full`.
 *
 * @param config - The resolved config.
 * @param registry - Registry (to know which policies take a budget).
 * @returns The jobs, indexed in order.
 * @example
 * ```ts
 * import { createDefaultRegistry, expandJobs, resolveConfig } from '@kv/eval';
 * const reg = createDefaultRegistry();
 * expandJobs(resolveConfig({ workloads: ['gaussian'] }, reg), reg).length;
 * ```
 */
export function expandJobs(config: ResolvedConfig, registry: PolicyRegistry): RunJob[] {
  const jobs: RunJob[] = [];
  config.workloads.forEach((workload, workloadIndex) => {
    for (const seed of config.seeds) {
      for (const policy of config.policies) {
        const budgets = registry.get(policy.policy).budget === 'none' ? [FULL_BUDGET] : config.budgets;
        for (const budget of budgets) {
          jobs.push({ index: jobs.length, policy, budget, workload, workloadIndex, seed, queryStride: config.queryStride });
        }
      }
    }
  });
  return jobs;
}

/**
 * Turns a config name into a safe folder name.
 * @param name - Any name.
 * @returns Lowercase letters, digits, dots, dashes and underscores.
 * @example
 * ```ts
 * import { folderName } from '@kv/eval';
 * folderName('My run #1'); // "my-run-1"
 * ```
 */
export function folderName(name: string): string {
  const f = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return f.length > 0 ? f : 'kv-eval';
}
