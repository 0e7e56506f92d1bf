export { BucketIndex } from './bucket-index.js';
export {
  CrossPolytope,
  createFamily,
  type FamilyOptions,
  type LshFamily,
  type Partitioner,
  SimHash,
  SphericalFilter,
} from './family.js';
export {
  bivariateUpperOrthant,
  crossPolytopeCollision,
  gaussLegendre,
  integrate,
  normalCdf,
  normalPdf,
  normalTail,
  type QuadratureRule,
  sphericalFilterCollision,
} from './gaussian.js';
export { HashingBasedEstimator, type HbeOptions, hbeRelativeVarianceBound } from './hbe.js';
export { LshHeavyKeys, lshHeavyPolicy, type RetainRule } from './heavy-keys.js';
export { SlotMinHeap } from './min-heap.js';
export { type FamilyParams, familyParams, readFamilyParams } from './params.js';
export { LshTables, tableBytes } from './tables.js';
export { fitTables, maxBudgetBytes } from './lsh-budget.js';
export { LshMultiRate, lshMultiRatePolicy } from './multirate.js';
export { LshSample, lshSamplePolicy } from './lsh-sample.js';
export { lshPolicies } from './policies.js';
