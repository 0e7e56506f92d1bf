import { ConfigError } from '../errors.js';
import { syntheticFamilies } from './synthetic.js';
import type { WorkloadSpec } from './types.js';

type Check = (v: unknown) => boolean;
const positiveInt: Check = (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
const nonNegativeInt: Check = (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const positive: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v > 0;
const string: Check = (v) => typeof v === 'string' && v.length > 0;
const numberMap: Check = (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'number' && Number.isFinite(x));
const intList: Check = (v) => Array.isArray(v) && v.length > 0 && v.every(nonNegativeInt);

interface Field {
  readonly check: Check;
  readonly shape: string;
}

const f = (check: Check, shape: string): Field => ({ check, shape });

/** The fields of each kind of workload, with their expected shape (also what `run --help` prints). */
export const WORKLOAD_FIELDS: Readonly<Record<'synthetic' | 'trace' | 'model', Readonly<Record<string, Field>>>> = {
  synthetic: {
    name: f(string, 'a non-empty string (default: the family)'),
    n: f(positiveInt, 'an integer >= 1 (default 512)'),
    d: f(positiveInt, 'an integer >= 1 (default 64)'),
    s: f(positiveInt, 'an integer >= 1 (default d)'),
    rho: f(positive, 'a number > 0 (default per family: 4, heavy-hitters 6, index max(8, 3 ln n))'),
    r: f(positive, 'a number > 0 (instead of rho)'),
    params: f(numberMap, 'a mapping of family knobs to numbers'),
  },
  trace: {
    name: f(string, 'a non-empty string (default: the folder or file name)'),
    path: f(string, 'a path (required)'),
    n: f(positiveInt, 'an integer >= 1 (default: the whole trace)'),
    maxHeads: f(positiveInt, 'an integer >= 1 (default: every head)'),
    tau: f(positive, 'a number > 0 (default: the manifest\'s, else 1/sqrt(d))'),
  },
  model: {
    name: f(string, 'a non-empty string (default "model")'),
    model: f(string, 'a llama2.c .bin or Hugging Face directory (default: the tiny model in the repository)'),
    text: f(string, 'a UTF-8 text file read as bytes (default: the sample text beside the model)'),
    n: f(positiveInt, 'an integer >= 1: tokens (bytes) fed (default 1024)'),
    offset: f(nonNegativeInt, 'an integer >= 0: first byte of the text (default 0)'),
    layers: f(intList, 'a non-empty list of layer indices (default: every layer)'),
    heads: f(intList, 'a non-empty list of query-head indices (default: every head)'),
  },
};

const TRACE_FAMILIES = new Set(['npy', 'safetensors']);

/**
 * Validates one entry of a config's `workloads`: a family name, or a spec whose every field has
 * the expected shape.
 *
 * @param raw - The entry.
 * @param where - The config field (`workloads[2]`), for messages.
 * @returns The spec.
 * @throws {@link ConfigError} naming the field and the expected shape.
 * @example
 * ```ts
 * import { validateWorkloadSpec } from '@kv/eval';
 * validateWorkloadSpec({ family: 'gaussian', n: 256 }, 'workloads[0]');
 * ```
 */
export function validateWorkloadSpec(raw: unknown, where: string): WorkloadSpec {
  const known = `${Object.keys(syntheticFamilies).join(', ')}, model, npy, safetensors`;
  if (typeof raw === 'string') {
    if (raw in syntheticFamilies || raw === 'model') return { family: raw } as WorkloadSpec;
    throw new ConfigError(`${where} is "${raw}"; known families: ${known} (npy and safetensors traces need {family, path})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || typeof (raw as { family?: unknown }).family !== 'string') {
    throw new ConfigError(`${where} is ${JSON.stringify(raw)}, expected a family name or {family, ...}`);
  }
  const spec = raw as Record<string, unknown>;
  const family = spec['family'] as string;
  const kind = TRACE_FAMILIES.has(family) ? 'trace' : family === 'model' ? 'model' : family in syntheticFamilies ? 'synthetic' : undefined;
  if (kind === undefined) throw new ConfigError(`${where}.family is "${family}"; known: ${known}`);
  const fields = WORKLOAD_FIELDS[kind];
  for (const [key, value] of Object.entries(spec)) {
    if (key === 'family') continue;
    const field = fields[key];
    if (!field) throw new ConfigError(`${where} (${family}) has no field "${key}"; its fields are ${Object.keys(fields).join(', ')}`);
    if (!field.check(value)) throw new ConfigError(`${where}.${key} is ${JSON.stringify(value)}, expected ${field.shape}`);
  }
  if (kind === 'trace' && spec['path'] === undefined) throw new ConfigError(`${where} (${family}) needs a path`);
  if (kind === 'synthetic' && spec['rho'] !== undefined && spec['r'] !== undefined) throw new ConfigError(`${where} gives both rho and r; give one`);
  return spec as unknown as WorkloadSpec;
}
