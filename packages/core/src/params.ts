import type { ParamInfo, PolicySpec } from './contract.js';
import { InvalidParamsError } from './errors.js';

/**
 * Range and default of a numeric parameter.
 *
 * @example
 * ```ts
 * import { numberParam, type NumberParamOptions } from '@kv/core';
 * const epsRange: NumberParamOptions = { default: 0.1, min: 0, max: 1 };
 * numberParam({}, 'eps', epsRange); // 0.1
 * ```
 */
export interface NumberParamOptions {
  /** Value when the parameter is omitted; without it the parameter is required. */
  readonly default?: number;
  /** Smallest allowed value (inclusive). */
  readonly min?: number;
  /** Largest allowed value (inclusive). */
  readonly max?: number;
}

/**
 * Reads a number parameter, checked against its range.
 *
 * @param params - `spec.params`.
 * @param name - Parameter name.
 * @param options - Default and range.
 * @returns The value.
 * @throws {@link InvalidParamsError} when missing without default, not a finite number, or out of range.
 * @example
 * ```ts
 * import { numberParam } from '@kv/core';
 * numberParam({ gamma: 4 }, 'gamma', { default: 4, min: 0 }); // 4
 * ```
 */
export function numberParam(params: Readonly<Record<string, unknown>> | undefined, name: string, options: NumberParamOptions = {}): number {
  const raw = params?.[name];
  if (raw === undefined) {
    if (options.default === undefined) throw new InvalidParamsError(`parameter "${name}" is required`);
    return options.default;
  }
  if (typeof raw !== 'number' || !Number.isFinite(raw)) {
    throw new InvalidParamsError(`parameter "${name}" is ${JSON.stringify(raw)}, expected a finite number`);
  }
  if (options.min !== undefined && raw < options.min) {
    throw new InvalidParamsError(`parameter "${name}" is ${raw}, expected >= ${options.min}`);
  }
  if (options.max !== undefined && raw > options.max) {
    throw new InvalidParamsError(`parameter "${name}" is ${raw}, expected <= ${options.max}`);
  }
  return raw;
}

/**
 * Reads an integer parameter, checked against its range.
 *
 * @param params - `spec.params`.
 * @param name - Parameter name.
 * @param options - Default and range.
 * @returns The value.
 * @throws {@link InvalidParamsError} when missing without default, not an integer, or out of range.
 * @example
 * ```ts
 * import { integerParam } from '@kv/core';
 * integerParam({ window: 32 }, 'window', { min: 1 }); // 32
 * ```
 */
export function integerParam(params: Readonly<Record<string, unknown>> | undefined, name: string, options: NumberParamOptions = {}): number {
  const v = numberParam(params, name, options);
  if (!Number.isInteger(v)) throw new InvalidParamsError(`parameter "${name}" is ${v}, expected an integer`);
  return v;
}

/**
 * Reads a boolean parameter.
 *
 * @param params - `spec.params`.
 * @param name - Parameter name.
 * @param fallback - Value when omitted.
 * @returns The value.
 * @throws {@link InvalidParamsError} when present and not a boolean.
 * @example
 * ```ts
 * import { booleanParam } from '@kv/core';
 * booleanParam({}, 'strict', false); // false
 * ```
 */
export function booleanParam(params: Readonly<Record<string, unknown>> | undefined, name: string, fallback: boolean): boolean {
  const raw = params?.[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'boolean') {
    throw new InvalidParamsError(`parameter "${name}" is ${JSON.stringify(raw)}, expected a boolean`);
  }
  return raw;
}

/**
 * Reads a string parameter restricted to a set of choices.
 *
 * @param params - `spec.params`.
 * @param name - Parameter name.
 * @param choices - Allowed values.
 * @param fallback - Value when omitted.
 * @returns The value.
 * @throws {@link InvalidParamsError} when present and not one of `choices`.
 * @example
 * ```ts
 * import { choiceParam } from '@kv/core';
 * choiceParam({ after: 'window' }, 'after', ['keep', 'window'] as const, 'keep'); // 'window'
 * ```
 */
export function choiceParam<const C extends string>(params: Readonly<Record<string, unknown>> | undefined, name: string, choices: readonly C[], fallback: C): C {
  const raw = params?.[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !(choices as readonly string[]).includes(raw)) {
    throw new InvalidParamsError(`parameter "${name}" is ${JSON.stringify(raw)}, expected one of ${choices.join(', ')}`);
  }
  return raw as C;
}

/**
 * Rejects parameters a policy does not declare (catches typos such as `windw`).
 *
 * @param spec - The spec to check.
 * @param known - The policy's declared parameters.
 * @throws {@link InvalidParamsError} naming the unknown parameter and the known ones.
 * @example
 * ```ts
 * import { rejectUnknownParams } from '@kv/core';
 * rejectUnknownParams({ policy: 'exact', keyDim: 4, valueDim: 4 }, []);
 * ```
 */
export function rejectUnknownParams(spec: PolicySpec, known: readonly ParamInfo[]): void {
  if (spec.params === undefined) return;
  if (typeof spec.params !== 'object' || spec.params === null || Array.isArray(spec.params)) {
    throw new InvalidParamsError(`params of ${spec.policy} must be an object`);
  }
  for (const key of Object.keys(spec.params)) {
    if (!known.some((p) => p.name === key)) {
      const names = known.map((p) => p.name);
      throw new InvalidParamsError(
        `unknown parameter "${key}" for ${spec.policy}; known: ${names.length ? names.join(', ') : '(none)'}`,
      );
    }
  }
}
