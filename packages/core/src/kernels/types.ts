/**
 * A dense float vector or strided matrix storage: Float32 for stored data, Float64 for accumulators.
 *
 * @example
 * ```ts
 * import { dot, type FloatArray } from '@kv/core';
 * const keys: FloatArray = new Float32Array([1, 2, 3, 4]); // two rows of d = 2
 * const query: FloatArray = new Float64Array([1, 1]);
 * dot(2, keys, 1, 2, query, 1, 0); // second row · query = 7
 * ```
 */
export type FloatArray = Float32Array | Float64Array;
