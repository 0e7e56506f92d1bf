import { loadNpyTrace, loadSafetensorsTrace } from './traces.js';
import { syntheticWorkload } from './synthetic.js';
import type { SyntheticWorkloadSpec, TraceWorkloadSpec, Workload, WorkloadSpec } from './types.js';

/**
 * Builds a workload from its description: synthetic families are generated from the seed,
 * traces are loaded from disk (the seed is ignored).
 *
 * @param spec - The workload description.
 * @param seed - Seed of synthetic draws.
 * @returns The workload.
 * @throws `InvalidParamsError` (from `@kv/core`) for a bad synthetic spec; {@link TraceFormatError} for a bad trace.
 * @example
 * ```ts
 * import { buildWorkload } from '@kv/eval';
 * const w = buildWorkload({ family: 'heavy-hitters', n: 256, d: 32 }, 7);
 * ```
 */
export function buildWorkload(spec: WorkloadSpec, seed: number): Workload {
  if (spec.family === 'npy') return loadNpyTrace(spec as TraceWorkloadSpec);
  if (spec.family === 'safetensors') return loadSafetensorsTrace(spec as TraceWorkloadSpec);
  return syntheticWorkload(spec as SyntheticWorkloadSpec, seed);
}
