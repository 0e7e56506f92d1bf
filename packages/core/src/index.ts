export { axpy, copy, nrm2, scal } from './kernels/axpy.js';
export { dot, dotUnit } from './kernels/dot.js';
export { gemv } from './kernels/gemv.js';
export { logAddExp, logSumExp, maxOf, softmaxInPlace } from './kernels/softmax.js';
export type { FloatArray } from './kernels/types.js';
export { type WasmMemory, WasmSimdModule, type WasmSimdInstance } from './kernels/wasm-module.js';
export { BaseHeadCache } from './base-cache.js';
export { budgetBytes, capacityRows, floorBytes, isByteBudget, maxRows, partBudget, requireFits, validateBudget } from './budget.js';
export { ModelCache, type ModelCacheOptions, type PolicyChoice, type StoreAttention } from './container.js';
export type {
  Budget,
  ByteCost,
  CacheDescription,
  CacheState,
  HeadCache,
  ParamInfo,
  PolicyDefinition,
  PolicyRegistryLike,
  PolicySpec,
  PolicyTraits,
  StateArray,
  StateScalar,
} from './contract.js';
export {
  AssumptionViolatedError,
  DimensionMismatchError,
  EmptyCacheError,
  InvalidBudgetError,
  InvalidInputError,
  InvalidParamsError,
  isKvError,
  KvError,
  KvErrorCode,
  NonFiniteInputError,
  SnapshotError,
  type SnapshotFault,
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
export { checkRowRange, type KeptRowSource, readKeptRows } from './kept-rows.js';
export type { SlotStoreOptions } from './precision/store-options.js';
export {
  type CodecName,
  codecBits,
  CODECS,
  isIntegerCodec,
  parsePrecision,
  type Precision,
  precisionLabel,
  precisionParam,
  type PrecisionSpec,
  type ResolvedPrecision,
  resolvePrecision,
} from './precision/spec.js';
export { HadamardRotation } from './precision/hadamard.js';
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
export { checkFloat32Rows, checkFloat32Vector, checkRows, checkVector } from './validate.js';
export { type ArrayCtor, StateReader, stateBytes } from './state.js';
export { crc32 } from './snapshot/crc32.js';
export { type DecodedSnapshot, decodeSnapshot, encodeSnapshot, SNAPSHOT_VERSION } from './snapshot/format.js';
export { type ModelShape, restore, restoreModel, type SnapshotExpectation, snapshot, snapshotModel } from './snapshot/snapshot.js';
export { getKernelBackend, type KernelBackend, setKernelBackend } from './kernels/backend.js';
export { kernelFeatures } from './kernels/attention-modules.js';
