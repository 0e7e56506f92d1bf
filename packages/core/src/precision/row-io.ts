import { dotUnit } from '../kernels/dot.js';
import type { JsSumsScratch } from './js-sums.js';
import type { RowPools } from './pools.js';

// Row reads and writes of a store's pools, in the stored (rotated) coordinates. A row is named by
// its place `at`: ≥ 0 a main-pool row, < 0 the residual entry −1 − at.

/**
 * Writes a row for `slot`: into a residual entry (mapped stores), else into main row `slot`.
 * @param pools - The pools.
 * @param slot - The slot.
 * @param direct - Copy `key`/`value` as they are (float32 records, no rotation); else encode the
 *   rotated rows in `key64`/`value64`.
 * @internal
 */
export function writeRow(
  pools: RowPools,
  slot: number,
  direct: boolean,
  key: ArrayLike<number>,
  keyOffset: number,
  value: ArrayLike<number>,
  valueOffset: number,
  key64: Float64Array,
  value64: Float64Array,
  logWeight: number,
): void {
  const L = pools.layout;
  const { d, s } = L;
  const m = pools.mem;
  if (pools.mapped || direct) {
    const a = (pools.mapped ? pools.takeResidual(slot) : pools.qAddr(slot)) >> 2;
    const f32 = m.f32;
    if (direct) {
      for (let j = 0; j < d; j++) f32[a + j] = key[keyOffset + j]!;
      for (let j = 0; j < s; j++) f32[a + d + j] = value[valueOffset + j]!;
    } else {
      for (let j = 0; j < d; j++) f32[a + j] = key64[j]!;
      for (let j = 0; j < s; j++) f32[a + d + j] = value64[j]!;
    }
    if (L.weighted) f32[a + d + s] = logWeight;
    return;
  }
  const a = pools.qAddr(slot);
  L.keys.encode(key64, m, a + L.kCode, a + L.kScale);
  L.values.encode(value64, m, a + L.vCode, a + L.vScale);
  if (L.weighted) m.f32[(a + L.lw) >> 2] = logWeight;
}

/**
 * The stored key of row `at`, decoded into `out`.
 * @internal
 */
export function readKeyAt(pools: RowPools, at: number, out: Float64Array): void {
  const L = pools.layout;
  const m = pools.mem;
  if (at < 0) {
    const f = pools.fAddr(-1 - at) >> 2;
    for (let j = 0; j < L.d; j++) out[j] = m.f32[f + j]!;
    return;
  }
  const a = pools.qAddr(at);
  L.keys.decode(m, a + L.kCode, L.channel ? pools.groupScaleAddr(at) : a + L.kScale, out, 0);
}

/**
 * The stored value of row `at`, decoded into `out`.
 * @internal
 */
export function readValueAt(pools: RowPools, at: number, out: Float64Array): void {
  const L = pools.layout;
  const m = pools.mem;
  if (at < 0) {
    const f = (pools.fAddr(-1 - at) >> 2) + L.d;
    for (let j = 0; j < L.s; j++) out[j] = m.f32[f + j]!;
    return;
  }
  const a = pools.qAddr(at);
  L.values.decode(m, a + L.vCode, a + L.vScale, out, 0);
}

/**
 * Byte offset of the log-weight of row `at` (weighted stores).
 * @internal
 */
export function logWeightAddr(pools: RowPools, at: number): number {
  const L = pools.layout;
  return at < 0 ? pools.fAddr(-1 - at) + 4 * (L.d + L.s) : pools.qAddr(at) + L.lw;
}

/**
 * <stored key of row at, q> with the prepared (rotated) query, from the codes.
 * @internal
 */
export function dotAt(pools: RowPools, at: number, x: JsSumsScratch): number {
  const L = pools.layout;
  const m = pools.mem;
  // Float32 rows take dotUnit's order, so they agree with the kernel sums bit for bit.
  if (at < 0) return dotUnit(L.d, m.f32, pools.fAddr(-1 - at) >> 2, x.q, 0);
  const a = pools.qAddr(at);
  if (L.plain) return dotUnit(L.d, m.f32, a >> 2, x.q, 0);
  if (L.channel) {
    const bias = L.keys.foldQuery(m, pools.groupScaleAddr(at), x.q, x.qs);
    return L.keys.codeDot(m.u8, a + L.kCode, x.qs) + bias;
  }
  return L.keys.dot(m, a + L.kCode, a + L.kScale, x.q, x.qsum);
}
