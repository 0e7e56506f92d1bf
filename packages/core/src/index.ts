export { axpy, copy, nrm2, scal } from './kernels/axpy.js';
export { dot, dotUnit } from './kernels/dot.js';
export { gemv } from './kernels/gemv.js';
export { logAddExp, logSumExp, maxOf, softmaxInPlace } from './kernels/softmax.js';
export type { FloatArray } from './kernels/types.js';
export { type WasmMemory, WasmSimdModule, type WasmSimdInstance } from './kernels/wasm-module.js';
export { BaseHeadCache } from './base-cache.js';
export { budgetCapacity, fixedBudget, validateBudget } from './budget.js';
export { ModelCache, type ModelCacheOptions, type PolicyChoice } from './container.js';
export type { Budget, HeadCache, ParamInfo, PolicyDefinition, PolicyRegistryLike, PolicySpec } from './contract.js';
export {
  AssumptionViolatedError,
  DimensionMismatchError,
  EmptyCacheError,
  InvalidBudgetError,
  InvalidParamsError,
  isKvError,
  KvError,
  KvErrorCode,
  NonFiniteInputError,
  UnknownPolicyError,
  UnsupportedError,
} from './errors.js';
export { ExactCache, exactPolicy } from './exact.js';
export {
  compareToExact,
  compressionRatio,
  cosineSimilarity,
  type ErrorMetrics,
  maxAbsError,
  normalizedError,
  relativeError,
} from './metrics.js';
export { booleanParam, choiceParam, integerParam, type NumberParamOptions, numberParam, rejectUnknownParams } from './params.js';
export { type ReferenceAttentionResult, referenceAttention } from './reference.js';
export { PolicyRegistry, validateSpec } from './registry.js';
export { mixSeed, Reservoir, Rng } from './rng.js';
export { SlotStore } from './slot-store.js';
export {
  clearSums,
  copySums,
  createKernelSums,
  type KernelSums,
  logNormalizer,
  mergeSums,
  sumsFromLogits,
  sumsToOutput,
} from './sums.js';
export { checkRows, checkVector } from './validate.js';
export { getKernelBackend, type KernelBackend, setKernelBackend } from './kernels/backend.js';
