import type { PolicyRegistry } from '@kv/core';
import { ConfigError } from './errors.js';
import type { PolicyChoice } from './runner.js';

/**
 * The codecs of core's precision layer.
 *
 * @example
 * ```ts
 * import { PRECISION_CODECS } from '@kv/eval';
 * PRECISION_CODECS.includes('int4'); // true
 * ```
 */
export const PRECISION_CODECS = ['f32', 'f16', 'int8', 'int4', 'int3', 'int2'] as const;

/**
 * A precision as a config names it: a codec, or core's `PrecisionSpec` (keys and values codecs,
 * group size, f32 residual rows, rotation, codebook).
 *
 * @example
 * ```ts
 * import type { PrecisionChoice } from '@kv/eval';
 * const sweep: PrecisionChoice[] = ['f32', 'int8', { keys: 'int4', values: 'int8', rotate: true }];
 * ```
 */
export type PrecisionChoice =
  | (typeof PRECISION_CODECS)[number]
  | {
      readonly keys?: (typeof PRECISION_CODECS)[number];
      readonly values?: (typeof PRECISION_CODECS)[number];
      readonly group?: number;
      readonly residual?: number;
      readonly rotate?: boolean;
      readonly codebook?: 'uniform' | 'lloyd-max';
      readonly keyGroups?: 'token' | 'channel';
      readonly scales?: 'f16' | 'f32';
    };

const codec = (v: unknown): boolean => typeof v === 'string' && (PRECISION_CODECS as readonly string[]).includes(v);
const FIELDS: Readonly<Record<string, [(v: unknown) => boolean, string]>> = {
  keys: [codec, `one of ${PRECISION_CODECS.join(', ')}`],
  values: [codec, `one of ${PRECISION_CODECS.join(', ')}`],
  group: [(v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1, 'an integer >= 1'],
  residual: [(v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0, 'an integer >= 0'],
  rotate: [(v) => typeof v === 'boolean', 'true or false'],
  codebook: [(v) => v === 'uniform' || v === 'lloyd-max', '"uniform" or "lloyd-max"'],
  keyGroups: [(v) => v === 'token' || v === 'channel', '"token" or "channel"'],
  scales: [(v) => v === 'f16' || v === 'f32', '"f16" or "f32"'],
};

/**
 * Checks the shape of one precision of a sweep, as core's `PrecisionSpec` has it (the policy
 * checks the values it supports when it is created).
 *
 * @param raw - The config value.
 * @param where - The config field, for messages.
 * @returns The precision.
 * @throws {@link ConfigError} naming the field and the expected shape.
 * @example
 * ```ts
 * import { validatePrecision } from '@kv/eval';
 * validatePrecision({ keys: 'int4', rotate: true }, 'precision[2]');
 * ```
 */
export function validatePrecision(raw: unknown, where: string): PrecisionChoice {
  if (codec(raw)) return raw as PrecisionChoice;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${where} is ${JSON.stringify(raw)}, expected a codec (${PRECISION_CODECS.join(', ')}) or {${Object.keys(FIELDS).map((k) => `${k}?`).join(', ')}}`);
  }
  for (const [k, v] of Object.entries(raw)) {
    const field = FIELDS[k];
    if (!field) throw new ConfigError(`${where} has no field "${k}"; its fields are ${Object.keys(FIELDS).join(', ')}`);
    if (!field[0](v)) throw new ConfigError(`${where}.${k} is ${JSON.stringify(v)}, expected ${field[1]}`);
  }
  return raw as PrecisionChoice;
}

/**
 * A short label of a precision for tables: `int4`, or `k int4 · v int8 · rot` for a spec.
 *
 * @param p - The precision.
 * @returns The label.
 * @example
 * ```ts
 * import { precisionLabel } from '@kv/eval';
 * precisionLabel({ keys: 'int4', values: 'int8', rotate: true }); // "k int4 · v int8 · rot"
 * ```
 */
export function precisionLabel(p: PrecisionChoice): string {
  if (typeof p === 'string') return p;
  const parts: string[] = [];
  if (p.values === undefined || p.values === p.keys) parts.push(p.keys ?? 'f32');
  else parts.push(`k ${p.keys ?? 'f32'}`, `v ${p.values}`);
  if (p.group !== undefined) parts.push(`g${p.group}`);
  if (p.residual !== undefined) parts.push(`r${p.residual}`);
  if (p.rotate) parts.push('rot');
  if (p.codebook === 'lloyd-max') parts.push('lloyd-max');
  if (p.keyGroups !== undefined) parts.push(`k per ${p.keyGroups}`);
  if (p.scales !== undefined) parts.push(`scales ${p.scales}`);
  return parts.join(' · ');
}

/**
 * Expands policies across precisions (selection × precision): every policy whose definition
 * takes a `precision` parameter runs once per precision, labelled `<label> <precision>`; the
 * others run once, as listed.
 *
 * @param policies - The selections.
 * @param precisions - The precisions to sweep.
 * @param registry - Registry (to know which policies take a precision).
 * @returns The expanded choices.
 * @example
 * ```ts
 * import { createDefaultRegistry, sweepPrecision } from '@kv/eval';
 * sweepPrecision([{ policy: 'h2o' }], ['f16', 'int4'], createDefaultRegistry()).map((p) => p.label);
 * // ['h2o f16', 'h2o int4'] once h2o takes a precision
 * ```
 */
export function sweepPrecision(policies: readonly PolicyChoice[], precisions: readonly PrecisionChoice[], registry: PolicyRegistry): PolicyChoice[] {
  return policies.flatMap((p) => {
    if (!registry.get(p.policy).params.some((x) => x.name === 'precision')) return [p];
    return precisions.map((q) => ({ ...p, params: { ...(p.params ?? {}), precision: q }, label: `${p.label ?? p.policy} ${precisionLabel(q)}` }));
  });
}
