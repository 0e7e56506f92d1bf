import { ATTENTION_WASM } from './wasm-attention-bytes.js';
import { type WasmMemory, WasmSimdModule } from './wasm-module.js';

interface AttentionExports {
  dots(keys: number, q: number, d: number, rows: number, out: number): number;
  accum(values: number, w: number, s: number, rows: number, acc: number): number;
}

/** Rows per block of the blocked online log-sum-exp; the scratch for logits holds one block. */
export const ATTENTION_BLOCK = 256;

const PAGE = 65536;
const LINE = 64;
// The kernels read one word up to 4096 bytes past the rows they work on (attention.wat).
const TOUCH_AHEAD = 4096;
// Leave room below the 4 GiB of wasm32 and the signed-offset range engines handle best.
const MAX_BYTES = 2 ** 31;

// Compiled on first use; the module is 1.7 KB.
const attention = new WasmSimdModule(ATTENTION_WASM);

/**
 * Whether this engine runs the WebAssembly SIMD attention kernels.
 * @returns True when WebAssembly with fixed-width SIMD (f64x2) is available.
 * @internal
 */
export function wasmAttentionAvailable(): boolean {
  return attention.available;
}

const align = (n: number) => Math.ceil(n / LINE) * LINE;

/**
 * Keys, values and query scratch of one {@link SlotStore} in a WebAssembly memory of its own, so
 * the SIMD kernels read the rows in place (no copy per query). The store's `keys`/`values` are
 * Float32Array views of this memory; growing it detaches old views, so views are rebuilt by
 * {@link AttentionArena.resize}, the only place the memory grows.
 *
 * Layout (byte offsets, each 64-aligned): query as d doubles | one block of logits/weights as
 * doubles | s double accumulators | keys capacity·d floats | values capacity·s floats | 4096
 * bytes of touch-ahead slack.
 *
 * @internal
 */
export class AttentionArena {
  /** Key dimension. */
  readonly d: number;
  /** Value dimension. */
  readonly s: number;
  /** Rows the key and value views hold. */
  capacity = 0;
  /** Row-major keys view, capacity·d. */
  keys: Float32Array;
  /** Row-major values view, capacity·s. */
  values: Float32Array;
  /** The query widened to doubles (read by `dots`). */
  query: Float64Array;
  /** One block of dot products, then of weights. */
  scratch: Float64Array;
  /** Value accumulators. */
  acc: Float64Array;
  private readonly memory: WasmMemory;
  private readonly kernels: AttentionExports;
  private readonly weightsOffset: number;
  private readonly accOffset: number;
  private readonly keysOffset: number;
  private valuesOffset = 0;

  private constructor(d: number, s: number, memory: WasmMemory, kernels: AttentionExports) {
    this.d = d;
    this.s = s;
    this.memory = memory;
    this.kernels = kernels;
    this.weightsOffset = align(8 * d);
    this.accOffset = this.weightsOffset + align(8 * ATTENTION_BLOCK);
    this.keysOffset = this.accOffset + align(8 * s);
    this.keys = new Float32Array(0);
    this.values = new Float32Array(0);
    this.query = new Float64Array(0);
    this.scratch = new Float64Array(0);
    this.acc = new Float64Array(0);
  }

  /**
   * A new, empty arena, or null when the wasm kernels are unavailable or the engine refuses
   * another memory (each reserves address space; the caller then keeps plain arrays).
   * @param d - Key dimension.
   * @param s - Value dimension.
   * @returns The arena or null.
   */
  static create(d: number, s: number): AttentionArena | null {
    const instance = attention.instantiate();
    return instance && new AttentionArena(d, s, instance.memory, instance.exports as AttentionExports);
  }

  /**
   * Makes room for `capacity` rows, keeping the first `live` rows of `keys` and `values` (this
   * arena's own views, or plain arrays being moved in).
   * @param capacity - Rows to hold (≥ live).
   * @param live - Rows to keep.
   * @param keys - Current keys, row-major.
   * @param values - Current values, row-major.
   * @returns False when the memory cannot grow (nothing changed; the caller falls back to plain
   *   arrays, copying from the still-valid views).
   */
  resize(capacity: number, live: number, keys: Float32Array, values: Float32Array): boolean {
    const d = this.d;
    const s = this.s;
    const valuesOffset = this.keysOffset + align(4 * capacity * d);
    const end = valuesOffset + 4 * capacity * s + TOUCH_AHEAD;
    if (end > MAX_BYTES) return false;
    const own = keys.buffer === this.memory.buffer && this.capacity > 0;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        return false;
      }
    }
    const buffer = this.memory.buffer;
    const floats = new Float32Array(buffer);
    if (own) {
      // Keys stay in place; values move up (copyWithin is a memmove, overlap is fine).
      const from = this.valuesOffset / 4;
      floats.copyWithin(valuesOffset / 4, from, from + live * s);
    } else {
      floats.set(keys.subarray(0, live * d), this.keysOffset / 4);
      floats.set(values.subarray(0, live * s), valuesOffset / 4);
    }
    this.valuesOffset = valuesOffset;
    this.capacity = capacity;
    this.keys = new Float32Array(buffer, this.keysOffset, capacity * d);
    this.values = new Float32Array(buffer, valuesOffset, capacity * s);
    this.query = new Float64Array(buffer, 0, d);
    this.scratch = new Float64Array(buffer, this.weightsOffset, ATTENTION_BLOCK);
    this.acc = new Float64Array(buffer, this.accOffset, s);
    return true;
  }

  /**
   * Widens a query into the arena.
   * @param query - Query of length d.
   */
  setQuery(query: Float32Array): void {
    const q = this.query;
    for (let j = 0; j < this.d; j++) q[j] = query[j]!;
  }

  /**
   * scratch[i] = <keys row start+i, query> for i < rows (rows ≤ {@link ATTENTION_BLOCK}), with
   * the operations of `dotUnit` in the same order (bit-identical results).
   * @param start - First row.
   * @param rows - Number of rows.
   */
  dots(start: number, rows: number): void {
    this.kernels.dots(this.keysOffset + 4 * start * this.d, 0, this.d, rows, this.weightsOffset);
  }

  /**
   * acc[j] += scratch[i]·values[start+i][j] for i < rows in increasing order (bit-identical to
   * the scalar loop).
   * @param start - First row.
   * @param rows - Number of rows.
   */
  accumulate(start: number, rows: number): void {
    this.kernels.accum(this.valuesOffset + 4 * start * this.s, this.weightsOffset, this.s, rows, this.accOffset);
  }
}
