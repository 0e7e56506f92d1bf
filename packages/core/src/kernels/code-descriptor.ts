// The code kernel's descriptor: which bit widths it reads and where a store's fields and scratch are.
import type { RowLayout } from '../precision/row-layout.js';
import type { RowMemory } from './row-memory.js';

/** Rows per block of the blocked online log-sum-exp; the scratch for logits holds one block. */
export const ATTENTION_BLOCK = 256;

/** Bit widths of keys and values the code kernel reads (32: float32). @internal */
export interface CodeSides {
  readonly k: number;
  readonly v: number;
}

/** The scratch areas at the start of a store's kernel memory. @internal */
export type ScratchArea = 'qf' | 'qsum' | 'w' | 'acc' | 'zacc' | 'vsc' | 'ksc' | 'tot' | 'desc' | 'q64' | 'w64' | 'acc64' | 'qs' | 'qh' | 'ql' | 'vh' | 'vl' | 'atab';

/** Byte offsets of the code kernel's descriptor fields (codes.wat describes them). @internal */
export const D = {
  stride: 0, d: 4, s: 8, kbits: 12, vbits: 16, kcode: 20, vcode: 24, kscale: 28, vscale: 32, lw: 36,
  kgroups: 40, vgroups: 44, half: 48, kg16: 52, block: 56, q: 60, qsum: 64, w: 68, acc: 72, zacc: 76,
  vsc: 80, bias: 84, vg16: 88, ksc: 92, qh: 96, ql: 100, vh: 108, vl: 112, atab: 116, qmax: 124,
} as const;

/**
 * Writes the code kernel's descriptor of a store (its layout and the scratch offsets) at `o.desc`.
 * @param L - The rows' layout.
 * @param m - The store's memory views (the kernel instance's memory).
 * @param o - Byte offsets of the scratch areas.
 * @param codeSides - The bit widths the kernel reads (null: float32 records only).
 * @internal
 */
export function writeCodeDescriptor(L: RowLayout, m: RowMemory, o: Readonly<Record<ScratchArea, number>>, codeSides: CodeSides | null): void {
  const i32 = m.i32;
  const at = o.desc >> 2;
  const set = (field: number, v: number) => {
    i32[at + (field >> 2)] = v;
  };
  const sides = codeSides ?? { k: 32, v: 32 };
  set(D.stride, L.rec);
  set(D.d, L.d);
  set(D.s, L.s);
  set(D.kbits, sides.k);
  set(D.vbits, sides.v);
  set(D.kcode, L.kCode);
  set(D.vcode, L.vCode);
  set(D.kscale, L.kScale);
  set(D.vscale, L.vScale);
  set(D.lw, L.weighted ? L.lw : -1);
  set(D.kgroups, L.channel ? 0 : L.keys.groups);
  set(D.vgroups, L.values.groups);
  set(D.half, L.keys.halfScales ? 1 : 0);
  set(D.kg16, L.channel ? L.d / 16 : Math.min(L.keys.group, L.d) / 16);
  set(D.vg16, Math.min(L.values.group, L.s) / 16);
  set(D.block, ATTENTION_BLOCK);
  set(D.q, o.qf);
  set(D.qsum, o.qsum);
  set(D.w, o.w);
  set(D.acc, o.acc);
  set(D.zacc, o.zacc);
  set(D.vsc, o.vsc);
  set(D.ksc, o.ksc);
  set(D.qh, o.qh);
  set(D.ql, o.ql);
  set(D.vh, o.vh);
  set(D.vl, o.vl);
  set(D.atab, o.atab);
  m.f32[(o.desc + D.bias) >> 2] = 0;
  // Channel-wise keys: one "group" per row with lo = 0 and step = 1 for the four rows (the query
  // is folded into the group's steps instead).
  if (L.channel) m.f32.set([0, 0, 0, 0, 1, 1, 1, 1], o.ksc >> 2);
}

// The bit widths the code kernel reads for keys and values (32: float32), or null when a side is
// stored in a way it does not read (f16 elements, 3 bits, Lloyd–Max levels, other packings).
/**
 * The bit widths the code kernel reads for keys and values (32: float32), or null.
 * @param L - The rows' layout.
 * @returns The widths, or null when a side is stored in a way the kernel does not read.
 * @internal
 */
export function codeSides(L: RowLayout): CodeSides | null {
  if (L.plain) return null;
  const side = (c: RowLayout['keys'], length: number): number | null => {
    if (c.codec === 'f32') return length % 4 === 0 ? 32 : null;
    if (!c.integer || c.levels !== null || c.bits === 3) return null;
    const p = c.planes[0]!;
    if (p.width !== 16 || p.bytes % 16 !== 0 || length % 16 !== 0) return null;
    // Scale groups of whole 16-channel fields that tile the row, small enough for exact i32 key sums.
    if (c.axis === 'token' && (c.group % 16 !== 0 || (c.group < length && length % c.group !== 0) || Math.min(c.group, length) > 256)) return null;
    if (c.axis === 'channel' && length > 256) return null;
    return c.bits;
  };
  const k = side(L.keys, L.d);
  const v = side(L.values, L.s);
  if (k === null || v === null) return null;
  return { k, v };
}

/**
 * Whether the code kernel sums a store's values with its 4-bit kernels (4-bit codes in scale groups
 * of a multiple of 32 channels, as codes-int4.wat requires).
 * @param L - The rows' layout.
 * @param sides - The bit widths the kernel reads (null: none).
 * @returns True for the 4-bit value path.
 * @internal
 */
export function fourBitValues(L: RowLayout, sides: CodeSides | null): boolean {
  return sides !== null && sides.v === 4 && (Math.min(L.values.group, L.s) / 16) % 2 === 0;
}
