export { BaseTensorCache } from './base-tensor-cache.js';
export type { TensorCacheDefinition, TensorHeadCache } from './contract.js';
export { FourCache, fourCacheDefinition, PAIR_BLOCK, type PairMode } from './four-cache.js';
export { MatrixSliceCache, matrixSlicePolicy } from './matrix-slice.js';
export {
  allocatedTokenRows,
  type CacheBytes,
  fourCacheBytes,
  INITIAL_TOKEN_ROWS,
  taylorCacheBytes,
  twoCacheBytes,
} from './memory.js';
export { referenceTensorAttention, type TensorAttentionResult, tensorReferenceSums } from './reference.js';
export { createTensorCache, tensorCaches } from './registry.js';
export { MAX_MONOMIALS, TaylorCache, taylorCacheDefinition, taylorRelativeError } from './taylor-cache.js';
export { TwoCache, twoCacheDefinition } from './two-cache.js';
