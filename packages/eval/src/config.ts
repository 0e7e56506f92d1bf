import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { PolicyRegistry } from '@kv/core';
import { parse as parseYaml } from 'yaml';
import { BUDGET_SHAPES, type BudgetChoice, FULL_BUDGET, parseBudget } from './budgets.js';
import { ConfigError } from './errors.js';
import { parseQuerySchedule, type QuerySchedule } from './queries.js';
import type { PolicyChoice, RunJob } from './runner.js';
import type { Precision } from '@kv/core';
import { sweepPrecision, validatePrecision } from './sweep.js';
import type { WorkloadSpec } from './workloads/types.js';
import { validateWorkloadSpec } from './workloads/validate.js';

/**
 * An evaluation as written in a JSON or YAML file (or built from CLI flags).
 *
 * @remarks
 * Paths in `workloads` (`path` of traces, `model` and `text` of the model workload) in a config
 * read by {@link readConfigFile} are relative to the config file's folder, so a config and its
 * traces can move together. In a config built in code (passed to {@link resolveConfig} or
 * `evaluate`), they are used as given, i.e. relative to the current directory.
 *
 * @example
 * ```yaml
 * name: my-comparison
 * policies: all            # or a list: [exact, {policy: sliding-window, label: window}]
 * budgets: ["1/4", "1/8"]  # fractions of the float32 bytes seen, "64 KiB", token counts
 * workloads: [model, gaussian, {family: index, n: 512, d: 64}]
 * seeds: [0, 1]
 * queries: {from: "1/4", every: "1/32"}
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
  /**
   * Precisions to sweep: each policy that takes a `precision` parameter runs once per precision
   * (selection × precision), labelled `<label> <precision>`.
   */
  readonly precision?: readonly Precision[];
  /** Budgets (see {@link parseBudget}). */
  readonly budgets?: readonly unknown[];
  /** Workloads: family names or {@link WorkloadSpec}s. */
  readonly workloads?: readonly (string | WorkloadSpec)[];
  /** Seeds (default [0]). */
  readonly seeds?: readonly number[];
  /** When queries are scored (default from n/4, every n/32). */
  readonly queries?: QuerySchedule;
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
  /** When queries are scored. */
  readonly queries: Required<QuerySchedule>;
  /** Worker threads or `auto`. */
  readonly workers: number | 'auto';
}

/**
 * Every config field with its type and default, as `kv-eval run --help` prints them.
 *
 * @example
 * ```ts
 * import { CONFIG_FIELDS } from '@kv/eval';
 * for (const [field, doc] of Object.entries(CONFIG_FIELDS)) console.log(`${field}: ${doc}`);
 * ```
 */
export const CONFIG_FIELDS: Readonly<Record<keyof EvalConfig, string>> = {
  name: 'string; names the output folder (default "kv-eval")',
  policies: '"all" or a list of names / {policy, params?, label?} (default "all")',
  exclude: 'list of policy names left out of "all" (default [])',
  params: 'mapping policy name -> parameters, for policies listed without params (default {})',
  precision: 'list of codecs (f32, f16, int8, int4, int3, int2) or {keys, values, group, residual, rotate, codebook}: each policy that takes a precision runs at each (default: none, no sweep)',
  budgets: `non-empty list; each ${BUDGET_SHAPES} (default ["1/4", "1/8"])`,
  workloads: 'non-empty list of family names or {family, ...} (default ["gaussian"])',
  seeds: 'non-empty list of integers (default [0])',
  queries: '{from, every}: integers or "a/b" of the stream length (default {from: "1/4", every: "1/32"})',
  workers: '"auto" or an integer >= 1 (default "auto")',
};

const KNOWN_KEYS = new Set(Object.keys(CONFIG_FIELDS));

/**
 * Reads a config file: `.yaml`/`.yml` with the `yaml` package, anything else as JSON. Relative
 * paths in `workloads` are resolved against the file's folder (not the current directory), and
 * returned absolute; everything else is returned as written.
 * @param path - The file.
 * @returns The raw config (validate it with {@link resolveConfig}), workload paths absolute.
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
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${path}: the top level must be a mapping of config fields`);
  return withPathsFrom(dirname(resolve(path)), raw as EvalConfig);
}

// Only string paths of well-formed entries are rewritten: anything else is left for
// resolveConfig to reject with its usual message.
function withPathsFrom(base: string, config: EvalConfig): EvalConfig {
  if (!Array.isArray(config.workloads)) return config;
  const workloads = config.workloads.map((w: unknown) => {
    if (typeof w !== 'object' || w === null) return w;
    const spec = { ...(w as Record<string, unknown>) };
    const keys = spec['family'] === 'npy' || spec['family'] === 'safetensors' ? ['path'] : spec['family'] === 'model' ? ['model', 'text'] : [];
    for (const k of keys) if (typeof spec[k] === 'string') spec[k] = resolve(base, spec[k] as string);
    return spec;
  });
  return { ...config, workloads } as EvalConfig;
}

function list(raw: unknown, field: string, shape: string): unknown[] {
  if (!Array.isArray(raw)) throw new ConfigError(`${field} is ${JSON.stringify(raw)}, expected ${shape}`);
  if (raw.length === 0) throw new ConfigError(`${field} is empty, expected ${shape}`);
  return raw;
}

function policyChoice(p: unknown, i: number, registry: PolicyRegistry): PolicyChoice {
  const where = `policies[${i}]`;
  const choice = typeof p === 'string' ? { policy: p } : p;
  if (typeof choice !== 'object' || choice === null || Array.isArray(choice) || typeof (choice as PolicyChoice).policy !== 'string') {
    throw new ConfigError(`${where} is ${JSON.stringify(p)}, expected a name or {policy, params?, label?}`);
  }
  const c = choice as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!['policy', 'params', 'label'].includes(k)) throw new ConfigError(`${where} has no field "${k}"; its fields are policy, params, label`);
  if (c['params'] !== undefined && (typeof c['params'] !== 'object' || c['params'] === null || Array.isArray(c['params']))) {
    throw new ConfigError(`${where}.params is ${JSON.stringify(c['params'])}, expected a mapping of parameters`);
  }
  if (c['label'] !== undefined && (typeof c['label'] !== 'string' || c['label'].length === 0)) throw new ConfigError(`${where}.label is ${JSON.stringify(c['label'])}, expected a non-empty string`);
  if (!registry.has(c['policy'] as string)) {
    throw new ConfigError(`${where} "${String(c['policy'])}" is not registered; registered: ${registry.list().map((d) => d.name).join(', ')}`);
  }
  return c as unknown as PolicyChoice;
}

/**
 * Validates a config against a registry and fills the defaults ({@link CONFIG_FIELDS}).
 *
 * @param raw - The config.
 * @param registry - Registry the policies must be in.
 * @returns The resolved config.
 * @throws {@link ConfigError} naming the field and the expected shape, for unknown keys, fields of
 *   the wrong shape, unknown policies or families, and bad budgets or precisions.
 * @example
 * ```ts
 * import { createDefaultRegistry, resolveConfig } from '@kv/eval';
 * resolveConfig({ policies: ['exact'], budgets: ['1/4'], workloads: ['index'] }, createDefaultRegistry());
 * ```
 */
export function resolveConfig(raw: EvalConfig, registry: PolicyRegistry): ResolvedConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`the config is ${JSON.stringify(raw)}, expected a mapping of config fields`);
  for (const key of Object.keys(raw)) {
    if (key === 'queryStride') throw new ConfigError('queryStride was replaced by queries: {from, every} (e.g. {every: 1} to score every step)');
    if (!KNOWN_KEYS.has(key)) throw new ConfigError(`unknown config key "${key}"; known: ${[...KNOWN_KEYS].join(', ')}`);
  }
  const excludeRaw = raw.exclude ?? [];
  if (!Array.isArray(excludeRaw) || excludeRaw.some((x) => typeof x !== 'string')) {
    throw new ConfigError(`exclude is ${JSON.stringify(excludeRaw)}, expected a list of policy names`);
  }
  for (const name of excludeRaw) if (!registry.has(name)) throw new ConfigError(`exclude names "${name}", which is not registered`);
  const exclude = new Set(excludeRaw);
  const policiesRaw: unknown = raw.policies ?? 'all';
  let policies: PolicyChoice[];
  if (policiesRaw === 'all') {
    policies = registry.list().filter((d) => !exclude.has(d.name)).map((d) => ({ policy: d.name }));
  } else {
    policies = list(policiesRaw, 'policies', '"all" or a non-empty list of names / {policy, params?, label?}').map((p, i) => policyChoice(p, i, registry));
  }
  if (policies.length === 0) throw new ConfigError('no policy to run');
  const defaults: unknown = raw.params ?? {};
  if (typeof defaults !== 'object' || defaults === null || Array.isArray(defaults)) {
    throw new ConfigError(`params is ${JSON.stringify(defaults)}, expected a mapping from policy name to parameters`);
  }
  const byName = defaults as Record<string, unknown>;
  for (const [name, p] of Object.entries(byName)) {
    if (!registry.has(name)) throw new ConfigError(`params names "${name}", which is not registered`);
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new ConfigError(`params.${name} is ${JSON.stringify(p)}, expected a mapping of parameters`);
  }
  policies = policies.map((p) => (p.params === undefined && byName[p.policy] !== undefined ? { ...p, params: byName[p.policy] as Record<string, unknown> } : p));
  if (raw.precision !== undefined) {
    const precisions = list(raw.precision, 'precision', 'a non-empty list of precisions').map((q, i) => validatePrecision(q, `precision[${i}]`));
    // cannot throw: policyChoice checked every policy against the registry above
    const swept = sweepPrecision(policies, precisions, registry);
    if (swept.length === policies.length && precisions.length > 1) {
      throw new ConfigError(`precision: none of the policies (${policies.map((p) => p.policy).join(', ')}) takes a precision parameter, so there is nothing to sweep`);
    }
    policies = swept;
  }
  const labels = new Set<string>();
  for (const p of policies) {
    const label = p.label ?? p.policy;
    if (labels.has(label)) throw new ConfigError(`two policies are labelled "${label}"; give them distinct labels`);
    labels.add(label);
  }
  const budgets = list(raw.budgets ?? ['1/4', '1/8'], 'budgets', `a non-empty list of budgets, each ${BUDGET_SHAPES}`).map((b, i) => {
    try {
      return parseBudget(b);
    } catch (e) {
      throw new ConfigError(`budgets[${i}]: ${(e as Error).message}`);
    }
  });
  const workloads = list(raw.workloads ?? ['gaussian'], 'workloads', 'a non-empty list of family names or {family, ...}').map((w, i) => validateWorkloadSpec(w, `workloads[${i}]`));
  const seeds = list(raw.seeds ?? [0], 'seeds', 'a non-empty list of integers') as number[];
  if (seeds.some((s) => !Number.isSafeInteger(s))) throw new ConfigError(`seeds is ${JSON.stringify(seeds)}, expected a non-empty list of integers`);
  const queries = parseQuerySchedule(raw.queries, 'queries');
  const workers: unknown = raw.workers ?? 'auto';
  if (workers !== 'auto' && !(typeof workers === 'number' && Number.isInteger(workers) && workers >= 1)) {
    throw new ConfigError(`workers is ${JSON.stringify(workers)}, expected "auto" or an integer >= 1`);
  }
  const name: unknown = raw.name ?? 'kv-eval';
  if (typeof name !== 'string' || name.length === 0) throw new ConfigError(`name is ${JSON.stringify(name)}, expected a non-empty string`);
  return { name, policies, budgets, workloads, seeds, queries, workers: workers as number | 'auto' };
}

/**
 * Expands a config into its grid: workloads × seeds × policies × budgets, in that order.
 * Policies that take no budget run once per workload and seed, at budget `full`.
 *
 * @param config - The resolved config.
 * @param registry - Registry (to know which policies take a budget).
 * @returns The jobs, indexed in order.
 * @throws `UnknownPolicyError` (from `@kv/core`) for a policy the registry does not hold (a
 *   config resolved against another registry).
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
          jobs.push({ index: jobs.length, policy, budget, workload, workloadIndex, seed, queries: config.queries });
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
