import { isKvError, parsePrecision, type Precision, precisionLabel, type PolicyRegistry, resolvePrecision } from '@kv/core';
import { ConfigError } from './errors.js';
import type { PolicyChoice } from './runner.js';

/**
 * Checks one precision of a sweep with core's `parsePrecision` (a codec name or a
 * `PrecisionSpec`), as a config error.
 *
 * @param raw - The config value.
 * @param where - The config field, for messages.
 * @returns The precision as written.
 * @throws {@link ConfigError} naming the field and the expected shape.
 * @example
 * ```ts
 * import { validatePrecision } from '@kv/eval';
 * validatePrecision({ keys: 'int4', rotate: true }, 'precision[2]');
 * ```
 */
export function validatePrecision(raw: unknown, where: string): Precision {
  try {
    parsePrecision(raw, where);
  } catch (e) {
    if (isKvError(e)) throw new ConfigError((e as Error).message);
    throw e;
  }
  return raw as Precision;
}

/**
 * Expands policies across precisions (selection × precision): every policy whose definition
 * takes a `precision` parameter runs once per precision, labelled `<label> <precision>` with
 * core's precision label; the others run once, as listed.
 *
 * @param policies - The selections.
 * @param precisions - The precisions to sweep.
 * @param registry - Registry (to know which policies take a precision).
 * @returns The expanded choices.
 * @throws `UnknownPolicyError` (from `@kv/core`) for a policy the registry does not hold.
 * @example
 * ```ts
 * import { createDefaultRegistry, sweepPrecision } from '@kv/eval';
 * sweepPrecision([{ policy: 'h2o' }], ['f16', 'int4'], createDefaultRegistry()).map((p) => p.label);
 * // ['h2o f16', 'h2o int4'] when h2o takes a precision
 * ```
 */
export function sweepPrecision(policies: readonly PolicyChoice[], precisions: readonly Precision[], registry: PolicyRegistry): PolicyChoice[] {
  return policies.flatMap((p) => {
    if (!registry.get(p.policy).params.some((x) => x.name === 'precision')) return [p];
    return precisions.map((q) => ({ ...p, params: { ...(p.params ?? {}), precision: q }, label: `${p.label ?? p.policy} ${precisionLabel(resolvePrecision(q))}` }));
  });
}
