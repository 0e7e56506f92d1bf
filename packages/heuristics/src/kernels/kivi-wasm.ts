import { type WasmMemory, WasmSimdModule } from '@kv/core';
import { KIVI_WASM } from './kivi-wasm-bytes.js';

interface KiviExports {
  kdots(codes: number, rb: number, rows: number, qs: number, out: number, bits: number): void;
  vaccum(
    codes: number,
    rb: number,
    rows: number,
    scale: number,
    zero: number,
    vg: number,
    gb: number,
    w: number,
    acc: number,
    zacc: number,
    bits: number,
  ): void;
}

const PAGE = 65536;
const LINE = 64;
// The decode table at address 0 (kivi.wat): 256 entries of up to 32 bytes.
const TABLE_BYTES = 8192;
// The 8-bit key kernel reads 8 codes at a time, up to 7 bytes past the last row.
const SLACK = 64;
const MAX_BYTES = 2 ** 31;

// Compiled on first use; the module is 1.3 KB.
const kivi = new WasmSimdModule(KIVI_WASM);

const align = (n: number) => Math.ceil(n / LINE) * LINE;

/** Shape of a {@link Kivi} cache, as the arena lays it out. @internal */
export interface KiviShape {
  readonly bits: 2 | 4 | 8;
  readonly keyDim: number;
  readonly group: number;
  readonly keyRowBytes: number;
  readonly valueRowBytes: number;
  readonly valueGroups: number;
  /** Rows of the logits scratch (residual + group). */
  readonly logitRows: number;
}

/**
 * The codes, scales, zero points and attention scratch of one KIVI cache in a WebAssembly memory
 * of its own, so the SIMD kernels read them in place. Growing the memory detaches old views, so
 * {@link KiviArena.resize} rebuilds every view (data regions start zeroed; the caller copies).
 *
 * Layout (byte offsets, 64-aligned): decode table (8 KB) | qs doubles | logits doubles | acc
 * doubles | zacc doubles | key codes | value codes | key scale | key zero | value scale | value
 * zero | 64 bytes of slack.
 *
 * @internal
 */
export class KiviArena {
  /** Query folded into key scales, zero past d, padded to a multiple of 8. */
  qs: Float64Array;
  /** Logits, then weights, of a group (and of the residual). */
  logits: Float64Array;
  /** Value accumulators (padded to whole code bytes). */
  acc: Float64Array;
  /** Per value group accumulators of the zero points. */
  zacc: Float64Array;
  /** Packed key codes. */
  keyCodes = new Uint8Array(0);
  /** Packed value codes. */
  valueCodes = new Uint8Array(0);
  /** Key scale per (group, channel). */
  keyScale = new Float32Array(0);
  /** Key zero per (group, channel). */
  keyZero = new Float32Array(0);
  /** Value scale per (token, value group). */
  valueScale = new Float32Array(0);
  /** Value zero per (token, value group). */
  valueZero = new Float32Array(0);
  private readonly shape: KiviShape;
  private readonly memory: WasmMemory;
  private readonly kernels: KiviExports;
  private readonly qsOffset: number;
  private readonly logitsOffset: number;
  private readonly accOffset: number;
  private readonly zaccOffset: number;
  private readonly dataOffset: number;
  private readonly qsLength: number;
  private readonly accLength: number;
  private kcOffset = 0;
  private vcOffset = 0;
  private vsOffset = 0;
  private vzOffset = 0;

  private constructor(shape: KiviShape, memory: WasmMemory, kernels: KiviExports) {
    this.shape = shape;
    this.memory = memory;
    this.kernels = kernels;
    const perByte = 8 / shape.bits;
    this.qsLength = Math.ceil((shape.keyRowBytes * perByte) / 8) * 8;
    this.accLength = shape.valueRowBytes * perByte;
    this.qsOffset = TABLE_BYTES;
    this.logitsOffset = this.qsOffset + align(8 * this.qsLength);
    this.accOffset = this.logitsOffset + align(8 * shape.logitRows);
    this.zaccOffset = this.accOffset + align(8 * this.accLength);
    this.dataOffset = this.zaccOffset + align(8 * shape.valueGroups);
    this.qs = new Float64Array(0);
    this.logits = new Float64Array(0);
    this.acc = new Float64Array(0);
    this.zacc = new Float64Array(0);
  }

  /**
   * A new arena holding no groups, or null when the kernels are unavailable or the engine refuses
   * another memory (the caller then keeps plain arrays and the JS path).
   * @param shape - The cache's shape.
   * @returns The arena or null.
   */
  static create(shape: KiviShape): KiviArena | null {
    const instance = kivi.instantiate();
    if (instance === null) return null;
    try {
      const arena = new KiviArena(shape, instance.memory, instance.exports as KiviExports);
      if (!arena.resize(0)) return null;
      arena.fillTable();
      return arena;
    } catch {
      return null;
    }
  }

  /**
   * Makes room for `groups` quantized groups; every data view is rebuilt and zeroed, the scratch
   * views keep their contents.
   * @param groups - Groups to hold.
   * @returns False when the memory cannot grow (nothing changed).
   */
  resize(groups: number): boolean {
    const { group: G, keyDim: d, keyRowBytes: krb, valueRowBytes: vrb, valueGroups: vg } = this.shape;
    const kc = this.dataOffset;
    const vc = align(kc + groups * G * krb);
    const ks = align(vc + groups * G * vrb);
    const kz = ks + align(4 * groups * d);
    const vs = kz + align(4 * groups * d);
    const vz = vs + align(4 * groups * G * vg);
    const end = vz + 4 * groups * G * vg + SLACK;
    if (end > MAX_BYTES) return false;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        return false;
      }
    }
    const buffer = this.memory.buffer;
    new Uint8Array(buffer, kc, end - kc).fill(0);
    this.kcOffset = kc;
    this.vcOffset = vc;
    this.vsOffset = vs;
    this.vzOffset = vz;
    this.keyCodes = new Uint8Array(buffer, kc, groups * G * krb);
    this.valueCodes = new Uint8Array(buffer, vc, groups * G * vrb);
    this.keyScale = new Float32Array(buffer, ks, groups * d);
    this.keyZero = new Float32Array(buffer, kz, groups * d);
    this.valueScale = new Float32Array(buffer, vs, groups * G * vg);
    this.valueZero = new Float32Array(buffer, vz, groups * G * vg);
    this.qs = new Float64Array(buffer, this.qsOffset, this.qsLength);
    this.logits = new Float64Array(buffer, this.logitsOffset, this.shape.logitRows);
    this.acc = new Float64Array(buffer, this.accOffset, this.accLength);
    this.zacc = new Float64Array(buffer, this.zaccOffset, this.shape.valueGroups);
    return true;
  }

  /**
   * logits[i] = Σ_j qs_j·code_j of key rows first..first+rows−1.
   * @param first - First key row (group slot · G + token).
   * @param rows - Rows (≤ logitRows).
   */
  keyDots(first: number, rows: number): void {
    const krb = this.shape.keyRowBytes;
    this.kernels.kdots(this.kcOffset + first * krb, krb, rows, this.qsOffset, this.logitsOffset, this.shape.bits);
  }

  /**
   * acc += Σ_i logits[i]·scale·code and zacc += Σ_i logits[i]·zero over value rows
   * first..first+rows−1 (value groups must start on a byte boundary).
   * @param first - First value row.
   * @param rows - Rows.
   */
  valueAccum(first: number, rows: number): void {
    const { bits, group: G, valueRowBytes: vrb, valueGroups: vg } = this.shape;
    const so = 4 * first * vg;
    this.kernels.vaccum(
      this.vcOffset + first * vrb,
      vrb,
      rows,
      this.vsOffset + so,
      this.vzOffset + so,
      vg,
      (G * bits) / 8,
      this.logitsOffset,
      this.accOffset,
      this.zaccOffset,
      bits,
    );
  }

  // Entry b of the table: the codes of byte b, lowest bits first, as doubles.
  private fillTable(): void {
    const bits = this.shape.bits;
    if (bits === 8) return;
    const perByte = 8 / bits;
    const stride = bits === 2 ? 4 : 2;
    const mask = (1 << bits) - 1;
    const table = new Float64Array(this.memory.buffer, 0, TABLE_BYTES / 8);
    for (let b = 0; b < 256; b++) {
      for (let k = 0; k < perByte; k++) table[b * stride + k] = (b >> (k * bits)) & mask;
    }
  }
}
