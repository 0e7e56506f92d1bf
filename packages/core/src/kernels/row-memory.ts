import { createSharedMemory, type WasmMemory, type WasmSimdInstance, type WasmSimdModule } from './wasm-module.js';

const PAGE = 65536;
// wasm32 addresses are unsigned 32-bit; engines handle signed offsets best, so stay below 2 GiB.
const MAX_WASM_BYTES = 2 ** 31;
// Most address space a resizable ArrayBuffer reserves: V8 refuses a maxByteLength above 2^32
// ("Invalid array buffer max length"), and a budget of a billion rows must not ask for it. Past
// the reservation a buffer grows by copying, still geometrically.
const MAX_RESERVE = 2 ** 31;

interface ResizableBuffer extends ArrayBuffer {
  resize(bytes: number): void;
  readonly resizable?: boolean;
  readonly maxByteLength: number;
}

type ResizableCtor = new (bytes: number, options: { maxByteLength: number }) => ResizableBuffer;

// Resizable ArrayBuffers (Node 20, current browsers) grow in place; elsewhere growth copies.
const canResize = typeof (ArrayBuffer.prototype as { resize?: unknown }).resize === 'function';

/**
 * The bytes of one {@link SlotStore}: a plain (resizable when the engine has it) ArrayBuffer, or a
 * WebAssembly memory the store's kernels read in place. Both grow in place where the engine
 * allows it (WebAssembly memories always do; resizable ArrayBuffers do in Node 20), so growing
 * never copies the rows; a plain ArrayBuffer on older engines copies on growth, geometrically.
 *
 * Growth is geometric (×1.5) but never past the cap the caller passes (what its budget allows), so
 * allocation stays within the budget; a WebAssembly memory rounds up to 64 KiB pages, of which
 * the operating system backs only the 4 KiB pages touched. Any cap works: a resizable buffer
 * reserves at most 2 GiB of address space (it copies, geometrically, past that), and rows that
 * outgrow what a WebAssembly memory addresses (2 GiB) move once into a plain buffer, where the
 * JavaScript loops answer.
 *
 * @internal
 */
export class RowMemory {
  u8: Uint8Array;
  u16: Uint16Array;
  i32: Int32Array;
  f32: Float32Array;
  f64: Float64Array;
  /** Bytes kept readable past what is asked for (kernels read ahead of the rows). */
  private slack = 0;
  private buffer: ArrayBuffer;
  private wasmMemory: WasmMemory | null = null;
  private instanceRef: WasmSimdInstance | null = null;

  /**
   * @param maxWasmBytes - Most bytes a WebAssembly memory of this store may hold (tests lower it).
   */
  constructor(private readonly maxWasmBytes = MAX_WASM_BYTES) {
    this.buffer = new ArrayBuffer(0);
    this.u8 = new Uint8Array(0);
    this.u16 = new Uint16Array(0);
    this.i32 = new Int32Array(0);
    this.f32 = new Float32Array(0);
    this.f64 = new Float64Array(0);
  }

  /** Bytes allocated. */
  get byteLength(): number {
    return this.buffer.byteLength;
  }

  /**
   * Bytes asked for: the allocation before a WebAssembly memory rounds it up to 64 KiB pages
   * (pages the rows never reach are not touched, so the system does not back them).
   */
  requested = 0;

  /** The kernel instance when the bytes live in a WebAssembly memory. */
  get instance(): WasmSimdInstance | null {
    return this.instanceRef;
  }

  /**
   * Ensures at least `bytes` bytes, growing geometrically up to `cap` (in place when possible).
   * @param bytes - Bytes needed.
   * @param cap - Most bytes the owner may allocate (≥ bytes).
   * @returns False when a WebAssembly memory cannot grow (nothing changed).
   */
  ensure(need: number, limit: number): boolean {
    const bytes = need + this.slack;
    const cap = limit + this.slack;
    const have = this.buffer.byteLength;
    if (bytes <= have) return true;
    const want = roundUp8(Math.min(Math.max(cap, bytes), Math.max(bytes, Math.floor(have * 1.5), 1024)));
    this.requested = want;
    const wasm = this.wasmMemory;
    if (wasm !== null) {
      if (want <= this.maxWasmBytes) {
        try {
          wasm.grow(Math.ceil((want - have) / PAGE));
          this.setBuffer(wasm.buffer);
          return true;
        } catch {
          // The engine refuses: leave the WebAssembly memory, as below.
        }
      }
      // Past what a WebAssembly memory can address: the rows move (once) into a plain buffer and
      // the store answers with the JavaScript loops from then on.
      if (this.shared) return false;
      this.wasmMemory = null;
      this.instanceRef = null;
      this.slack = 0;
    }
    const old = this.buffer as ResizableBuffer;
    if (canResize && old.resizable === true && want <= old.maxByteLength) {
      old.resize(want);
      this.setBuffer(old);
      return true;
    }
    const next = newBuffer(want, cap);
    new Uint8Array(next).set(this.u8);
    this.setBuffer(next);
    return true;
  }

  /**
   * Moves the first `live` bytes into a WebAssembly memory of a kernel module, at byte `to`, with
   * room for `bytes` bytes and `slack` readable bytes after them (copied once; afterwards the
   * store grows in place).
   * @param module - The kernel module.
   * @param live - Bytes to keep.
   * @param to - Where they land.
   * @param need - Bytes needed (from 0).
   * @param slack - Bytes kept readable past any later request.
   * @returns False when the module is unavailable or the engine refuses (nothing changed).
   */
  moveToWasm(module: WasmSimdModule, live: number, to: number, need: number, slack: number): boolean {
    if (this.wasmMemory !== null) return true;
    const bytes = need + slack;
    if (bytes > this.maxWasmBytes) return false;
    const instance = module.instantiate();
    if (instance === null) return false;
    return this.adopt(instance, live, to, bytes, slack);
  }

  /**
   * Moves the first `live` bytes into a new shared WebAssembly memory (readable by worker
   * threads) at byte `to`, with room for `need` bytes; it can grow in place up to `maxBytes`.
   * @param module - The kernel module built for shared memory.
   * @param live - Bytes to keep.
   * @param to - Where they land.
   * @param need - Bytes needed (from 0).
   * @param slack - Bytes kept readable past any later request.
   * @param maxBytes - Most bytes the memory may ever hold.
   * @returns False when shared memories are unavailable or the engine refuses (nothing changed).
   */
  moveToShared(module: WasmSimdModule, live: number, to: number, need: number, slack: number, maxBytes: number): boolean {
    if (this.shared) return true;
    const bytes = need + slack;
    const max = Math.min(this.maxWasmBytes, Math.max(bytes, maxBytes + slack + PAGE));
    if (bytes > max) return false;
    const memory = createSharedMemory(Math.ceil(bytes / PAGE), Math.ceil(max / PAGE));
    if (memory === null) return false;
    const instance = module.instantiate(memory);
    if (instance === null) return false;
    if (!this.adopt(instance, live, to, bytes, slack)) return false;
    this.shared = true;
    return true;
  }

  /** Whether the bytes live in a shared WebAssembly memory. */
  shared = false;

  private adopt(instance: WasmSimdInstance, live: number, to: number, bytes: number, slack: number): boolean {
    const have = instance.memory.buffer.byteLength;
    try {
      if (bytes > have) instance.memory.grow(Math.ceil((bytes - have) / PAGE));
    } catch {
      return false;
    }
    new Uint8Array(instance.memory.buffer).set(this.u8.subarray(0, live), to);
    this.requested = bytes;
    this.slack = slack;
    this.wasmMemory = instance.memory;
    this.instanceRef = instance;
    this.setBuffer(instance.memory.buffer);
    return true;
  }

  /** Re-reads the views after the WebAssembly memory grew elsewhere (or was detached). */
  refresh(): void {
    if (this.wasmMemory !== null && this.wasmMemory.buffer !== this.buffer) this.setBuffer(this.wasmMemory.buffer);
  }

  private setBuffer(buffer: ArrayBuffer): void {
    this.buffer = buffer;
    const n = buffer.byteLength;
    this.u8 = new Uint8Array(buffer, 0, n);
    this.u16 = new Uint16Array(buffer, 0, n >> 1);
    this.i32 = new Int32Array(buffer, 0, n >> 2);
    this.f32 = new Float32Array(buffer, 0, n >> 2);
    this.f64 = new Float64Array(buffer, 0, n >> 3);
  }
}

const roundUp8 = (n: number) => Math.ceil(n / 8) * 8;

// A buffer of `bytes` that can grow in place up to what `cap` allows (never reserving more than
// MAX_RESERVE); a plain one when the cap is unbounded or the engine has no resizable buffers.
function newBuffer(bytes: number, cap: number): ArrayBuffer {
  if (!canResize || !Number.isFinite(cap) || bytes > MAX_RESERVE) return new ArrayBuffer(bytes);
  return new (ArrayBuffer as unknown as ResizableCtor)(bytes, { maxByteLength: Math.min(MAX_RESERVE, roundUp8(Math.max(bytes, cap))) });
}

/**
 * A growable Int32 array for per-slot bookkeeping (positions, slot maps), growing geometrically
 * up to a cap, in place where the engine has resizable ArrayBuffers.
 * @internal
 */
export class GrowableInts {
  data: Int32Array;

  constructor() {
    this.data = new Int32Array(0);
  }

  /**
   * Ensures room for `n` entries, never past `cap`.
   * @param n - Entries needed.
   * @param cap - Most entries (≥ n).
   */
  ensure(n: number, cap: number): void {
    const have = this.data.length;
    if (n <= have) return;
    const want = Math.min(Math.max(cap, n), Math.max(n, Math.floor(have * 1.5), 16));
    const buf = this.data.buffer as ResizableBuffer;
    if (canResize && buf.resizable === true && want * 4 <= buf.maxByteLength) {
      buf.resize(want * 4);
      this.data = new Int32Array(buf, 0, want);
      return;
    }
    const next = new Int32Array(newBuffer(want * 4, cap * 4), 0, want);
    next.set(this.data);
    this.data = next;
  }
}
