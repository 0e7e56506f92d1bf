import { choiceParam, integerParam, numberParam, type ParamInfo, type PolicySpec } from '@kv/core';
import type { FamilyOptions } from './family.js';

/**
 * The hash-family parameters shared by the LSH policies (`family`, `hashes`, `tables`, `rows`,
 * `threshold`, `filters`).
 *
 * @param defaults - Default number of concatenated hashes and of tables.
 * @returns Their descriptions.
 * @example
 * ```ts
 * import { familyParams } from '@kv/lsh';
 * familyParams({ hashes: 8, tables: 8 }).map((p) => p.name);
 * ```
 */
export function familyParams(defaults: { hashes: number; tables: number }): ParamInfo[] {
  return [
    { name: 'family', type: 'string', default: 'simhash', description: 'LSH family: simhash | cross-polytope | spherical-filter.' },
    {
      name: 'hashes',
      type: 'integer',
      default: defaults.hashes,
      description: `Concatenated hashes k per table (bits for simhash; default ${defaults.hashes} for simhash, 1 for the other families).`,
    },
    { name: 'tables', type: 'integer', default: defaults.tables, description: 'Independent hash tables L.' },
    { name: 'rows', type: 'integer', description: 'cross-polytope: rows m of each Gaussian matrix (default min(d, 256)).' },
    { name: 'threshold', type: 'number', default: 1, description: 'spherical-filter: threshold η in [0, 6].' },
    { name: 'filters', type: 'integer', description: 'spherical-filter: filters F per hash (default ⌈8/Φ̄(η)⌉).' },
  ];
}

/**
 * The family parameters of a spec, as read by {@link readFamilyParams}.
 *
 * @example
 * ```ts
 * import { type FamilyParams, readFamilyParams } from '@kv/lsh';
 * const { family, tables }: FamilyParams = readFamilyParams(
 *   { policy: 'lsh-heavy', keyDim: 8, valueDim: 8, params: { family: 'cross-polytope', tables: 4 } },
 *   { hashes: 8, tables: 8 },
 * );
 * ```
 */
export interface FamilyParams {
  /** Family kind and shape. */
  readonly family: FamilyOptions;
  /** Number of tables L. */
  readonly tables: number;
}

/**
 * Reads the family parameters of a spec.
 *
 * @param spec - The policy spec.
 * @param defaults - Default k and L.
 * @returns The family options and the table count.
 * @throws `InvalidParamsError` for out-of-range values.
 * @example
 * ```ts
 * import { readFamilyParams } from '@kv/lsh';
 * readFamilyParams({ policy: 'lsh-heavy', keyDim: 8, valueDim: 8, params: { hashes: 6 } }, { hashes: 8, tables: 8 });
 * ```
 */
export function readFamilyParams(
  spec: PolicySpec,
  defaults: { hashes: number; tables: number },
): FamilyParams {
  const p = spec.params;
  const kind = choiceParam(p, 'family', ['simhash', 'cross-polytope', 'spherical-filter'] as const, 'simhash');
  // A cross-polytope or filter hash already has 2m or F + 1 cells, so one of them is the
  // natural default where SimHash needs several bits.
  const hashes = integerParam(p, 'hashes', { default: kind === 'simhash' ? defaults.hashes : 1, min: 1, max: 30 });
  const tables = integerParam(p, 'tables', { default: defaults.tables, min: 1, max: 256 });
  const family: FamilyOptions = {
    kind,
    hashes,
    ...(p?.rows !== undefined ? { rows: integerParam(p, 'rows', { min: 1, max: 1024 }) } : {}),
    threshold: numberParam(p, 'threshold', { default: 1, min: 0, max: 6 }),
    ...(p?.filters !== undefined ? { filters: integerParam(p, 'filters', { min: 1, max: 65536 }) } : {}),
  };
  return { family, tables };
}
