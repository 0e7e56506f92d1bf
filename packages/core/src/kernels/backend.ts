import { UnsupportedError } from '../errors.js';
import { wasmAttentionAvailable } from './store-kernels.js';

/**
 * Which implementation runs the attention hot path of {@link SlotStore} (and so of every policy
 * that answers through it): `'wasm'` (WebAssembly SIMD kernels over rows kept in a WebAssembly
 * memory) or `'js'` (plain typed-array loops).
 *
 * @example
 * ```ts
 * import { getKernelBackend, type KernelBackend } from '@kv/core';
 * const backend: KernelBackend = getKernelBackend();
 * console.log(`attention runs on ${backend}`);
 * ```
 */
export type KernelBackend = 'js' | 'wasm';

let requested: KernelBackend | 'auto' = 'auto';

/**
 * Chooses the attention backend for the whole process (both backends return bit-identical
 * results, so this only changes speed).
 *
 * @param backend - `'wasm'`, `'js'`, or `'auto'` (the default: wasm when the engine supports
 *   WebAssembly SIMD, else js).
 * @returns The backend now in effect.
 * @throws {@link UnsupportedError} for `'wasm'` on an engine without WebAssembly SIMD.
 * @example
 * ```ts
 * import { setKernelBackend } from '@kv/core';
 * setKernelBackend('js'); // force the JavaScript fallback, e.g. to compare
 * setKernelBackend('auto');
 * ```
 * @remarks
 * The wasm path performs the same IEEE-754 double operations as the JS path in the same order
 * for every output element (WebAssembly and JavaScript both forbid fused multiply-add), so kernel
 * sums and outputs agree bit for bit; tests assert this. The choice applies to stores when they
 * next run a query; rows move into a WebAssembly memory when a store grows to 256 slots or more
 * while the backend is wasm, and a store whose rows live there keeps them there (its views work
 * with both backends).
 */
export function setKernelBackend(backend: KernelBackend | 'auto'): KernelBackend {
  if (backend !== 'auto' && backend !== 'js' && backend !== 'wasm') {
    throw new UnsupportedError(`unknown kernel backend ${String(backend)}: use 'wasm', 'js' or 'auto'`);
  }
  if (backend === 'wasm' && !wasmAttentionAvailable()) {
    throw new UnsupportedError('this engine has no WebAssembly SIMD: use the js kernel backend');
  }
  requested = backend;
  return getKernelBackend();
}

/**
 * The attention backend in effect.
 *
 * @returns `'wasm'` or `'js'`.
 * @example
 * ```ts
 * import { getKernelBackend } from '@kv/core';
 * getKernelBackend(); // 'wasm' on Node 20 and current browsers
 * ```
 */
export function getKernelBackend(): KernelBackend {
  if (requested === 'auto') return wasmAttentionAvailable() ? 'wasm' : 'js';
  return requested;
}
