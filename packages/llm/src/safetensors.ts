import { ModelFormatError, UnsupportedDtypeError } from './errors.js';

/**
 * One tensor read from a safetensors file, converted to float32.
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors, type SafeTensor } from '@kv/llm';
 * const file = writeSafetensors({ bias: { shape: [3], data: new Float32Array([0.5, -1, 2]) } });
 * const bias: SafeTensor | undefined = readSafetensors(file).tensors.get('bias');
 * bias?.dtype; // 'F32'
 * ```
 */
export interface SafeTensor {
  /** The dtype stored in the file (`F32`, `F16`, `BF16` or `F64`). */
  dtype: string;
  /** The shape, outermost dimension first (C order). */
  shape: number[];
  /** The values in C order, converted to float32. */
  data: Float32Array;
}

/**
 * The content of a safetensors file.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { readSafetensors, type SafetensorsFile } from '@kv/llm';
 * const SAFETENSORS_PATH = 'models/my-llama/model.safetensors';
 * const file: SafetensorsFile = readSafetensors(readFileSync(SAFETENSORS_PATH));
 * for (const [name, t] of file.tensors) console.log(name, t.dtype, t.shape.join('x'));
 * console.log(file.metadata.format); // 'pt' for files written by PyTorch
 * ```
 */
export interface SafetensorsFile {
  /** The `__metadata__` string map of the header (empty when absent). */
  metadata: Record<string, string>;
  /** The tensors by name, in header order. */
  tensors: Map<string, SafeTensor>;
}

/**
 * One tensor to write: float32 values in C order and their shape.
 *
 * @example
 * ```ts
 * import { writeSafetensors, type TensorToWrite } from '@kv/llm';
 * const embedding: TensorToWrite = { shape: [256, 8], data: new Float32Array(256 * 8) };
 * writeSafetensors({ 'model.embed_tokens.weight': embedding });
 * ```
 */
export interface TensorToWrite {
  /** The shape, outermost dimension first. */
  shape: number[];
  /** The values in C order; length must equal the product of `shape`. */
  data: Float32Array;
  /** How to store them (default `F32`); `F16` rounds each value to the nearest float16, ties to even. */
  dtype?: 'F32' | 'F16';
}

const BYTES_PER_ELEMENT: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };
// The spec caps the header at 100 MB to stop a hostile length from allocating unbounded memory.
const MAX_HEADER_BYTES = 100_000_000;

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The float16 nearest to a float32 (ties to even; beyond the float16 range, ±Infinity; NaN stays
 * NaN), as its 16 bits.
 * @internal
 */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // the float16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  // Normal results keep 10 of the 23 mantissa bits; subnormal ones fewer, with the implicit 1.
  const shift = e > 0 ? 13 : 14 - e;
  if (shift > 24) return sign;
  const m = e > 0 ? mant : mant | 0x800000;
  let h = (e > 0 ? e << 10 : 0) | (m >>> shift);
  const rem = m & ((1 << shift) - 1);
  const mid = 1 << (shift - 1);
  // A carry out of the mantissa lands in the exponent: the next binade, or Infinity. Correct.
  if (rem > mid || (rem === mid && h & 1)) h++;
  return sign | h;
}

function shapeSize(name: string, shape: unknown): number {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
    throw new ModelFormatError(`tensor "${name}" has shape ${JSON.stringify(shape)}, expected an array of non-negative integers`);
  }
  return (shape as number[]).reduce((a, b) => a * b, 1);
}

function decode(name: string, dtype: string, bytes: Uint8Array, begin: number, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + begin, count * BYTES_PER_ELEMENT[dtype]!);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case 'BF16': {
      // bfloat16 is the top half of a float32, so widening is a shift into a uint32 view.
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u32[i] = view.getUint16(2 * i, true) << 16;
      break;
    }
    default:
      throw new UnsupportedDtypeError(name, dtype);
  }
  return out;
}

/**
 * Parses a safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length, a JSON header, then the raw little-endian tensor bytes.
 *
 * @param bytes - The whole file.
 * @returns The metadata map and every tensor converted to float32.
 * @throws {@link ModelFormatError} when the file is truncated, the header is not valid JSON, or a
 *   tensor's offsets disagree with its dtype and shape or fall outside the data section.
 * @throws {@link UnsupportedDtypeError} for a dtype other than F32, F16, BF16, F64.
 * @example
 * ```ts
 * import { readSafetensors } from '@kv/llm';
 * const url = 'https://huggingface.co/my-org/my-llama/resolve/main/model.safetensors';
 * const { tensors } = readSafetensors(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 * tensors.get('model.norm.weight')?.shape; // [dim]
 * ```
 * @remarks Written here because no well-kept standalone safetensors parser exists on npm (the
 * format is small: a length, JSON, and bytes). Platform-neutral: no Node API is used. Values are
 * copied out, so the result does not alias `bytes` and any alignment of the data section is fine.
 * @see https://huggingface.co/docs/safetensors/index
 */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.byteLength < 8) throw new ModelFormatError(`safetensors file has ${bytes.byteLength} bytes, expected at least 8`);
  const lenView = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const headerLen = Number(lenView.getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > bytes.byteLength) {
    throw new ModelFormatError(`safetensors header length ${headerLen} exceeds the file size ${bytes.byteLength}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new ModelFormatError(`safetensors header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new ModelFormatError('safetensors header is not a JSON object');
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensor>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) throw new ModelFormatError('__metadata__ is not an object');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new ModelFormatError(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null || typeof e.dtype !== 'string') {
      throw new ModelFormatError(`tensor "${name}" has no dtype`);
    }
    const count = shapeSize(name, e.shape);
    const width = BYTES_PER_ELEMENT[e.dtype];
    if (width === undefined) throw new UnsupportedDtypeError(name, e.dtype);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new ModelFormatError(`tensor "${name}" has data_offsets ${JSON.stringify(offs)}, expected [begin, end]`);
    }
    const [begin, end] = offs as [number, number];
    if (end < begin || end > dataLen) {
      throw new ModelFormatError(`tensor "${name}" spans bytes [${begin}, ${end}) outside the data section of ${dataLen} bytes`);
    }
    if (end - begin !== count * width) {
      throw new ModelFormatError(`tensor "${name}" spans ${end - begin} bytes, expected ${count * width} for ${e.dtype} ${JSON.stringify(e.shape)}`);
    }
    tensors.set(name, { dtype: e.dtype, shape: [...(e.shape as number[])], data: decode(name, e.dtype, bytes, dataStart + begin, count) });
  }
  return { metadata, tensors };
}

/**
 * Serialises float32 tensors to the safetensors format.
 *
 * @param tensors - Tensors by name; each `data.length` must equal the product of its `shape`.
 * @param metadata - Optional string map stored as `__metadata__`.
 * @returns The file bytes: header length, JSON header padded with spaces to a multiple of 8 bytes
 *   (as the spec recommends, so the data section is aligned), then the tensors in the order given.
 * @throws {@link ModelFormatError} when a tensor's length disagrees with its shape or a name is
 *   `__metadata__`.
 * @throws {@link UnsupportedDtypeError} for a dtype other than F32 and F16.
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors } from '@kv/llm';
 * const bytes = writeSafetensors({ w: { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } });
 * readSafetensors(bytes).tensors.get('w')?.data; // Float32Array [1, 2, 3, 4]
 * ```
 * @remarks Writes F32 (or F16 where a tensor asks), little-endian, independent of the host's
 * byte order.
 * @see https://huggingface.co/docs/safetensors/index
 */
export function writeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new ModelFormatError('"__metadata__" is reserved and cannot name a tensor');
    const count = shapeSize(name, t.shape);
    if (count !== t.data.length) {
      throw new ModelFormatError(`tensor "${name}" has ${t.data.length} values, expected ${count} for shape ${JSON.stringify(t.shape)}`);
    }
    const dtype = t.dtype ?? 'F32';
    if (dtype !== 'F32' && dtype !== 'F16') throw new UnsupportedDtypeError(name, String(dtype));
    const width = BYTES_PER_ELEMENT[dtype]!;
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + width * count] };
    offset += width * count;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const [, t] of entries) {
    if (t.dtype === 'F16') for (let i = 0; i < t.data.length; i++, pos += 2) view.setUint16(pos, floatToHalf(t.data[i]!), true);
    else for (let i = 0; i < t.data.length; i++, pos += 4) view.setFloat32(pos, t.data[i]!, true);
  }
  return out;
}
