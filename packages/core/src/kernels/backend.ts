import { UnsupportedError } from '../errors.js';
import { wasmAttentionAvailable } from './attention-modules.js';

/**
 * Which implementation runs the attention hot path of {@link SlotStore} (and so of every policy
 * that answers through it):
 *
 * - `'wasm'` (the default where WebAssembly SIMD exists): Float32 SIMD kernels over the rows in
 *   place, fused per block of 256 rows (scores, maximum, exponentials, weighted values; block sums
 *   merged in Float64), with fused multiply-adds where the engine has relaxed SIMD; quantized rows
 *   are read as codes. Sums agree with the Float64 path to about 1e-6 relative (tested to 1e-5).
 * - `'wasm-f64'`: Float64 SIMD kernels, bit-identical to `'js'` for float32 rows (quantized rows
 *   use the JavaScript loops).
 * - `'js'`: plain Float64 typed-array loops, the reference.
 *
 * Stores below 256 rows always use the JavaScript loops (a WebAssembly memory is not worth it).
 *
 * @example
 * ```ts
 * import { getKernelBackend, type KernelBackend } from '@kv/core';
 * const backend: KernelBackend = getKernelBackend();
 * console.log(`attention runs on ${backend}`);
 * ```
 */
export type KernelBackend = 'js' | 'wasm' | 'wasm-f64';

let requested: KernelBackend | 'auto' = 'auto';

/**
 * Chooses the attention backend for the whole process.
 *
 * @param backend - `'wasm'`, `'wasm-f64'`, `'js'`, or `'auto'` (the default: `'wasm'` when the
 *   engine supports WebAssembly SIMD, else `'js'`).
 * @returns The backend now in effect.
 * @throws {@link UnsupportedError} for a wasm backend on an engine without WebAssembly SIMD, or an
 *   unknown name (the backend in effect does not change).
 * @example
 * ```ts
 * import { setKernelBackend } from '@kv/core';
 * setKernelBackend('wasm-f64'); // bit-identical to the JavaScript reference
 * setKernelBackend('auto');
 * ```
 * @remarks
 * `'wasm-f64'` performs the same IEEE-754 double operations as `'js'` in the same order for every
 * output element (WebAssembly and JavaScript both forbid implicit fused multiply-add), so float32
 * stores' sums agree bit for bit; tests assert this. The choice applies to stores when they next
 * run a query; rows move into a WebAssembly memory when a store reaches 256 rows under a wasm
 * backend, and stay there (the JavaScript loops read them in place too).
 */
export function setKernelBackend(backend: KernelBackend | 'auto'): KernelBackend {
  if (backend !== 'auto' && backend !== 'js' && backend !== 'wasm' && backend !== 'wasm-f64') {
    throw new UnsupportedError(`unknown kernel backend ${String(backend)}: use 'wasm', 'wasm-f64', 'js' or 'auto'`);
  }
  if (backend !== 'js' && backend !== 'auto' && !wasmAttentionAvailable()) {
    throw new UnsupportedError('this engine has no WebAssembly SIMD: use the js kernel backend');
  }
  requested = backend;
  return getKernelBackend();
}

/**
 * The attention backend in effect.
 *
 * @returns `'wasm'`, `'wasm-f64'` or `'js'`.
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
