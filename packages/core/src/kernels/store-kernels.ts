import type { JsSumsScratch } from '../precision/js-sums.js';
import type { RowPools } from '../precision/pools.js';
import type { RowLayout } from '../precision/row-layout.js';
import { type KernelSums, mergeSums } from '../sums.js';
import { getKernelBackend } from './backend.js';
import { ATTENTION_WASM } from './wasm-attention-bytes.js';
import { WasmSimdModule } from './wasm-module.js';

/** Rows per block of the blocked online log-sum-exp; the scratch for logits holds one block. */
export const ATTENTION_BLOCK = 256;

/** Stores of fewer rows answer with the JavaScript loops (a WebAssembly memory is not worth it). */
export const WASM_MIN_ROWS = 256;

// The f64 kernels read one word up to 4096 bytes past the rows they work on (attention.wat).
const TOUCH_AHEAD = 4096;

interface F64Exports {
  dots(keys: number, q: number, d: number, stride: number, rows: number, out: number): number;
  accum(values: number, w: number, s: number, stride: number, rows: number, acc: number): number;
}

const attention = new WasmSimdModule(ATTENTION_WASM);

/**
 * Whether this engine runs the WebAssembly SIMD attention kernels.
 * @returns True when WebAssembly with fixed-width SIMD is available.
 * @internal
 */
export function wasmAttentionAvailable(): boolean {
  return attention.available;
}

const align64 = (n: number) => Math.ceil(n / 64) * 64;

/**
 * The WebAssembly side of one store: moves its memory into a kernel instance once it holds
 * {@link WASM_MIN_ROWS} rows, and runs the SIMD kernels on the records in place.
 *
 * Scratch layout at the start of the memory (64-aligned): query as d doubles | one block of
 * logits/weights as doubles | s double accumulators; the pools follow.
 * @internal
 */
export class StoreKernels {
  private readonly layout: RowLayout;
  private readonly pools: RowPools;
  private refused = false;
  private readonly weightsOffset: number;
  private readonly accOffset: number;
  private readonly scratchBytes: number;

  constructor(layout: RowLayout, pools: RowPools) {
    this.layout = layout;
    this.pools = pools;
    this.weightsOffset = align64(8 * layout.d);
    this.accOffset = this.weightsOffset + align64(8 * ATTENTION_BLOCK);
    this.scratchBytes = this.accOffset + align64(8 * layout.s);
  }

  /** Whether the rows are in a kernel instance's memory. */
  get active(): boolean {
    return this.pools.mem.instance !== null;
  }

  /**
   * Moves the rows into a WebAssembly memory when the store reaches {@link WASM_MIN_ROWS} rows
   * under the wasm backend (once; the memory then grows in place).
   * @param rows - Rows the store is about to hold.
   */
  maybeMove(rows: number): void {
    const pools = this.pools;
    if (this.refused || pools.mem.instance !== null || rows < WASM_MIN_ROWS || !this.layout.plain || pools.mapped) return;
    if (getKernelBackend() !== 'wasm') return;
    const live = pools.qBase + pools.count * this.layout.rec;
    const need = this.scratchBytes + Math.max(live, pools.qBase + rows * this.layout.rec);
    if (!pools.mem.moveToWasm(attention, live, this.scratchBytes, need, TOUCH_AHEAD)) {
      this.refused = true;
      return;
    }
    pools.setBase(this.scratchBytes);
  }

  /**
   * Kernel sums on the SIMD kernels, when they apply.
   * @param x - The prepared query.
   * @param tau - Logit scale.
   * @param out - Receives the sums.
   * @returns False when the JavaScript loops must answer.
   */
  sums(x: JsSumsScratch, tau: number, out: KernelSums): boolean {
    const pools = this.pools;
    const inst = pools.mem.instance;
    if (inst === null || getKernelBackend() !== 'wasm') return false;
    pools.mem.refresh();
    const k = inst.exports as F64Exports;
    const L = this.layout;
    const m = pools.mem;
    const q = m.f64;
    for (let j = 0; j < L.d; j++) q[j] = x.q[j]!;
    const w0 = this.weightsOffset >> 3;
    const acc = m.f64.subarray(this.accOffset >> 3, (this.accOffset >> 3) + L.s);
    const partial = x.partial;
    out.m = -Infinity;
    out.z = 0;
    out.n.fill(0);
    const weighted = L.weighted;
    const lwOff = L.lw >> 2;
    const rec = L.rec;
    for (let start = 0; start < pools.count; start += ATTENTION_BLOCK) {
      const len = Math.min(ATTENTION_BLOCK, pools.count - start);
      const first = pools.qAddr(start);
      k.dots(first, 0, L.d, rec, len, this.weightsOffset);
      let mx = -Infinity;
      for (let i = 0; i < len; i++) {
        let l = tau * q[w0 + i]!;
        if (weighted) l += m.f32[((first + i * rec) >> 2) + lwOff]!;
        q[w0 + i] = l;
        if (l > mx) mx = l;
      }
      let z = 0;
      for (let i = 0; i < len; i++) {
        const w = Math.exp(q[w0 + i]! - mx);
        q[w0 + i] = w;
        z += w;
      }
      acc.fill(0);
      k.accum(first + 4 * L.d, this.weightsOffset, L.s, rec, len, this.accOffset);
      partial.n.set(acc);
      partial.m = mx;
      partial.z = z;
      mergeSums(out, partial);
    }
    return true;
  }

  /**
   * Kernel sums and per-slot probabilities on the SIMD kernels, when they apply (bit-identical to
   * the JavaScript loop: one pass of dot products, one of accumulation in slot order).
   * @param x - The prepared query.
   * @param tau - Logit scale.
   * @param out - Receives the sums.
   * @param probs - Receives each slot's probability.
   * @returns False when the JavaScript loops must answer.
   */
  sumsWithProbs(x: JsSumsScratch, tau: number, out: KernelSums, probs: Float64Array): boolean {
    const pools = this.pools;
    const inst = pools.mem.instance;
    if (inst === null || getKernelBackend() !== 'wasm') return false;
    pools.mem.refresh();
    const k = inst.exports as F64Exports;
    const L = this.layout;
    const m = pools.mem;
    const q = m.f64;
    for (let j = 0; j < L.d; j++) q[j] = x.q[j]!;
    const w0 = this.weightsOffset >> 3;
    const n = pools.count;
    const rec = L.rec;
    const lwOff = L.lw >> 2;
    let mx = -Infinity;
    for (let start = 0; start < n; start += ATTENTION_BLOCK) {
      const len = Math.min(ATTENTION_BLOCK, n - start);
      const first = pools.qAddr(start);
      k.dots(first, 0, L.d, rec, len, this.weightsOffset);
      for (let i = 0; i < len; i++) {
        let l = tau * q[w0 + i]!;
        if (L.weighted) l += m.f32[((first + i * rec) >> 2) + lwOff]!;
        probs[start + i] = l;
        if (l > mx) mx = l;
      }
    }
    const acc = m.f64.subarray(this.accOffset >> 3, (this.accOffset >> 3) + L.s);
    acc.fill(0);
    let z = 0;
    for (let start = 0; start < n; start += ATTENTION_BLOCK) {
      const len = Math.min(ATTENTION_BLOCK, n - start);
      for (let i = 0; i < len; i++) {
        const w = Math.exp(probs[start + i]! - mx);
        probs[start + i] = w;
        q[w0 + i] = w;
        z += w;
      }
      k.accum(pools.qAddr(start) + 4 * L.d, this.weightsOffset, L.s, rec, len, this.accOffset);
    }
    out.n.set(acc);
    const inv = 1 / z;
    for (let i = 0; i < n; i++) probs[i] *= inv;
    out.m = mx;
    out.z = z;
    return true;
  }
}
