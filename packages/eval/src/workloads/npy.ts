import { dump, parse } from 'npyjs';
import { TraceFormatError } from '../errors.js';

/**
 * A float matrix read from a `.npy` file.
 *
 * @example
 * ```ts
 * import type { NpyMatrix } from '@kv/eval';
 * const m: NpyMatrix = { shape: [2, 3], data: new Float32Array(6), dtype: 'f4' };
 * ```
 */
export interface NpyMatrix {
  /** The array shape, outermost first. */
  readonly shape: readonly number[];
  /** The values in C order, converted to float32. */
  readonly data: Float32Array;
  /** The stored dtype without byte order (`f4`, `f8` or `f2`). */
  readonly dtype: string;
}

/**
 * Parses a `.npy` file (format versions 1.0, 2.0 and 3.0) with the `npyjs` parser, accepting
 * little-endian float16/32/64 in C order and converting to float32.
 *
 * @param bytes - The file content.
 * @param name - File name for error messages.
 * @returns Shape, float32 data and the stored dtype.
 * @throws {@link TraceFormatError} for a bad magic, big-endian or non-float dtype, Fortran order,
 *   or data shorter than the shape.
 * @example
 * ```ts
 * import { readNpy, writeNpy } from '@kv/eval';
 * readNpy(writeNpy(new Float32Array([1, 2]), [2])).shape; // [2]
 * ```
 */
export function readNpy(bytes: Uint8Array, name = 'array.npy'): NpyMatrix {
  // A fresh, aligned ArrayBuffer: npyjs builds typed-array views at the data offset.
  const buf = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buf).set(bytes);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(buf);
  } catch (e) {
    throw new TraceFormatError(`${name}: ${(e as Error).message}, expected a little-endian float .npy file`);
  }
  if (parsed.fortranOrder) throw new TraceFormatError(`${name}: fortran_order is True, expected C order (np.ascontiguousarray)`);
  if (!['f2', 'f4', 'f8'].includes(parsed.dtype)) {
    throw new TraceFormatError(`${name}: dtype is ${parsed.dtype}, expected little-endian float16, float32 or float64`);
  }
  const count = parsed.shape.reduce((a, b) => a * b, 1);
  const raw = parsed.data as Float32Array | Float64Array;
  if (!parsed.shape.every((x) => Number.isSafeInteger(x) && x >= 0)) {
    throw new TraceFormatError(`${name}: shape ${JSON.stringify(parsed.shape)} is not a tuple of sizes`);
  }
  if (raw.length < count) throw new TraceFormatError(`${name}: holds ${raw.length} values, shape ${JSON.stringify(parsed.shape)} needs ${count}`);
  const data = raw instanceof Float32Array ? raw.slice(0, count) : Float32Array.from(raw.subarray(0, count));
  return { shape: parsed.shape, data, dtype: parsed.dtype };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The IEEE half-precision bits of a number, rounded to nearest even (overflow gives ±Infinity,
 * tiny values subnormals or ±0).
 *
 * @param x - The value.
 * @returns The 16 bits.
 * @example
 * ```ts
 * import { float16Bits } from '@kv/eval';
 * float16Bits(1); // 0x3c00
 * ```
 */
export function float16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal: shift the mantissa with its implicit bit, rounding to nearest even.
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let out = m >>> shift;
    if (rest > half || (rest === half && (out & 1) === 1)) out++;
    return sign | out;
  }
  let out = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (out & 1) === 1)) out++;
  return sign | out;
}

/**
 * Writes a float array as a version 1.0 `.npy` file (little-endian, C order), via `npyjs`:
 * float32 (`<f4`) by default, or float16 (`<f2`, rounded to nearest even) at half the size.
 *
 * @param data - The values in C order.
 * @param shape - The shape; its product must equal `data.length`.
 * @param dtype - `f4` (default) or `f2`.
 * @returns The file content.
 * @throws {@link TraceFormatError} when the shape does not match the data.
 * @example
 * ```ts
 * import { writeNpy } from '@kv/eval';
 * const bytes = writeNpy(new Float32Array(6), [2, 3]);
 * const half = writeNpy(new Float32Array(6), [2, 3], 'f2');
 * ```
 */
export function writeNpy(data: Float32Array, shape: readonly number[], dtype: 'f4' | 'f2' = 'f4'): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new TraceFormatError(`shape ${JSON.stringify(shape)} holds ${count} values, data has ${data.length}`);
  if (dtype === 'f4') return new Uint8Array(dump(data, [...shape]));
  const bits = new Uint16Array(count);
  for (let i = 0; i < count; i++) bits[i] = float16Bits(data[i]!);
  return new Uint8Array(dump(bits, [...shape], { dtype: 'f2' }));
}
