export { CurDKV, type CurLeverage, curPolicy, curScorer } from './cur.js';
export { ageScorer } from './eviction/age.js';
export { EvictionCache } from './eviction/eviction-cache.js';
export { type EvictionDefaults, evictionParams } from './eviction/params.js';
export { HeadPool, type PoolParams } from './eviction/pool.js';
export type { Scorer, ScoreView } from './eviction/scorer.js';
export {
  ExpectedAttention,
  type ExpectedAttentionOptions,
  expectedAttentionPolicy,
  expectedAttentionScorer,
  type QueryCovariance,
  type RopeSpec,
} from './expected-attention.js';
export { accumulatedAttentionScorer, H2O, h2oPolicy } from './h2o.js';
export { KeyDiff, keydiffPolicy, keyDiffScorer } from './keydiff.js';
export { LagKV, lagkvPolicy, lagScorer } from './lagkv.js';
export { LeverageScore, leveragePolicy, leverageScorer } from './leverage.js';
export { Kivi, type KiviBits, kiviPolicy, kiviPrecision } from './kivi.js';
export { KNorm, keyNormScorer, knormPolicy } from './knorm.js';
export { type DepthShape, layerBudgets, layerWeights } from './layer-budgets.js';
export { heuristicPolicies } from './policies.js';
export { PyramidKV, pyramidBudgets, pyramidkvPolicy, type PyramidOptions } from './pyramid.js';
export { RandomSubset, randomPolicy, randomPriorityScorer } from './random.js';
export { givenScorer, ScoredEviction, scoredPolicy } from './scored.js';
export { SlidingWindow, slidingWindowPolicy } from './sliding-window.js';
export { pooledAttentionScorer, SnapKV, type SnapKVAfter, snapkvPolicy } from './snapkv.js';
export { StreamingLlm, streamingLlmPolicy } from './streaming-llm.js';
export { lastAttentionScorer, Tova, tovaPolicy } from './tova.js';
export { adaKV, chunked, criticalKV, decoding } from './wrappers.js';
