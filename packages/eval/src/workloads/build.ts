import { modelWorkload } from './model.js';
import { syntheticWorkload } from './synthetic.js';
import { loadNpyTrace, loadSafetensorsTrace } from './traces.js';
import type { ModelWorkloadSpec, SyntheticWorkloadSpec, TraceWorkloadSpec, Workload, WorkloadSpec } from './types.js';

/**
 * Builds a workload from its description: synthetic families are generated from the seed,
 * traces are loaded from disk, and `model` runs the model over its text (the seed is ignored
 * for the last two).
 *
 * @param spec - The workload description.
 * @param seed - Seed of synthetic draws.
 * @returns The workload.
 * @throws `InvalidParamsError` (from `@kv/core`) for a bad synthetic spec; {@link TraceFormatError}
 *   for a bad trace; {@link ConfigError} for a model or text that cannot be read;
 *   `DimensionMismatchError` or `NonFiniteInputError` (from `@kv/core`) for a model file that loads
 *   but whose keys or values the cache refuses (NaN or Infinity from corrupt weights).
 * @example
 * ```ts
 * import { buildWorkload } from '@kv/eval';
 * const w = buildWorkload({ family: 'heavy-hitters', n: 256, d: 32 }, 7);
 * ```
 */
export function buildWorkload(spec: WorkloadSpec, seed: number): Workload {
  if (spec.family === 'npy') return loadNpyTrace(spec as TraceWorkloadSpec);
  if (spec.family === 'safetensors') return loadSafetensorsTrace(spec as TraceWorkloadSpec);
  if (spec.family === 'model') return modelWorkload(spec as ModelWorkloadSpec);
  return syntheticWorkload(spec as SyntheticWorkloadSpec, seed);
}
