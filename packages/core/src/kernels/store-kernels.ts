import type { JsSumsScratch } from '../precision/js-sums.js';
import type { RowPools } from '../precision/pools.js';
import type { RowLayout } from '../precision/row-layout.js';
import { type KernelSums, mergeSums } from '../sums.js';
import { type F32Exports, type F64Exports, f32Module, f32SharedModule, f64Module, f64Shared, wasmAttentionAvailable } from './attention-modules.js';
import { getKernelBackend } from './backend.js';
import { ATTENTION_BLOCK, type CodeSides, codeSides, D, fourBitValues, type ScratchArea, writeCodeDescriptor } from './code-descriptor.js';
import type { WasmMemory } from './wasm-module.js';

export { ATTENTION_BLOCK } from './code-descriptor.js';

/** Stores of fewer rows answer with the JavaScript loops (a WebAssembly memory is not worth it). */
export const WASM_MIN_ROWS = 256;

// The f64 kernels read one word up to 4096 bytes past the rows they work on (attention.wat).
const TOUCH_AHEAD = 4096;

/**
 * Receives the kernel calls of one query (see {@link StoreKernels.forEachCall}): `fn` 0 is
 * `attend` (12 arguments), 1 is `attendCodes` (the first 5).
 * @internal
 */
export interface KernelCallSink {
  call(fn: 0 | 1, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number, a6: number, a7: number, a8: number, a9: number, a10: number, a11: number): void;
}

const align64 = (n: number) => Math.ceil(n / 64) * 64;

/**
 * The WebAssembly side of one store: moves its memory into kernel instances once it holds
 * {@link WASM_MIN_ROWS} rows, and runs the SIMD kernels on the records in place.
 *
 * Scratch at the start of the memory (each 64-aligned): the query as f32 and as f64, per-group
 * query sums, one block of weights (f32 and f64), accumulators, decoded scales of four rows, the
 * Float64 totals, the code-kernel descriptor; the pools follow.
 * @internal
 */
export class StoreKernels {
  private readonly layout: RowLayout;
  private readonly pools: RowPools;
  private refused = false;
  private f32: F32Exports | null = null;
  private f64: F64Exports | null = null;
  /** Bytes of scratch before the pools once the rows are in a WebAssembly memory. */
  readonly scratchBytes: number;
  private readonly off: Record<ScratchArea, number>;
  /** Float32 records the fused kernel reads (d, s multiples of 4). */
  private readonly f32Records: boolean;
  /** Quantized records the code kernel reads (null: the JavaScript loops answer). */
  private readonly codeSides: CodeSides | null;
  /**
   * Per block of the last per-slot probabilities: its maximum score (then its factor
   * e^(max − overall max)), and Σ of its weights.
   */
  private blockTotals = new Float64Array(0);

  constructor(layout: RowLayout, pools: RowPools) {
    this.layout = layout;
    this.pools = pools;
    const { d, s } = layout;
    const kg = Math.max(1, layout.keys.groups);
    const vg = Math.max(1, layout.values.groups);
    this.codeSides = codeSides(layout);
    const i4 = fourBitValues(layout, this.codeSides);
    const sizes: [keyof StoreKernels['off'], number][] = [
      ['qf', 4 * d], ['qsum', 4 * kg], ['w', 4 * (ATTENTION_BLOCK + 4)], ['acc', 4 * s], ['zacc', 4 * vg],
      // Transposed scale tables: (lo, step) of each group for four rows, 16 bytes per entry,
      // written four entries at a time; 4-bit values keep one per quad of a block (for the
      // block's fixed point), with their integer sums and the block's row addresses.
      ['vsc', 16 * (2 * vg + 4) * (i4 ? ATTENTION_BLOCK / 4 : 1)], ['ksc', 16 * (2 * kg + 4)], ['tot', 8 * (2 + s)], ['desc', 128], ['q64', 8 * d],
      ['w64', 8 * ATTENTION_BLOCK], ['acc64', 8 * s], ['qs', 4 * d], ['qh', 2 * d + 16], ['ql', 2 * d + 16],
      ['vh', i4 ? 4 * s : 0], ['vl', i4 ? 4 * s : 0], ['atab', i4 ? 4 * (ATTENTION_BLOCK + 4) : 0],
    ];
    const off = {} as Record<keyof StoreKernels['off'], number>;
    let at = 0;
    for (const [name, bytes] of sizes) {
      off[name] = at;
      at = align64(at + bytes);
    }
    this.off = off;
    this.scratchBytes = at;
    this.f32Records = d % 4 === 0 && s % 4 === 0;
  }

  /** Whether the rows are in a kernel instance's memory. */
  get active(): boolean {
    return this.pools.mem.instance !== null;
  }

  /**
   * Moves the rows into a WebAssembly memory when the store reaches {@link WASM_MIN_ROWS} rows
   * under a wasm backend (once; the memory then grows in place).
   * @param rows - Rows the store is about to hold.
   */
  maybeMove(rows: number): void {
    const pools = this.pools;
    if (this.refused || pools.mem.instance !== null || rows < WASM_MIN_ROWS) return;
    if (getKernelBackend() === 'js') return;
    const L = this.layout;
    const main = L.channel ? pools.groupIds * L.groupBytes : (pools.mapped ? pools.nQ : pools.count) * L.rec;
    const live = pools.qBase + main;
    // Keep everything allocated so far (the owner sized it; the rows beyond `live` are reserved).
    const need = this.scratchBytes + Math.max(live, pools.mem.byteLength);
    if (!pools.mem.moveToWasm(f64Module, live, this.scratchBytes, need, TOUCH_AHEAD)) {
      this.refused = true;
      return;
    }
    pools.setBase(this.scratchBytes);
    this.f64 = pools.mem.instance!.exports as F64Exports;
    const memory: WasmMemory = pools.mem.instance!.memory;
    this.f32 = (f32Module().instantiate(memory)?.exports as F32Exports | undefined) ?? null;
    this.writeDescriptor();
  }

  private writeDescriptor(): void {
    writeCodeDescriptor(this.layout, this.pools.mem, this.off, this.codeSides);
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
    if (pools.mem.instance === null || pools.count < WASM_MIN_ROWS) return false;
    const backend = getKernelBackend();
    if (backend === 'js') return false;
    const L = this.layout;
    pools.mem.refresh();
    if (backend === 'wasm-f64' || this.f32 === null) return L.plain && !pools.mapped ? this.f64Sums(x, tau, out) : false;
    if (L.plain ? !this.f32Records : this.codeSides === null) return false;
    if (pools.mapped && !this.f32Records) return false;
    const m = pools.mem;
    const o = this.off;
    const f32 = m.f32;
    for (let j = 0; j < L.d; j++) f32[(o.qf >> 2) + j] = x.q[j]!;
    for (let g = 0; g < L.keys.groups; g++) f32[(o.qsum >> 2) + g] = x.qsum[g]!;
    this.clearTotals();
    if (L.channel) this.channelGroups(tau);
    this.forEachCall(tau, this.local);
    this.readTotals(out);
    return true;
  }

  // The kernels' f64 totals (m, z, n[s]) at `tot`: emptied before a query, read into `out` after.
  private clearTotals(): void {
    const t = this.off.tot >> 3;
    const f64 = this.pools.mem.f64;
    f64[t] = -Infinity;
    f64.fill(0, t + 1, t + 2 + this.layout.s);
  }

  private readTotals(out: KernelSums): void {
    const t = this.off.tot >> 3;
    const f64 = this.pools.mem.f64;
    out.m = f64[t]!;
    out.z = f64[t + 1]!;
    for (let j = 0; j < this.layout.s; j++) out.n[j] = f64[t + 2 + j]!;
  }

  /**
   * The kernel calls that answer one query whose prepared query (f32) and group sums sit in the
   * scratch and whose totals start empty: the main pool (unless channel-wise: those need the
   * query folded per group) and the residual ring. Nothing is allocated.
   * @param tau - Logit scale.
   * @param sink - Receives the calls.
   */
  forEachCall(tau: number, sink: KernelCallSink): void {
    const pools = this.pools;
    const L = this.layout;
    const o = this.off;
    const lw = L.weighted ? L.lw : -1;
    if (!L.channel) {
      const rows = pools.mapped ? pools.nQ : pools.count;
      if (L.plain) sink.call(0, pools.qBase, L.rec, L.d, L.s, rows, lw, tau, o.qf, o.w, o.acc, o.tot, ATTENTION_BLOCK);
      else sink.call(1, pools.qBase, rows, tau, o.desc, o.tot, 0, 0, 0, 0, 0, 0, 0);
    }
    if (pools.mapped && pools.nF > 0) {
      const fl = L.weighted ? 4 * (L.d + L.s) : -1;
      const first = Math.min(pools.nF, pools.fCap - pools.fHead);
      sink.call(0, pools.fAddr(pools.fHead), L.fRec, L.d, L.s, first, fl, tau, o.qf, o.w, o.acc, o.tot, ATTENTION_BLOCK);
      if (first < pools.nF) sink.call(0, pools.fAddr(0), L.fRec, L.d, L.s, pools.nF - first, fl, tau, o.qf, o.w, o.acc, o.tot, ATTENTION_BLOCK);
    }
  }

  private readonly local: KernelCallSink = {
    call: (fn, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) => {
      if (fn === 0) this.f32!.attend(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11);
      else this.f32!.attendCodes(a0, a1, a2, a3, a4);
    },
  };

  /**
   * Moves the rows into a shared WebAssembly memory (once), so worker threads can run the kernels
   * on them; the memory may grow in place up to the store's cap.
   * @returns False when shared memories are unavailable here (the store stays as it was).
   */
  share(): boolean {
    const pools = this.pools;
    const mem = pools.mem;
    if (mem.shared) return true;
    if (!wasmAttentionAvailable()) return false;
    const L = this.layout;
    const cap = pools.capBytes();
    const maxBytes = Number.isFinite(cap) ? this.scratchBytes + cap : 2 ** 31 - 2 * 65536;
    const wasActive = mem.instance !== null;
    const main = L.channel ? pools.groupIds * L.groupBytes : (pools.mapped ? pools.nQ : pools.count) * L.rec;
    const live = wasActive ? mem.byteLength : pools.qBase + main;
    const to = wasActive ? 0 : this.scratchBytes;
    const need = wasActive ? mem.byteLength : this.scratchBytes + Math.max(live, mem.byteLength);
    if (!mem.moveToShared(f64Shared, live, to, need, TOUCH_AHEAD, maxBytes)) return false;
    if (!wasActive) pools.setBase(this.scratchBytes);
    this.f64 = mem.instance!.exports as F64Exports;
    this.f32 = (f32SharedModule().instantiate(mem.instance!.memory)?.exports as F32Exports | undefined) ?? null;
    this.writeDescriptor();
    return true;
  }

  /** The store's shared memory, when it has one. */
  get sharedMemory(): WasmMemory | null {
    return this.pools.mem.shared ? this.pools.mem.instance!.memory : null;
  }

  /**
   * Whether a worker thread can answer the next query from the kernel calls alone: shared memory,
   * the Float32 backend, at least {@link WASM_MIN_ROWS} rows, a layout the kernels read, keys not
   * grouped per channel.
   * @returns True when {@link StoreKernels.forEachCall} covers the query.
   */
  threadable(): boolean {
    const pools = this.pools;
    const L = this.layout;
    if (!pools.mem.shared || this.f32 === null || pools.count < WASM_MIN_ROWS || getKernelBackend() !== 'wasm' || L.channel) return false;
    return L.plain ? this.f32Records : this.codeSides !== null && (!pools.mapped || this.f32Records);
  }

  /** Byte offsets the worker fills before the calls: the f32 query, its group sums, the totals. */
  get threadOffsets(): { readonly q: number; readonly qsum: number; readonly tot: number; readonly groups: number } {
    return { q: this.off.qf, qsum: this.off.qsum, tot: this.off.tot, groups: this.layout.keys.groups };
  }

  // Channel-wise key groups: per group, the query folded into its steps (and <q, lo> as the bias),
  // in the kernel (in JavaScript it cost three times the group's attention), then the code kernel
  // over each run of live rows (tombstones split runs). With 4-bit values the runs gather into
  // blocks whose values are summed at once (run by run took a tenth longer at G = 32).
  private channelGroups(tau: number): void {
    const pools = this.pools;
    const L = this.layout;
    const m = pools.mem;
    const o = this.off;
    const k = this.f32!;
    const G = L.group;
    const order = pools.groupOrder.data;
    const phys = pools.physQ.data;
    const live = pools.groupLive.data;
    const f32 = m.f32;
    const blocks = fourBitValues(L, this.codeSides);
    let fill = 0;
    let mb = -Infinity;
    m.i32[(o.desc + D.q) >> 2] = o.qs;
    for (let i = 0; i < pools.usedGroups; i++) {
      const g = order[i]!;
      const at = pools.groupScaleAddr(g * G);
      if (blocks) k.channelFold(at, o.qf, o.desc);
      else f32[(o.desc + D.bias) >> 2] = k.foldChannel(at, L.keys.halfScales ? 1 : 0, o.qf, o.qs, L.d, o.desc + D.qmax);
      for (let r = 0; r < G; ) {
        let start = r;
        // A group without tombstones is one run (no scan of its rows).
        if (live[g] === G) r = G;
        else {
          while (start < G && phys[g * G + start]! < 0) start++;
          for (r = start; r < G && phys[g * G + r]! >= 0; ) r++;
        }
        if (!blocks) {
          if (r > start) k.attendCodes(pools.qAddr(g * G + start), r - start, tau, o.desc, o.tot);
          continue;
        }
        while (start < r) {
          if (fill === ATTENTION_BLOCK) {
            k.channelValues(fill, mb, o.desc, o.atab, o.tot);
            fill = 0;
            mb = -Infinity;
          }
          const len = Math.min(r - start, ATTENTION_BLOCK - fill);
          mb = Math.max(mb, k.channelScores(pools.qAddr(g * G + start), len, tau, o.desc, o.w + 4 * fill, o.atab + 4 * fill));
          fill += len;
          start += len;
        }
      }
    }
    if (fill > 0) k.channelValues(fill, mb, o.desc, o.atab, o.tot);
    m.i32[(o.desc + D.q) >> 2] = o.qf;
    f32[(o.desc + D.bias) >> 2] = 0;
  }

  // The Float64 kernels (bit-identical to the JavaScript loops) over float32 records.
  private f64Sums(x: JsSumsScratch, tau: number, out: KernelSums): boolean {
    const pools = this.pools;
    const k = this.f64!;
    const L = this.layout;
    const m = pools.mem;
    const o = this.off;
    const q = m.f64;
    for (let j = 0; j < L.d; j++) q[(o.q64 >> 3) + j] = x.q[j]!;
    const w0 = o.w64 >> 3;
    const acc = m.f64.subarray(o.acc64 >> 3, (o.acc64 >> 3) + L.s);
    const partial = x.partial;
    out.m = -Infinity;
    out.z = 0;
    out.n.fill(0);
    const lwOff = L.lw >> 2;
    const rec = L.rec;
    for (let start = 0; start < pools.count; start += ATTENTION_BLOCK) {
      const len = Math.min(ATTENTION_BLOCK, pools.count - start);
      const first = pools.qAddr(start);
      k.dots(first, o.q64, L.d, rec, len, o.w64);
      let mx = -Infinity;
      for (let i = 0; i < len; i++) {
        let l = tau * q[w0 + i]!;
        if (L.weighted) l += m.f32[((first + i * rec) >> 2) + lwOff]!;
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
      k.accum(first + 4 * L.d, o.w64, L.s, rec, len, o.acc64);
      partial.n.set(acc);
      partial.m = mx;
      partial.z = z;
      mergeSums(out, partial);
    }
    return true;
  }

  /**
   * Kernel sums and per-slot probabilities on the SIMD kernels, when they apply: Float32 scores
   * and values (float32 and token-wise quantized records, and the residual) under `'wasm'`, the
   * bit-identical Float64 kernels for float32 stores under `'wasm-f64'`.
   * @param x - The prepared query.
   * @param tau - Logit scale.
   * @param out - Receives the sums.
   * @param probs - Receives each slot's probability.
   * @returns False when the JavaScript loops must answer.
   */
  sumsWithProbs(x: JsSumsScratch, tau: number, out: KernelSums, probs: Float64Array): boolean {
    const pools = this.pools;
    const L = this.layout;
    if (pools.mem.instance === null || pools.count < WASM_MIN_ROWS) return false;
    const backend = getKernelBackend();
    if (backend === 'js') return false;
    pools.mem.refresh();
    if (backend === 'wasm-f64' || this.f32 === null) return L.plain && !pools.mapped ? this.f64SumsWithProbs(x, tau, out, probs) : false;
    if (L.channel || !this.f32Records || (!L.plain && this.codeSides === null)) return false;
    const k = this.f32;
    const m = pools.mem;
    const o = this.off;
    const f32 = m.f32;
    for (let j = 0; j < L.d; j++) f32[(o.qf >> 2) + j] = x.q[j]!;
    for (let g = 0; g < L.keys.groups; g++) f32[(o.qsum >> 2) + g] = x.qsum[g]!;
    if (L.plain && !pools.mapped && pools.nF === 0) return this.plainSumsWithProbs(tau, out, probs);
    if (!L.plain) k.codePrepare(o.desc);
    const w = o.w >> 2;
    const lw = L.weighted ? L.lw : -1;
    const flw = L.weighted ? 4 * (L.d + L.s) : -1;
    const mainRows = pools.mapped ? pools.nQ : pools.count;
    const physQ = pools.physQ.data;
    const physF = pools.physF;
    // Pass 1: every row's score into probs (by slot), and their maximum.
    let mx = -Infinity;
    for (let start = 0; start < mainRows; start += ATTENTION_BLOCK) {
      const len = Math.min(ATTENTION_BLOCK, mainRows - start);
      const a = pools.qAddr(start);
      if (L.plain) k.recScores(a, L.rec, L.d, len, lw, tau, o.qf, o.w);
      else k.codeScores(a, len, tau, o.desc, o.w);
      for (let i = 0; i < len; i++) {
        const l = f32[w + i]!;
        probs[pools.mapped ? physQ[start + i]! : start + i] = l;
        if (l > mx) mx = l;
      }
    }
    for (let r = 0; r < pools.nF; r++) {
      const kf = (pools.fHead + r) % pools.fCap;
      const l = k.recScores(pools.fAddr(kf), L.fRec, L.d, 1, flw, tau, o.qf, o.w);
      probs[physF[kf]!] = l;
      if (l > mx) mx = l;
    }
    // Pass 2: weights relative to the maximum, and the weighted values block by block.
    const acc = o.acc >> 2;
    const n = out.n;
    n.fill(0);
    let z = 0;
    for (let start = 0; start < mainRows; start += ATTENTION_BLOCK) {
      const len = Math.min(ATTENTION_BLOCK, mainRows - start);
      for (let i = 0; i < len; i++) f32[w + i] = probs[pools.mapped ? physQ[start + i]! : start + i]!;
      k.expScores(o.w, len, mx);
      for (let i = 0; i < len; i++) {
        const e = f32[w + i]!;
        probs[pools.mapped ? physQ[start + i]! : start + i] = e;
        z += e;
      }
      const a = pools.qAddr(start);
      if (L.plain) k.recValues(a + 4 * L.d, L.rec, L.s, len, o.w, o.acc);
      else k.codeValues(a, len, o.desc, o.w, o.acc);
      for (let j = 0; j < L.s; j++) n[j] += f32[acc + j]!;
    }
    for (let r = 0; r < pools.nF; r++) {
      const kf = (pools.fHead + r) % pools.fCap;
      const slot = physF[kf]!;
      const e = Math.exp(probs[slot]! - mx);
      probs[slot] = e;
      z += e;
      const v = (pools.fAddr(kf) >> 2) + L.d;
      for (let j = 0; j < L.s; j++) n[j] += e * f32[v + j]!;
    }
    const inv = 1 / z;
    for (let i = 0; i < pools.count; i++) probs[i] *= inv;
    out.m = mx;
    out.z = z;
    return true;
  }

  // Float32 records: the one-pass kernel answers and writes each row's score, block by block, and
  // turns them into weights against the block's maximum; each slot's probability then comes from
  // its weight and its block's maximum (the sums in Float64, so probabilities sum to 1). Two
  // passes over the records, every score then every value, read them at a fraction of the speed
  // (8.0 ms against 1.7 at 32K rows).
  private plainSumsWithProbs(tau: number, out: KernelSums, probs: Float64Array): boolean {
    const pools = this.pools;
    const L = this.layout;
    const m = pools.mem;
    const o = this.off;
    const k = this.f32!;
    const f32 = m.f32;
    const w = o.w >> 2;
    const lw = L.weighted ? L.lw : -1;
    const blocks = Math.ceil(pools.count / ATTENTION_BLOCK);
    if (this.blockTotals.length < 2 * blocks) this.blockTotals = new Float64Array(4 * blocks);
    const bm = this.blockTotals;
    this.clearTotals();
    let mx = -Infinity;
    for (let b = 0; b < blocks; b++) {
      const start = b * ATTENTION_BLOCK;
      const len = Math.min(ATTENTION_BLOCK, pools.count - start);
      k.attendScores(pools.qAddr(start), L.rec, L.d, L.s, len, lw, tau, o.qf, o.w, o.acc, o.tot, ATTENTION_BLOCK, o.w);
      const mb = k.blockWeights(o.w, len);
      if (mb > mx) mx = mb;
      let zb = 0;
      for (let i = 0; i < len; i++) {
        const e = f32[w + i]!;
        probs[start + i] = e;
        zb += e;
      }
      bm[2 * b] = mb;
      bm[2 * b + 1] = zb;
    }
    let z = 0;
    for (let b = 0; b < blocks; b++) {
      bm[2 * b] = Math.exp(bm[2 * b]! - mx);
      z += bm[2 * b]! * bm[2 * b + 1]!;
    }
    for (let b = 0; b < blocks; b++) {
      const f = bm[2 * b]! / z;
      const end = Math.min(pools.count, (b + 1) * ATTENTION_BLOCK);
      for (let i = b * ATTENTION_BLOCK; i < end; i++) probs[i] *= f;
    }
    this.readTotals(out);
    return true;
  }

  // The Float64 twin of the JavaScript loop (bit-identical): one pass of dot products, one of
  // weighted values, in slot order.
  private f64SumsWithProbs(x: JsSumsScratch, tau: number, out: KernelSums, probs: Float64Array): boolean {
    const pools = this.pools;
    const L = this.layout;
    const k = this.f64!;
    const m = pools.mem;
    const o = this.off;
    const q = m.f64;
    for (let j = 0; j < L.d; j++) q[(o.q64 >> 3) + j] = x.q[j]!;
    const w0 = o.w64 >> 3;
    const n = pools.count;
    const rec = L.rec;
    const lwOff = L.lw >> 2;
    let mx = -Infinity;
    for (let start = 0; start < n; start += ATTENTION_BLOCK) {
      const len = Math.min(ATTENTION_BLOCK, n - start);
      const first = pools.qAddr(start);
      k.dots(first, o.q64, L.d, rec, len, o.w64);
      for (let i = 0; i < len; i++) {
        let l = tau * q[w0 + i]!;
        if (L.weighted) l += m.f32[((first + i * rec) >> 2) + lwOff]!;
        probs[start + i] = l;
        if (l > mx) mx = l;
      }
    }
    const acc = m.f64.subarray(o.acc64 >> 3, (o.acc64 >> 3) + L.s);
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
      k.accum(pools.qAddr(start) + 4 * L.d, o.w64, L.s, rec, len, o.acc64);
    }
    out.n.set(acc);
    const inv = 1 / z;
    for (let i = 0; i < n; i++) probs[i] *= inv;
    out.m = mx;
    out.z = z;
    return true;
  }

  /**
   * The vectorised exponential of the Float32 kernels on four values (for tests of its accuracy).
   * @param x - Four arguments.
   * @returns e^x per lane, or null when the rows are not in a kernel memory.
   */
  exp4(x: Float32Array): Float32Array | null {
    if (this.f32 === null) return null;
    const m = this.pools.mem;
    m.refresh();
    m.f32.set(x.subarray(0, 4), this.off.w >> 2);
    this.f32.exp4(this.off.w, this.off.w + 16);
    return m.f32.slice((this.off.w >> 2) + 4, (this.off.w >> 2) + 8);
  }
}
