import type { PolicyDefinition } from '@kv/core';
import { balanceKVPolicy } from './balancekv.js';
import { balanceKVTheoryPolicy } from './balancekv-theory.js';
import { subGenPolicy } from './subgen.js';
import { uniformSamplingPolicy } from './uniform.js';

export { BalancedHalving, type BalancedHalvingOptions } from './balanced-halving.js';
export { BalanceKV, balanceKVPolicy } from './balancekv.js';
export { BalanceKVTheory, balanceKVTheoryPolicy } from './balancekv-theory.js';
export { type BalanceKVTheoryInput, type BalanceKVTheoryParameters, deriveBalanceKVTheoryParameters } from './theory-params.js';
export { TheoryEpoch } from './theory-epoch.js';
export { budgetFloorRows, fitEdges, middleCapacity, samplingRates, storeLimit } from './edge-budget.js';
export { type Admission, ExactEdges } from './edges.js';
export { KeyClusters } from './key-clusters.js';
export { MergeAndReduce, type MergeAndReduceOptions, type RowKernel } from './merge-and-reduce.js';
export { type Halver, halveBatch, RowBatch } from './row-batch.js';
export {
  SoftmaxBalance,
  softmaxBalanceBound,
  type SoftmaxBalanceBoundInput,
  type SoftmaxBalanceOptions,
  walkConstant,
} from './softmax-balance.js';
export { PrioritySample } from './priority-sample.js';
export { RandomHalving } from './random-halving.js';
export { combineSeparateSums } from './separate-sums.js';
export { SubGen, subGenPolicy } from './subgen.js';
export { UniformSampling, uniformSamplingPolicy } from './uniform.js';
export { WeightedSample } from './weighted-sample.js';

/**
 * Every policy of this package, to register explicitly:
 * `balancekv`, `balancekv-theory`, `uniform` and `subgen`.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { coresetPolicies } from '@kv/coreset';
 * const registry = new PolicyRegistry();
 * for (const p of coresetPolicies) registry.register(p);
 * ```
 */
export const coresetPolicies: readonly PolicyDefinition[] = [balanceKVPolicy, balanceKVTheoryPolicy, uniformSamplingPolicy, subGenPolicy];
