export { choiceParamOf, createPart, remainingBudget } from './choice.js';
export { perHead, perLayer } from './layers.js';
export {
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
export { TieredCache, type TieredOptions, tiered, tieredPolicy } from './tiered.js';
