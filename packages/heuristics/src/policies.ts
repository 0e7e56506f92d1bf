import type { PolicyDefinition } from '@kv/core';
import { expectedAttentionPolicy } from './expected-attention.js';
import { h2oPolicy } from './h2o.js';
import { curPolicy } from './cur.js';
import { keydiffPolicy } from './keydiff.js';
import { lagkvPolicy } from './lagkv.js';
import { leveragePolicy } from './leverage.js';
import { scoredPolicy } from './scored.js';
import { kiviPolicy } from './kivi.js';
import { knormPolicy } from './knorm.js';
import { pyramidkvPolicy } from './pyramid.js';
import { randomPolicy } from './random.js';
import { slidingWindowPolicy } from './sliding-window.js';
import { snapkvPolicy } from './snapkv.js';
import { streamingLlmPolicy } from './streaming-llm.js';
import { tovaPolicy } from './tova.js';

/**
 * Every heuristic policy definition, to register explicitly (nothing registers on import).
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
 * registry.create({ policy: 'h2o', keyDim: 64, valueDim: 64, budget: { ratio: 0.2 } });
 * ```
 */
export const heuristicPolicies: readonly PolicyDefinition[] = [
  slidingWindowPolicy,
  streamingLlmPolicy,
  h2oPolicy,
  tovaPolicy,
  snapkvPolicy,
  pyramidkvPolicy,
  knormPolicy,
  randomPolicy,
  kiviPolicy,
  keydiffPolicy,
  expectedAttentionPolicy,
  lagkvPolicy,
  leveragePolicy,
  curPolicy,
  scoredPolicy,
];
