import type { PolicyDefinition } from '@kv/core';
import { lshHeavyPolicy } from './heavy-keys.js';
import { lshMultiRatePolicy } from './multirate.js';
import { lshSamplePolicy } from './lsh-sample.js';

/**
 * Every policy of this package, to register explicitly (nothing registers at import time).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { lshPolicies } from '@kv/lsh';
 * const registry = new PolicyRegistry().register(...lshPolicies);
 * ```
 */
export const lshPolicies: PolicyDefinition[] = [lshHeavyPolicy, lshMultiRatePolicy, lshSamplePolicy];
