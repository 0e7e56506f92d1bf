import type { PolicyDefinition } from '@kv/core';
import { momentCellsPolicy } from './moment-cells.js';
import { multipolePolicy } from './multipole.js';
import { performerPolicy } from './performer.js';
import { taylorPolicy } from './taylor.js';

/**
 * Every policy of this package: `taylor`, `multipole`, `performer` and `moment-cells`. Register them explicitly.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { polynomialPolicies } from '@kv/polynomial';
 * const registry = new PolicyRegistry().register(...polynomialPolicies);
 * ```
 */
export const polynomialPolicies: readonly PolicyDefinition[] = [taylorPolicy, multipolePolicy, performerPolicy, momentCellsPolicy];
