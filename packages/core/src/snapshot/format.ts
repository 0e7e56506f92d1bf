import type { CacheState, StateArray, StateScalar } from '../contract.js';
import { SnapshotError } from '../errors.js';
import { crc32 } from './crc32.js';

/**
 * The snapshot format version this build writes and the newest it reads.
 *
 * @example
 * ```ts
 * import { SNAPSHOT_VERSION } from '@kv/core';
 * SNAPSHOT_VERSION; // 1
 * ```
 */
export const SNAPSHOT_VERSION = 1;

// "KVSNAP\r\n": a CR-LF pair catches text-mode transfers that rewrite line endings (as PNG's does).
const MAGIC = [0x4b, 0x56, 0x53, 0x4e, 0x41, 0x50, 0x0d, 0x0a];
const FIXED_HEADER = 32;
const TRAILER = 4;

const DTYPES = {
  f32: Float32Array,
  f64: Float64Array,
  i32: Int32Array,
  u32: Uint32Array,
  i16: Int16Array,
  u16: Uint16Array,
  i8: Int8Array,
  u8: Uint8Array,
} as const;
type DType = keyof typeof DTYPES;
const DTYPE_OF = new Map<string, DType>(Object.entries(DTYPES).map(([k, v]) => [v.name, k as DType]));

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface StateTree {
  s: Record<string, unknown>;
  a: Record<string, [DType, number, number]>;
  p?: Record<string, StateTree>;
}

const align8 = (n: number): number => (n + 7) & ~7;

// JSON has no NaN, ±Infinity or −0; they are written as {"$n": "..."} and read back exactly.
function encodeScalar(v: StateScalar): unknown {
  if (typeof v === 'number') {
    if (Number.isFinite(v) && !Object.is(v, -0)) return v;
    return { $n: Object.is(v, -0) ? '-0' : String(v) };
  }
  if (Array.isArray(v)) return v.map((x) => encodeScalar(x));
  return v;
}

function decodeScalar(v: unknown, where: string): StateScalar {
  if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) {
    const out = v.map((x) => decodeScalar(x, where));
    if (!out.every((x) => typeof x === 'number')) throw new SnapshotError('format', `${where}: a list scalar holds non-numbers`);
    return out as number[];
  }
  if (typeof v === 'object' && Object.keys(v).length === 1 && typeof (v as { $n?: unknown }).$n === 'string') {
    const n = (v as { $n: string }).$n;
    if (n === '-0') return -0;
    if (n === 'NaN' || n === 'Infinity' || n === '-Infinity') return Number(n);
  }
  throw new SnapshotError('format', `${where}: a scalar is ${JSON.stringify(v)}`);
}

/**
 * Encodes a header object and cache states into the binary snapshot format.
 *
 * Layout (little-endian): magic `KVSNAP\r\n` (8 bytes) · u32 format version · u32 header length
 * · u32 section count · u32 reserved (0) · f64 total length · the header as UTF-8 JSON (the
 * caller's fields, plus each state's scalars and a directory of its arrays: dtype, offset from
 * the first section, element count) padded to 8 bytes · the arrays' bytes, each section 8-byte
 * aligned · u32 CRC-32 of every byte before it.
 *
 * @param header - JSON-serialisable fields (spec, dimensions).
 * @param states - The states, stored as `header.states`.
 * @returns The snapshot bytes.
 * @example
 * ```ts
 * import { decodeSnapshot, encodeSnapshot } from '@kv/core';
 * const bytes = encodeSnapshot({ note: 'x' }, [{ scalars: { n: 1 }, arrays: { a: new Float32Array([1, 2]) } }]);
 * decodeSnapshot(bytes).states[0]!.arrays['a']; // Float32Array [1, 2]
 * ```
 */
export function encodeSnapshot(header: Record<string, unknown>, states: readonly CacheState[]): Uint8Array {
  const sections: StateArray[] = [];
  let offset = 0;
  const tree = (state: CacheState): StateTree => {
    const s: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(state.scalars)) s[k] = encodeScalar(v);
    const a: Record<string, [DType, number, number]> = {};
    for (const [k, arr] of Object.entries(state.arrays)) {
      const dtype = DTYPE_OF.get(arr.constructor.name);
      if (dtype === undefined) throw new SnapshotError('format', `array "${k}" is a ${arr.constructor.name}, which snapshots do not hold`);
      a[k] = [dtype, offset, arr.length];
      sections.push(arr);
      offset = align8(offset + arr.byteLength);
    }
    const out: StateTree = { s, a };
    if (state.parts) {
      out.p = {};
      for (const [k, part] of Object.entries(state.parts)) out.p[k] = tree(part);
    }
    return out;
  };
  const json = new TextEncoder().encode(JSON.stringify({ ...header, states: states.map(tree) }));
  const dataStart = align8(FIXED_HEADER + json.length);
  const total = dataStart + offset + TRAILER;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(8, SNAPSHOT_VERSION, true);
  view.setUint32(12, json.length, true);
  view.setUint32(16, sections.length, true);
  view.setFloat64(24, total, true);
  bytes.set(json, FIXED_HEADER);
  bytes.fill(0x20, FIXED_HEADER + json.length, dataStart);
  let at = dataStart;
  for (const arr of sections) {
    const src = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    bytes.set(src, at);
    if (!LITTLE_ENDIAN) swapInPlace(bytes, at, arr.byteLength, arr.BYTES_PER_ELEMENT);
    at = align8(at + arr.byteLength);
  }
  view.setUint32(total - TRAILER, crc32(bytes, 0, total - TRAILER), true);
  return bytes;
}

function swapInPlace(bytes: Uint8Array, start: number, length: number, width: number): void {
  if (width === 1) return;
  for (let i = start; i < start + length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/**
 * What {@link decodeSnapshot} returns: the header fields and the states.
 *
 * @example
 * ```ts
 * import type { DecodedSnapshot } from '@kv/core';
 * const count = (d: DecodedSnapshot) => d.states.length;
 * ```
 */
export interface DecodedSnapshot {
  /** Format version of the file. */
  readonly version: number;
  /** The header fields the writer gave. */
  readonly header: Readonly<Record<string, unknown>>;
  /** The states, with arrays as views of the input where alignment allows (else copies). */
  readonly states: readonly CacheState[];
}

/**
 * Decodes and validates snapshot bytes: length, magic, version, checksum, header and every
 * section are checked before anything is returned.
 *
 * @param bytes - Bytes from {@link encodeSnapshot}.
 * @returns The header and states.
 * @throws {@link SnapshotError} (`truncated`, `magic`, `version`, `checksum` or `format`).
 * @example
 * ```ts
 * import { decodeSnapshot, encodeSnapshot } from '@kv/core';
 * const { header } = decodeSnapshot(encodeSnapshot({ kind: 'demo' }, []));
 * header['kind']; // 'demo'
 * ```
 */
export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot {
  if (!(bytes instanceof Uint8Array)) throw new SnapshotError('format', 'expected the snapshot as a Uint8Array');
  if (bytes.length < FIXED_HEADER + TRAILER) throw new SnapshotError('truncated', `${bytes.length} bytes, shorter than the ${FIXED_HEADER + TRAILER}-byte frame`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new SnapshotError('magic', 'the file does not start with KVSNAP\\r\\n: not a kv snapshot');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version > SNAPSHOT_VERSION) throw new SnapshotError('version', `format version ${version} is newer than ${SNAPSHOT_VERSION}, the newest this build reads`);
  if (version < 1) throw new SnapshotError('format', `format version ${version} is not valid`);
  const total = view.getFloat64(24, true);
  if (total > bytes.length) throw new SnapshotError('truncated', `${bytes.length} bytes, the snapshot says ${total}`);
  if (total !== bytes.length) throw new SnapshotError('format', `${bytes.length} bytes, the snapshot says ${total}`);
  const stored = view.getUint32(total - TRAILER, true);
  const actual = crc32(bytes, 0, total - TRAILER);
  if (stored !== actual) throw new SnapshotError('checksum', `CRC-32 is 0x${stored.toString(16).padStart(8, '0')}, the bytes give 0x${actual.toString(16).padStart(8, '0')}`);
  const jsonLength = view.getUint32(12, true);
  const sectionCount = view.getUint32(16, true);
  const dataStart = align8(FIXED_HEADER + jsonLength);
  if (dataStart > total - TRAILER) throw new SnapshotError('format', `header length ${jsonLength} runs past the end`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(FIXED_HEADER, FIXED_HEADER + jsonLength)));
  } catch (e) {
    throw new SnapshotError('format', `the header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { states?: unknown }).states)) {
    throw new SnapshotError('format', 'the header has no list of states');
  }
  const dataLength = total - TRAILER - dataStart;
  let seen = 0;
  let end = 0;
  const read = (t: unknown, where: string): CacheState => {
    if (typeof t !== 'object' || t === null) throw new SnapshotError('format', `${where}: not a state`);
    const { s, a, p } = t as Partial<StateTree>;
    if (typeof s !== 'object' || s === null || typeof a !== 'object' || a === null) throw new SnapshotError('format', `${where}: a state without scalars or arrays`);
    const scalars: Record<string, StateScalar> = {};
    for (const [k, v] of Object.entries(s)) scalars[k] = decodeScalar(v, `${where}.${k}`);
    const arrays: Record<string, StateArray> = {};
    for (const [k, entry] of Object.entries(a)) {
      if (!Array.isArray(entry) || entry.length !== 3) throw new SnapshotError('format', `${where}.${k}: a malformed array entry`);
      const [dtype, off, length] = entry as unknown[];
      const Ctor = typeof dtype === 'string' && Object.hasOwn(DTYPES, dtype) ? DTYPES[dtype as DType] : undefined;
      if (Ctor === undefined) throw new SnapshotError('format', `${where}.${k}: unknown dtype ${JSON.stringify(dtype)}`);
      if (!Number.isSafeInteger(off) || !Number.isSafeInteger(length) || (off as number) < 0 || (length as number) < 0) {
        throw new SnapshotError('format', `${where}.${k}: offset ${String(off)} or length ${String(length)} is not a count`);
      }
      const byteLength = (length as number) * Ctor.BYTES_PER_ELEMENT;
      // Sections are laid out in directory order, each 8-aligned right after the previous one.
      if (off !== end || (off as number) + byteLength > dataLength) throw new SnapshotError('format', `${where}.${k}: section at ${String(off)} of ${byteLength} bytes does not follow the previous one inside the data`);
      end = align8((off as number) + byteLength);
      seen++;
      const at = bytes.byteOffset + dataStart + (off as number);
      let arr: StateArray;
      if (LITTLE_ENDIAN && at % Ctor.BYTES_PER_ELEMENT === 0) {
        arr = new Ctor(bytes.buffer as ArrayBuffer, at, length as number) as StateArray;
      } else {
        const copy = bytes.slice(dataStart + (off as number), dataStart + (off as number) + byteLength);
        if (!LITTLE_ENDIAN) swapInPlace(copy, 0, byteLength, Ctor.BYTES_PER_ELEMENT);
        arr = new Ctor(copy.buffer, 0, length as number) as StateArray;
      }
      arrays[k] = arr;
    }
    const state: { scalars: typeof scalars; arrays: typeof arrays; parts?: Record<string, CacheState> } = { scalars, arrays };
    if (p !== undefined) {
      if (typeof p !== 'object' || p === null) throw new SnapshotError('format', `${where}: malformed parts`);
      state.parts = {};
      for (const [k, v] of Object.entries(p)) state.parts[k] = read(v, `${where}/${k}`);
    }
    return state;
  };
  const { states: trees, ...header } = parsed as { states: unknown[] } & Record<string, unknown>;
  const states = trees.map((t, i) => read(t, `state ${i}`));
  if (seen !== sectionCount) throw new SnapshotError('format', `the directory lists ${seen} sections, the frame says ${sectionCount}`);
  if (end !== dataLength && align8(end) !== dataLength) throw new SnapshotError('format', `${dataLength - end} bytes of data are not in any section`);
  return { version, header, states };
}
