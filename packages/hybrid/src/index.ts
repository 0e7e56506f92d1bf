import type { PolicyDefinition } from '@kv/core';
import { autoPolicy } from './auto.js';
import { cellsPolicy } from './cells.js';
import { partitionedPolicy } from './partitioned.js';
import { taylorCoresetPolicy } from './taylor-coreset.js';
import { tieredPolicy } from './tiered.js';

export { AutoCache, autoParams, autoPolicy } from './auto.js';
export { type AutoCandidate, defaultAutoCandidates, type TrialScore } from './auto-trial.js';
export { CellsCache, cellsMemory, cellsParams, cellsPolicy } from './cells.js';
export { choiceParamOf, createPart } from './choice.js';
export { perHead, perLayer } from './layers.js';
export {
  type CompiledRoute,
  compileRoute,
  createPartitionedPolicy,
  PartitionedCache,
  type PartitionedOptions,
  partitioned,
  partitionedPolicy,
  type RouteSpec,
  sumOf,
  type TokenRoute,
} from './partitioned.js';
export { ResidualBalance, type ResidualBalanceOptions } from './residual-balance.js';
export { ResidualCoreset, ResidualKernel } from './residual-coreset.js';
export { logAbsResidual, residualExp, residualNormBound, residualSign } from './residual-exp.js';
export {
  deriveTaylorCoresetParameters,
  TAYLOR_CORESET_BLOCK_CONSTANT,
  TAYLOR_CORESET_WALK_CONSTANT,
  TaylorCoresetCache,
  type TaylorCoresetInput,
  type TaylorCoresetParameters,
  taylorCoresetParams,
  taylorCoresetPolicy,
} from './taylor-coreset.js';
export { TieredCache, type TieredOptions, tiered, tieredPolicy } from './tiered.js';

/**
 * Every policy of this package, to register explicitly: `tiered`, `partitioned`,
 * `hybrid-taylor-coreset`, `hybrid-cells` and `auto`.
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { hybridPolicies } from '@kv/hybrid';
 * const registry = new PolicyRegistry().register(exactPolicy, ...hybridPolicies);
 * ```
 */
export const hybridPolicies: readonly PolicyDefinition[] = [tieredPolicy, partitionedPolicy, taylorCoresetPolicy, cellsPolicy, autoPolicy];
