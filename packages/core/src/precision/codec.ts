import { fromHalf, HALF_MAX, halfDown, halfUp, toHalf } from './half.js';
import { lloydMaxLevels, nearestLevel } from './lloyd-max.js';
import { type CodecName, codecBits, isIntegerCodec, type ResolvedPrecision } from './spec.js';

/**
 * Typed views of one memory, all starting at byte 0, so a field at byte offset o is
 * `u8[o]`, `u16[o / 2]`, `f32[o / 4]`.
 * @internal
 */
export interface MemoryViews {
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly f32: Float32Array;
}

/**
 * One bit plane of packed codes. Codes of `bits` bits are packed in chunks of `width` bytes:
 * byte i of a chunk holds, in its bit field f, the code of channel `chunk·(8·width/bits) + f·width + i`,
 * so one SIMD load of a chunk and one shift/mask per field yield `width` consecutive channels.
 * @internal
 */
export interface Plane {
  readonly bits: number;
  readonly bytes: number;
  readonly width: number;
  /** Byte (within the row's codes) holding each channel's bits. */
  readonly byteOf: Int32Array;
  /** Bit shift of each channel's field. */
  readonly shiftOf: Uint8Array;
}

const align4 = (n: number) => (n + 3) & ~3;

const one = new Float32Array(1);
const oneBits = new Int32Array(one.buffer);
// The float32 nearest x in the given direction (x finite).
function f32Toward(x: number, up: boolean): number {
  const r = Math.fround(x);
  if (up ? r >= x : r <= x) return r;
  one[0] = r;
  if (r === 0) oneBits[0] = up ? 1 : -2147483647;
  else oneBits[0] += (r > 0) === up ? 1 : -1;
  return one[0]!;
}
const f32Down = (x: number) => f32Toward(x, false);
const f32Up = (x: number) => f32Toward(x, true);

function plane(length: number, bits: number, offset: number, group: number): Plane {
  const bytes = Math.ceil((length * bits) / 8);
  let width = 16;
  while (width > 1 && (bytes % width !== 0 || group % width !== 0)) width >>= 1;
  const perChunk = (8 * width) / bits;
  const byteOf = new Int32Array(length);
  const shiftOf = new Uint8Array(length);
  for (let ch = 0; ch < length; ch++) {
    const chunk = Math.floor(ch / perChunk);
    const r = ch % perChunk;
    byteOf[ch] = offset + chunk * width + (r % width);
    shiftOf[ch] = Math.floor(r / width) * bits;
  }
  return { bits, bytes, width, byteOf, shiftOf };
}

/**
 * The encoding of one side (keys or values) of a row: its codec, packing, and per-group scales.
 *
 * Integer codes are asymmetric: a group with range [lo, hi] stores lo and step = (hi − lo)/(2^b − 1)
 * (rounded outwards to the scale format, so the grid still covers the range) and each element as
 * round((x − lo)/step), hence |x − (lo + c·step)| ≤ step/2. With the Lloyd–Max codebook a group
 * stores its root mean square σ and each element as the nearest σ·level.
 *
 * Token-wise groups (`axis: 'token'`) are G consecutive channels of one row, so each row decodes on
 * its own; channel-wise groups (`axis: 'channel'`, keys only) are one channel over G consecutive
 * rows (KIVI), their scales held once per group of rows.
 * @internal
 */
export class VectorCodec {
  readonly length: number;
  readonly codec: CodecName;
  readonly bits: number;
  readonly integer: boolean;
  readonly axis: 'token' | 'channel';
  readonly group: number;
  /** Scale groups per row (token axis; 0 otherwise). */
  readonly groups: number;
  readonly halfScales: boolean;
  /** Lloyd–Max levels, or null for uniform levels. */
  readonly levels: Float64Array | null;
  /** 2^bits − 1. */
  readonly maxCode: number;
  /** Scale entries per group: 2 (lo, step) or 1 (σ). */
  readonly perGroup: number;
  readonly planes: readonly Plane[];
  /** Bytes of one row's codes (or float elements), padded to 4. */
  readonly codeBytes: number;
  /** Bytes of one row's scales (token axis). */
  readonly scaleBytes: number;
  /** Bytes of the scales of one group of rows (channel axis). */
  readonly groupScaleBytes: number;

  /**
   * @param length - Elements per row (d or s).
   * @param codec - Codec.
   * @param precision - Group size, scale format, codebook.
   * @param axis - Token-wise or channel-wise groups.
   */
  constructor(length: number, codec: CodecName, precision: ResolvedPrecision, axis: 'token' | 'channel') {
    this.length = length;
    this.codec = codec;
    this.bits = codecBits(codec);
    this.integer = isIntegerCodec(codec);
    this.axis = this.integer ? axis : 'token';
    this.group = precision.group;
    this.halfScales = precision.scales === 'f16';
    this.levels = this.integer && precision.codebook === 'lloyd-max' && this.axis === 'token' ? lloydMaxLevels(this.bits) : null;
    this.maxCode = (1 << Math.min(this.bits, 16)) - 1;
    this.perGroup = this.levels ? 1 : 2;
    const sb = this.halfScales ? 2 : 4;
    if (!this.integer) {
      this.planes = [];
      this.codeBytes = align4((length * this.bits) / 8);
      this.groups = 0;
      this.scaleBytes = 0;
      this.groupScaleBytes = 0;
      return;
    }
    const groupAlign = this.axis === 'token' ? this.group : 16;
    if (this.bits === 3) {
      const low = plane(length, 2, 0, groupAlign);
      this.planes = [low, plane(length, 1, low.bytes, groupAlign)];
    } else {
      this.planes = [plane(length, this.bits, 0, groupAlign)];
    }
    this.codeBytes = align4(this.planes.reduce((a, p) => a + p.bytes, 0));
    this.groups = this.axis === 'token' ? Math.ceil(length / this.group) : 0;
    this.scaleBytes = align4(this.groups * this.perGroup * sb);
    this.groupScaleBytes = this.axis === 'channel' ? align4(length * 2 * sb) : 0;
  }

  /**
   * Why `x` cannot be stored, or null: f16 storage (elements or scales) holds |x| ≤ 65504.
   * @param x - Elements.
   * @param offset - First element.
   * @returns A message or null.
   */
  refuse(x: ArrayLike<number>, offset: number): string | null {
    if (this.codec !== 'f16' && !(this.integer && this.halfScales)) return null;
    for (let j = 0; j < this.length; j++) {
      const v = x[offset + j]!;
      if (!(Math.abs(v) <= HALF_MAX)) {
        return `element ${j} is ${v}, beyond the float16 range (|x| <= ${HALF_MAX}) of this store's ${this.codec === 'f16' ? 'f16 codec' : 'f16 scales'} (use scales: 'f32')`;
      }
    }
    return null;
  }

  private setCode(u8: Uint8Array, base: number, ch: number, code: number): void {
    const planes = this.planes;
    let c = code;
    for (let p = 0; p < planes.length; p++) {
      const pl = planes[p]!;
      const mask = (1 << pl.bits) - 1;
      const b = base + pl.byteOf[ch]!;
      u8[b] = (u8[b]! & ~(mask << pl.shiftOf[ch]!)) | ((c & mask) << pl.shiftOf[ch]!);
      c >>>= pl.bits;
    }
  }

  /**
   * The integer code of channel `ch` of the row whose codes start at byte `base`.
   * @param u8 - Memory bytes.
   * @param base - Byte offset of the row's codes.
   * @param ch - Channel.
   * @returns The code.
   */
  code(u8: Uint8Array, base: number, ch: number): number {
    const planes = this.planes;
    const p0 = planes[0]!;
    let c = (u8[base + p0.byteOf[ch]!]! >>> p0.shiftOf[ch]!) & ((1 << p0.bits) - 1);
    if (planes.length > 1) {
      const p1 = planes[1]!;
      c |= ((u8[base + p1.byteOf[ch]!]! >>> p1.shiftOf[ch]!) & 1) << p0.bits;
    }
    return c;
  }

  private scale(m: MemoryViews, off: number, k: number): number {
    return this.halfScales ? fromHalf(m.u16[(off >> 1) + k]!) : m.f32[(off >> 2) + k]!;
  }

  private setScale(m: MemoryViews, off: number, k: number, v: number): void {
    if (this.halfScales) m.u16[(off >> 1) + k] = v;
    else m.f32[(off >> 2) + k] = v;
  }

  // The stored (lo, step) of a range: lo rounded down and step rounded up in the scale format,
  // so lo + maxCode·step ≥ hi still holds. Writes them at entries k, k+1.
  private storeRange(m: MemoryViews, off: number, k: number, lo: number, hi: number): void {
    const L = this.maxCode;
    if (this.halfScales) {
      const lo16 = halfDown(lo);
      const l = fromHalf(lo16);
      let st = halfUp((hi - l) / L);
      // Positive float16 bits order like their values: the next step up is bits + 1.
      while (l + L * fromHalf(st) < hi) st++;
      m.u16[(off >> 1) + k] = lo16;
      m.u16[(off >> 1) + k + 1] = st;
    } else {
      const l = f32Down(lo);
      let st = f32Up((hi - l) / L);
      while (l + L * st < hi) st = f32Up(st * (1 + 2 ** -23));
      m.f32[(off >> 2) + k] = l;
      m.f32[(off >> 2) + k + 1] = st;
    }
  }

  /**
   * Encodes a row on its own (float codecs, or integer codes with token-wise groups).
   * @param x - The row (already rotated when the store rotates).
   * @param m - Memory views.
   * @param codeOff - Byte offset of the codes.
   * @param scaleOff - Byte offset of the scales.
   */
  encode(x: ArrayLike<number>, m: MemoryViews, codeOff: number, scaleOff: number): void {
    const n = this.length;
    if (this.codec === 'f32') {
      const f = codeOff >> 2;
      for (let j = 0; j < n; j++) m.f32[f + j] = x[j]!;
      return;
    }
    if (this.codec === 'f16') {
      const h = codeOff >> 1;
      for (let j = 0; j < n; j++) m.u16[h + j] = toHalf(x[j]!);
      return;
    }
    const G = this.group;
    const levels = this.levels;
    for (let g = 0; g < this.groups; g++) {
      const j0 = g * G;
      const j1 = Math.min(n, j0 + G);
      if (levels) {
        let ss = 0;
        for (let j = j0; j < j1; j++) ss += x[j]! * x[j]!;
        const raw = Math.sqrt(ss / (j1 - j0));
        const bits = this.halfScales ? toHalf(raw) : 0;
        const sigma = this.halfScales ? fromHalf(bits) : Math.fround(raw);
        this.setScale(m, scaleOff, g, this.halfScales ? bits : sigma);
        for (let j = j0; j < j1; j++) this.setCode(m.u8, codeOff, j, nearestLevel(levels, sigma > 0 ? x[j]! / sigma : 0));
        continue;
      }
      let lo = Infinity;
      let hi = -Infinity;
      for (let j = j0; j < j1; j++) {
        const v = x[j]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      this.storeRange(m, scaleOff, 2 * g, lo, hi);
      const l = this.scale(m, scaleOff, 2 * g);
      const st = this.scale(m, scaleOff, 2 * g + 1);
      const inv = st > 0 ? 1 / st : 0;
      for (let j = j0; j < j1; j++) this.setCode(m.u8, codeOff, j, this.quantize(x[j]!, l, inv));
    }
  }

  private quantize(x: number, lo: number, inv: number): number {
    const c = Math.round((x - lo) * inv);
    return c < 0 ? 0 : c > this.maxCode ? this.maxCode : c;
  }

  /**
   * Encodes `rows` rows with channel-wise groups: one (lo, step) per channel over the rows.
   * @param rows - The rows, row-major (`rows·length` elements from `offset`).
   * @param offset - First element.
   * @param count - Number of rows (the group size, or fewer).
   * @param m - Memory views.
   * @param codeOffs - Byte offset of each row's codes.
   * @param groupScaleOff - Byte offset of the group's scales.
   */
  encodeChannels(rows: Float64Array, offset: number, count: number, m: MemoryViews, codeOffs: Int32Array, groupScaleOff: number): void {
    const n = this.length;
    for (let j = 0; j < n; j++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let r = 0; r < count; r++) {
        const v = rows[offset + r * n + j]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      this.storeRange(m, groupScaleOff, 2 * j, lo, hi);
      const l = this.scale(m, groupScaleOff, 2 * j);
      const st = this.scale(m, groupScaleOff, 2 * j + 1);
      const inv = st > 0 ? 1 / st : 0;
      for (let r = 0; r < count; r++) this.setCode(m.u8, codeOffs[r]!, j, this.quantize(rows[offset + r * n + j]!, l, inv));
    }
  }

  /**
   * Decodes a row into `out` (token-wise groups or floats; for channel-wise rows pass the group's
   * scale offset as `scaleOff`).
   * @param m - Memory views.
   * @param codeOff - Byte offset of the codes.
   * @param scaleOff - Byte offset of the row's (or its group's) scales.
   * @param out - Destination.
   * @param outOff - First element written.
   */
  decode(m: MemoryViews, codeOff: number, scaleOff: number, out: Float32Array | Float64Array, outOff: number): void {
    const n = this.length;
    if (this.codec === 'f32') {
      const f = codeOff >> 2;
      for (let j = 0; j < n; j++) out[outOff + j] = m.f32[f + j]!;
      return;
    }
    if (this.codec === 'f16') {
      const h = codeOff >> 1;
      for (let j = 0; j < n; j++) out[outOff + j] = fromHalf(m.u16[h + j]!);
      return;
    }
    if (this.axis === 'channel') {
      for (let j = 0; j < n; j++) {
        out[outOff + j] = this.scale(m, scaleOff, 2 * j) + this.code(m.u8, codeOff, j) * this.scale(m, scaleOff, 2 * j + 1);
      }
      return;
    }
    const G = this.group;
    const levels = this.levels;
    for (let g = 0; g < this.groups; g++) {
      const j1 = Math.min(n, g * G + G);
      if (levels) {
        const sigma = this.scale(m, scaleOff, g);
        for (let j = g * G; j < j1; j++) out[outOff + j] = sigma * levels[this.code(m.u8, codeOff, j)]!;
      } else {
        const lo = this.scale(m, scaleOff, 2 * g);
        const st = this.scale(m, scaleOff, 2 * g + 1);
        for (let j = g * G; j < j1; j++) out[outOff + j] = lo + this.code(m.u8, codeOff, j) * st;
      }
    }
  }

  /**
   * <x̂, q> of a stored row, in double precision, straight from the codes.
   * @param m - Memory views.
   * @param codeOff - Byte offset of the codes.
   * @param scaleOff - Byte offset of the scales (token axis).
   * @param q - The (rotated) query.
   * @param qsum - Σ of q over each scale group (token axis, uniform levels).
   * @returns The inner product.
   */
  dot(m: MemoryViews, codeOff: number, scaleOff: number, q: Float64Array, qsum: Float64Array): number {
    const n = this.length;
    if (this.codec === 'f32') {
      let a = 0;
      const f = codeOff >> 2;
      for (let j = 0; j < n; j++) a += q[j]! * m.f32[f + j]!;
      return a;
    }
    if (this.codec === 'f16') {
      let a = 0;
      const h = codeOff >> 1;
      for (let j = 0; j < n; j++) a += q[j]! * fromHalf(m.u16[h + j]!);
      return a;
    }
    const G = this.group;
    const levels = this.levels;
    let total = 0;
    for (let g = 0; g < this.groups; g++) {
      const j1 = Math.min(n, g * G + G);
      let a = 0;
      if (levels) {
        for (let j = g * G; j < j1; j++) a += q[j]! * levels[this.code(m.u8, codeOff, j)]!;
        total += this.scale(m, scaleOff, g) * a;
      } else {
        for (let j = g * G; j < j1; j++) a += q[j]! * this.code(m.u8, codeOff, j);
        total += this.scale(m, scaleOff, 2 * g + 1) * a + this.scale(m, scaleOff, 2 * g) * qsum[g]!;
      }
    }
    return total;
  }

  /**
   * Σ_j qs[j]·c_j over a channel-wise row's codes (qs = the query folded into its group's steps).
   * @param u8 - Memory bytes.
   * @param codeOff - Byte offset of the codes.
   * @param qs - Folded query.
   * @returns The partial inner product (add the group's bias).
   */
  codeDot(u8: Uint8Array, codeOff: number, qs: Float64Array): number {
    let a = 0;
    for (let j = 0; j < this.length; j++) a += qs[j]! * this.code(u8, codeOff, j);
    return a;
  }

  /**
   * Folds a query into a channel-wise group's scales: qs[j] = q[j]·step_j.
   * @param m - Memory views.
   * @param groupScaleOff - Byte offset of the group's scales.
   * @param q - The query.
   * @param qs - Receives the folded query.
   * @returns <q, lo>, the part every row of the group shares.
   */
  foldQuery(m: MemoryViews, groupScaleOff: number, q: Float64Array, qs: Float64Array): number {
    let bias = 0;
    for (let j = 0; j < this.length; j++) {
      qs[j] = q[j]! * this.scale(m, groupScaleOff, 2 * j + 1);
      bias += q[j]! * this.scale(m, groupScaleOff, 2 * j);
    }
    return bias;
  }

  /**
   * acc += w·x̂ for a stored row (token axis or floats).
   * @param m - Memory views.
   * @param codeOff - Byte offset of the codes.
   * @param scaleOff - Byte offset of the scales.
   * @param w - Weight.
   * @param acc - Accumulators.
   */
  axpy(m: MemoryViews, codeOff: number, scaleOff: number, w: number, acc: Float64Array): void {
    const n = this.length;
    if (this.codec === 'f32') {
      const f = codeOff >> 2;
      for (let j = 0; j < n; j++) acc[j] += w * m.f32[f + j]!;
      return;
    }
    if (this.codec === 'f16') {
      const h = codeOff >> 1;
      for (let j = 0; j < n; j++) acc[j] += w * fromHalf(m.u16[h + j]!);
      return;
    }
    const G = this.group;
    const levels = this.levels;
    for (let g = 0; g < this.groups; g++) {
      const j1 = Math.min(n, g * G + G);
      if (levels) {
        const a = w * this.scale(m, scaleOff, g);
        for (let j = g * G; j < j1; j++) acc[j] += a * levels[this.code(m.u8, codeOff, j)]!;
      } else {
        const wl = w * this.scale(m, scaleOff, 2 * g);
        const a = w * this.scale(m, scaleOff, 2 * g + 1);
        for (let j = g * G; j < j1; j++) acc[j] += wl + a * this.code(m.u8, codeOff, j);
      }
    }
  }

  /**
   * The largest reconstruction error the codec allows for element `j` of a stored row: half a
   * step (uniform levels), half the widest gap between levels or the distance past the outer
   * level (Lloyd–Max), half an ulp (f16), 0 (f32). For tests and documentation.
   * @param m - Memory views.
   * @param scaleOff - Byte offset of the row's (or group's) scales.
   * @param j - Element.
   * @param x - The original element (for the Lloyd–Max tail).
   * @returns The bound.
   */
  bound(m: MemoryViews, scaleOff: number, j: number, x: number): number {
    if (this.codec === 'f32') return 0;
    if (this.codec === 'f16') return Math.abs(x) * 2 ** -11 + 2 ** -25;
    if (this.axis === 'channel') return this.scale(m, scaleOff, 2 * j + 1) / 2;
    const g = Math.floor(j / this.group);
    const levels = this.levels;
    if (!levels) return this.scale(m, scaleOff, 2 * g + 1) / 2;
    const sigma = this.scale(m, scaleOff, g);
    let gap = 0;
    for (let k = 1; k < levels.length; k++) gap = Math.max(gap, levels[k]! - levels[k - 1]!);
    const top = levels[levels.length - 1]!;
    return sigma * Math.max(gap / 2, Math.abs(sigma > 0 ? x / sigma : 0) - top);
  }
}
