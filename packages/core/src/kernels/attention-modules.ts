// The compiled attention kernel modules and what this engine can run of them.
import { ATTENTION_WASM, ATTENTION_WASM_SHARED } from './wasm-attention-bytes.js';
import { ATTENTION_F32_WASM, ATTENTION_F32_WASM_RELAXED, ATTENTION_F32_WASM_RELAXED_SHARED, ATTENTION_F32_WASM_SHARED } from './wasm-attention-f32-bytes.js';
import { WasmSimdModule } from './wasm-module.js';

/** The Float64 module's exports (attention.wat). @internal */
export interface F64Exports {
  dots(keys: number, q: number, d: number, stride: number, rows: number, out: number): number;
  accum(values: number, w: number, s: number, stride: number, rows: number, acc: number): number;
}

/** The Float32 module's exports (attention-f32.wat and the code kernels it includes). @internal */
export interface F32Exports {
  attend(rec: number, stride: number, d: number, s: number, rows: number, lw: number, tau: number, q: number, w: number, acc: number, tot: number, block: number): void;
  attendScores(rec: number, stride: number, d: number, s: number, rows: number, lw: number, tau: number, q: number, w: number, acc: number, tot: number, block: number, scores: number): void;
  attendCodes(rec: number, rows: number, tau: number, desc: number, tot: number): void;
  codePrepare(desc: number): void;
  codeScores(p: number, len: number, tau: number, desc: number, out: number): number;
  codeValues(p: number, len: number, desc: number, w: number, acc: number): void;
  recScores(rec: number, stride: number, d: number, rows: number, lw: number, tau: number, q: number, out: number): number;
  recValues(val: number, stride: number, s: number, rows: number, w: number, acc: number): void;
  foldChannel(at: number, half: number, q: number, qs: number, d: number, mx: number): number;
  channelFold(at: number, q: number, desc: number): void;
  channelScores(rec: number, len: number, tau: number, desc: number, out: number, atab: number): number;
  channelValues(len: number, mb: number, desc: number, atab: number, tot: number): void;
  expScores(w: number, len: number, m: number): void;
  blockWeights(w: number, len: number): number;
  exp4(input: number, out: number): void;
}

/** @internal */
export const f64Module = new WasmSimdModule(ATTENTION_WASM);
const f32Baseline = new WasmSimdModule(ATTENTION_F32_WASM);
const f32Relaxed = new WasmSimdModule(ATTENTION_F32_WASM_RELAXED);
/** @internal */
export const f64Shared = new WasmSimdModule(ATTENTION_WASM_SHARED);
const f32BaselineShared = new WasmSimdModule(ATTENTION_F32_WASM_SHARED);
const f32RelaxedShared = new WasmSimdModule(ATTENTION_F32_WASM_RELAXED_SHARED);

/**
 * Whether this engine runs the WebAssembly SIMD attention kernels.
 * @returns True when WebAssembly with fixed-width SIMD is available.
 * @internal
 */
export function wasmAttentionAvailable(): boolean {
  return f64Module.available && f32Baseline.available;
}

/**
 * The WebAssembly features the attention kernels found on this engine: fixed-width SIMD (the
 * kernels' baseline) and relaxed SIMD (fused multiply-adds in the Float32 kernels; Node 22 and
 * current browsers have it, Node 20 only behind `--experimental-wasm-relaxed-simd`).
 *
 * @returns The detected features.
 * @example
 * ```ts
 * import { kernelFeatures } from '@kv/core';
 * const { simd, relaxedSimd } = kernelFeatures();
 * console.log(simd ? (relaxedSimd ? 'SIMD with FMA' : 'SIMD') : 'JavaScript loops');
 * ```
 */
export function kernelFeatures(): {
  /** WebAssembly SIMD kernels are available. */
  readonly simd: boolean;
  /** Relaxed SIMD (fused multiply-add) is available too. */
  readonly relaxedSimd: boolean;
} {
  return { simd: wasmAttentionAvailable(), relaxedSimd: f32Relaxed.available };
}

/**
 * The Float32 kernel module for this engine (the relaxed-SIMD build where it validates).
 * @returns The module.
 * @internal
 */
export const f32Module = (): WasmSimdModule => (f32Relaxed.available ? f32Relaxed : f32Baseline);

/**
 * The Float32 kernel module for stores in shared memory (its compiled module is what worker
 * threads instantiate on each store's memory).
 * @returns The module.
 * @internal
 */
export const f32SharedModule = (): WasmSimdModule => (f32RelaxedShared.available ? f32RelaxedShared : f32BaselineShared);
