import { gemv, WasmSimdModule, type WasmSimdInstance } from '@kv/core';
import { MATVEC_WASM } from './matvec-wasm-bytes.js';

const kernels = new WasmSimdModule(MATVEC_WASM);
const ROWS = 8; // rows per block of the packed layout (matvec.wat)
const LANES = 4; // columns per chunk
// Packed weights beyond this stay on the JavaScript path: a 32-bit WebAssembly memory tops out
// at 4 GiB, and engines may refuse less.
const MAX_WASM_BYTES = 2 ** 31;

/**
 * A matrix made of row blocks stacked on top of each other (fused projections such as q|k|v),
 * each row-major (out, in) with `cols` columns.
 * @internal
 */
export interface MatrixParts {
  readonly cols: number;
  readonly parts: readonly Float32Array[];
}

/**
 * One matrix of a {@link MatvecKernels}: write the input into `input`, call `run`, read `output`.
 * Both views stay valid for the kernels' lifetime; `output` is overwritten by the next `run`.
 * @internal
 */
export interface Matvec {
  readonly rows: number;
  readonly cols: number;
  /** The input vector (`cols` floats), owned by this matrix. */
  readonly input: Float32Array;
  /** The output vector (`rows` floats), owned by this matrix. */
  readonly output: Float32Array;
  /** output = W·input. */
  run(): Float32Array;
}

/**
 * The matrix-vector products of a model: WebAssembly SIMD over weights packed once for the
 * kernel when the engine has it, core's `gemv` over the original arrays otherwise.
 * @internal
 */
export interface MatvecKernels {
  readonly backend: 'wasm' | 'js';
  /** One product per matrix, in the order given. */
  readonly matrices: readonly Matvec[];
  /** Bytes of packed weights held for the WebAssembly path (0 for the JavaScript one). */
  readonly packedBytes: number;
}

function rowsOf(m: MatrixParts): number {
  let rows = 0;
  for (const p of m.parts) rows += p.length / m.cols;
  return rows;
}

/**
 * Builds the products of `matrices`: the WebAssembly path when `wasm` is asked and available
 * and the packed weights fit, else the JavaScript one.
 * @internal
 */
export function createMatvecKernels(matrices: readonly MatrixParts[], wasm: boolean): MatvecKernels {
  return (wasm ? wasmKernels(matrices) : null) ?? jsKernels(matrices);
}

function jsKernels(matrices: readonly MatrixParts[]): MatvecKernels {
  return {
    backend: 'js',
    packedBytes: 0,
    matrices: matrices.map((m) => {
      const rows = rowsOf(m);
      const input = new Float32Array(m.cols);
      const output = new Float32Array(rows);
      return {
        rows,
        cols: m.cols,
        input,
        output,
        run(): Float32Array {
          let r = 0;
          for (const p of m.parts) {
            const n = p.length / m.cols;
            gemv('N', n, m.cols, 1, p, m.cols, 1, 0, input, 1, 0, 0, output, 1, r);
            r += n;
          }
          return output;
        },
      };
    }),
  };
}

interface Layout {
  readonly rows: number;
  readonly blocks: number;
  readonly chunks: number;
  readonly weights: number; // byte offsets in the memory
  readonly input: number;
  readonly output: number;
}

function wasmKernels(matrices: readonly MatrixParts[]): MatvecKernels | null {
  if (!kernels.available) return null;
  // Weights first (each block 128-byte aligned as the kernel walks it), then every matrix's input
  // and output vectors, padded to whole chunks and blocks so the padding stays zero.
  let at = 0;
  const layouts: Layout[] = [];
  for (const m of matrices) {
    const rows = rowsOf(m);
    const blocks = Math.ceil(rows / ROWS);
    const chunks = Math.ceil(m.cols / LANES);
    layouts.push({ rows, blocks, chunks, weights: at, input: 0, output: 0 });
    at += blocks * chunks * ROWS * LANES * 4;
  }
  const packedBytes = at;
  for (let i = 0; i < layouts.length; i++) {
    const l = layouts[i]!;
    const input = at;
    at += l.chunks * LANES * 4;
    layouts[i] = { ...l, input, output: at };
    at += l.blocks * ROWS * 4;
  }
  if (at > MAX_WASM_BYTES) return null;
  const instance: WasmSimdInstance | null = kernels.instantiate();
  if (instance === null) return null;
  const pages = Math.ceil(at / 65536);
  try {
    const have = instance.memory.buffer.byteLength / 65536;
    if (pages > have) instance.memory.grow(pages - have);
  } catch {
    return null;
  }
  // The memory never grows again, so these views stay attached.
  const heap = new Float32Array(instance.memory.buffer);
  const matvec = (instance.exports as { matvec: (w: number, x: number, y: number, blocks: number, chunks: number) => void }).matvec;
  return {
    backend: 'wasm',
    packedBytes,
    matrices: matrices.map((m, i) => {
      const l = layouts[i]!;
      pack(heap, l.weights / 4, m, l.chunks);
      const input = heap.subarray(l.input / 4, l.input / 4 + m.cols);
      const output = heap.subarray(l.output / 4, l.output / 4 + l.rows);
      const { weights, blocks, chunks } = l;
      return {
        rows: l.rows,
        cols: m.cols,
        input,
        output,
        run(): Float32Array {
          matvec(weights, l.input, l.output, blocks, chunks);
          return output;
        },
      };
    }),
  };
}

// Writes the rows of `m` in the kernel's layout at heap[at..]: for each block of 8 rows, for each
// chunk of 4 columns, the block's 8 rows of that chunk. Missing rows and columns stay zero (the
// memory starts zeroed and is never reused).
function pack(heap: Float32Array, at: number, m: MatrixParts, chunks: number): void {
  const cols = m.cols;
  const blockFloats = chunks * ROWS * LANES;
  let row = 0;
  for (const p of m.parts) {
    const n = p.length / cols;
    for (let r = 0; r < n; r++, row++) {
      const base = at + Math.floor(row / ROWS) * blockFloats + (row % ROWS) * LANES;
      for (let c = 0; c < cols; c++) heap[base + (c >> 2) * ROWS * LANES + (c & 3)] = p[r * cols + c]!;
    }
  }
}
