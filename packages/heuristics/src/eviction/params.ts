import { booleanParam, integerParam, InvalidParamsError, numberParam, type ParamInfo, type PolicySpec, parsePrecision, type PrecisionSpec, precisionParam } from '@kv/core';
import { parsePool, type PoolParams } from './pool.js';

/**
 * Defaults a policy gives the shared eviction parameters (its paper's settings).
 *
 * @example
 * ```ts
 * import type { EvictionDefaults } from '@kv/heuristics';
 * const streaming: EvictionDefaults = { sinks: 4 };
 * ```
 */
export interface EvictionDefaults {
  /** First positions never evicted (default 0). */
  readonly sinks?: number;
  /** Most recent tokens protected (default 0). */
  readonly recent?: number;
  /** Protected recent tokens as a fraction of the capacity, when `recent` is not given. */
  readonly recentRatio?: number;
  /** Steps between two scorings of a computed scorer (default 1). */
  readonly every?: number;
  /** Steps between two scorings as a fraction of the capacity, when `every` is not given. */
  readonly everyRatio?: number;
  /** Storage precision when `params.precision` is not given (a preset such as KIVI's). */
  readonly precision?: PrecisionSpec;
}

/**
 * The shared eviction parameters, as read from a spec.
 * @internal
 */
export interface EvictionSettings {
  readonly sinks: number;
  readonly recent: number | undefined;
  readonly recentRatio: number;
  readonly every: number;
  /** 0: `every` applies. */
  readonly everyRatio: number;
  readonly buffer: number;
  readonly chunk: number;
  readonly critical: boolean;
  readonly firstStage: number;
  readonly pool: Required<PoolParams> | null;
  readonly precision: PrecisionSpec;
}

/**
 * Reads the shared eviction parameters of a spec.
 * @param spec - The spec.
 * @param defaults - The policy's defaults.
 * @returns The settings.
 * @throws `InvalidParamsError` on a bad value, or both `recent` and `recentRatio` (`every` and `everyRatio`).
 * @internal
 */
export function evictionSettings(spec: PolicySpec, defaults: EvictionDefaults): EvictionSettings {
  const p = spec.params;
  if (p?.['recent'] !== undefined && p['recentRatio'] !== undefined) {
    throw new InvalidParamsError(`${spec.policy} takes "recent" or "recentRatio", not both`);
  }
  const recentGiven = p?.['recent'] !== undefined ? integerParam(p, 'recent', { min: 0 }) : undefined;
  const ratioGiven = p?.['recentRatio'] !== undefined ? numberParam(p, 'recentRatio', { min: 0, max: 1 }) : undefined;
  if (p?.['every'] !== undefined && p['everyRatio'] !== undefined) {
    throw new InvalidParamsError(`${spec.policy} takes "every" or "everyRatio", not both`);
  }
  const everyGiven = p?.['every'] !== undefined;
  const recent = recentGiven ?? (ratioGiven !== undefined ? undefined : defaults.recentRatio !== undefined ? undefined : (defaults.recent ?? 0));
  return {
    sinks: integerParam(p, 'sinks', { default: defaults.sinks ?? 0, min: 0 }),
    recent,
    recentRatio: ratioGiven ?? defaults.recentRatio ?? 0,
    every: integerParam(p, 'every', { default: defaults.every ?? 1, min: 1 }),
    everyRatio: everyGiven ? 0 : numberParam(p, 'everyRatio', { default: defaults.everyRatio ?? 0, min: 0, max: 1 }),
    buffer: integerParam(p, 'buffer', { default: 0, min: 0 }),
    chunk: integerParam(p, 'chunk', { default: 1, min: 1 }),
    critical: booleanParam(p, 'critical', false),
    firstStage: numberParam(p, 'firstStage', { default: 0.5, min: 0, max: 1 }),
    pool: parsePool(p?.['pool']),
    precision: p?.['precision'] === undefined && defaults.precision ? defaults.precision : parsePrecision(p?.['precision'], spec.policy),
  };
}

/**
 * The shared parameters every eviction policy accepts, with a policy's defaults filled in.
 *
 * @param defaults - The policy's defaults.
 * @returns Their descriptions, for the policy's `params`.
 * @example
 * ```ts
 * import { evictionParams } from '@kv/heuristics';
 * evictionParams({ sinks: 4 }).map((p) => p.name); // ['sinks', 'recent', 'recentRatio', 'every', …]
 * ```
 */
export function evictionParams(defaults: EvictionDefaults = {}): ParamInfo[] {
  return [
    { name: 'sinks', type: 'integer', default: defaults.sinks ?? 0, description: 'First positions never evicted (attention sinks).' },
    { name: 'recent', type: 'integer', ...(defaults.recentRatio === undefined ? { default: defaults.recent ?? 0 } : {}), description: 'Most recent tokens protected (overrides recentRatio).' },
    { name: 'recentRatio', type: 'number', ...(defaults.recentRatio !== undefined ? { default: defaults.recentRatio } : {}), description: 'Protected recent tokens as a fraction of the capacity.' },
    { name: 'every', type: 'integer', default: defaults.every ?? 1, description: 'Steps between two scorings of a computed scorer (scores are reused in between; new tokens are kept until scored).' },
    { name: 'everyRatio', type: 'number', default: defaults.everyRatio ?? 0, description: 'Steps between two scorings as a fraction of the capacity (overrides the default every; 0: use every).' },
    { name: 'buffer', type: 'integer', default: 0, description: 'When full, evict down to capacity − 1 − buffer at once (DecodingPress: compress every buffer + 1 steps).' },
    { name: 'chunk', type: 'integer', default: 1, description: 'Evict whole chunks of this many consecutive positions by mean score (ChunkKV).' },
    { name: 'critical', type: 'boolean', default: false, description: 'CriticalKV: weight scores by the value norm, after keeping the top firstStage of the capacity by score.' },
    { name: 'firstStage', type: 'number', default: 0.5, description: 'CriticalKV: fraction of the capacity kept by raw score before value weighting.' },
    { name: 'pool', type: 'object', description: 'AdaKV: { heads, head, layer?, alpha? }: heads of a layer share one budget.' },
    precisionParam,
  ];
}
