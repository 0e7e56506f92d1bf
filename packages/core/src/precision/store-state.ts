import type { CacheState, StateArray } from '../contract.js';
import { StateReader } from '../state.js';
import type { HadamardRotation } from './hadamard.js';
import type { RowPools } from './pools.js';
import { precisionLabel } from './spec.js';

/**
 * The state of a store's pools: only live content, in a canonical order (residual oldest first,
 * channel-wise groups in creation order), so a restored store sums in the same order and
 * continues bit for bit.
 *
 * Arrays: `rows` (unmapped stores: the records, Float32 for float32 stores, else bytes), or
 * `residual` (float32 records), `main` (quantized records or groups) and `slots` (each slot's row:
 * ≥ 0 a main row, −1−r the r-th oldest residual row); `positions`; `keySigns`/`valueSigns`
 * (rotation). Byte images of quantized records are little-endian, as WebAssembly memory is.
 * @internal
 */
export function saveStoreState(
  pools: RowPools,
  positions: Int32Array | null,
  keyRotation: HadamardRotation | null,
  valueRotation: HadamardRotation | null,
): CacheState {
  const L = pools.layout;
  const n = pools.count;
  const m = pools.mem;
  const arrays: Record<string, StateArray> = {};
  const scalars: Record<string, number | string> = { count: n, precision: precisionLabel(resolvedOf(pools)) };
  if (!pools.mapped) {
    arrays['rows'] = L.plain ? m.f32.subarray(pools.qBase >> 2, (pools.qBase + n * L.rec) >> 2) : m.u8.subarray(pools.qBase, pools.qBase + n * L.rec);
  } else {
    const fr = L.fRec;
    const residual = new Float32Array((pools.nF * fr) >> 2);
    const rankOf = new Int32Array(pools.fCap);
    for (let r = 0; r < pools.nF; r++) {
      const k = (pools.fHead + r) % pools.fCap;
      rankOf[k] = r;
      residual.set(m.f32.subarray(pools.fAddr(k) >> 2, (pools.fAddr(k) + fr) >> 2), (r * fr) >> 2);
    }
    arrays['residual'] = residual;
    const slots = new Int32Array(n);
    const sd = pools.slots.data;
    if (!L.channel) {
      arrays['main'] = m.u8.subarray(pools.qBase, pools.qBase + pools.nQ * L.rec);
      for (let i = 0; i < n; i++) slots[i] = sd[i]! < 0 ? -1 - rankOf[-1 - sd[i]!]! : sd[i]!;
    } else {
      const G = L.group;
      const gb = L.groupBytes;
      const main = new Uint8Array(pools.usedGroups * gb);
      const indexOf = new Int32Array(pools.groupIds);
      for (let i = 0; i < pools.usedGroups; i++) {
        const g = pools.groupOrder.data[i]!;
        indexOf[g] = i;
        // snapshots hold a group as `G records | key scales` (memory holds its scales first)
        const a = pools.qBase + g * gb;
        main.set(m.u8.subarray(a + L.groupRows, a + gb), i * gb);
        main.set(m.u8.subarray(a, a + L.groupRows), i * gb + gb - L.groupRows);
      }
      arrays['main'] = main;
      for (let i = 0; i < n; i++) {
        const at = sd[i]!;
        if (at < 0) slots[i] = -1 - rankOf[-1 - at]!;
        else {
          const g = (at / G) | 0;
          slots[i] = indexOf[g]! * G + (at - g * G);
        }
      }
    }
    arrays['slots'] = slots;
  }
  if (positions) arrays['positions'] = positions.subarray(0, n);
  if (keyRotation) {
    arrays['keySigns'] = keyRotation.signs;
    arrays['valueSigns'] = valueRotation!.signs;
  }
  return { scalars, arrays };
}

/**
 * Checks a state against a store and loads it; nothing changes when it does not fit.
 * @param state - The state or a reader.
 * @param pools - The store's pools.
 * @param maxSlots - The store's hard limit.
 * @param tracksPositions - Whether the store keeps positions.
 * @param keyRotation - The store's key rotation (its signs must match).
 * @param valueRotation - The store's value rotation.
 * @param prepare - Empties the store and makes room for `rows` slots; returns the positions array.
 * @returns The number of rows loaded.
 * @throws `SnapshotError` when the state does not fit.
 * @internal
 */
export function loadStoreState(
  state: CacheState | StateReader,
  pools: RowPools,
  maxSlots: number,
  tracksPositions: boolean,
  keyRotation: HadamardRotation | null,
  valueRotation: HadamardRotation | null,
  prepare: (rows: number) => Int32Array | null,
): number {
  const r = state instanceof StateReader ? state : new StateReader(state, 'store');
  const L = pools.layout;
  const label = precisionLabel(resolvedOf(pools));
  const got = r.string('precision');
  if (got !== label) r.refuse(`precision is ${got}, this store holds ${label}`);
  const n = r.integer('count', 0, Math.min(maxSlots, 2 ** 31 - 1));
  const positions = tracksPositions ? r.array('positions', Int32Array, n) : null;
  if (keyRotation) {
    const ks = r.array('keySigns', Int8Array, keyRotation.n);
    const vs = r.array('valueSigns', Int8Array, valueRotation!.n);
    for (let j = 0; j < ks.length; j++) if (ks[j] !== keyRotation.signs[j]) r.refuse('rotation signs differ (another seed)');
    for (let j = 0; j < vs.length; j++) if (vs[j] !== valueRotation!.signs[j]) r.refuse('rotation signs differ (another seed)');
  }
  if (!pools.mapped) {
    const rows = L.plain ? r.array('rows', Float32Array, (n * L.rec) >> 2) : r.array('rows', Uint8Array, n * L.rec);
    const pos = prepare(n);
    pools.ensureQ(n);
    pools.mem.u8.set(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength), pools.qBase);
    if (pos && positions) pos.set(positions);
    pools.count = n;
    return n;
  }
  const residual = r.array('residual', Float32Array);
  if (residual.byteLength % L.fRec !== 0) r.refuse('residual is not a whole number of rows');
  const nF = residual.byteLength / L.fRec;
  if (nF > pools.fCap) r.refuse(`residual holds ${nF} rows, more than ${pools.fCap}`);
  const main = r.array('main', Uint8Array);
  const unit = L.channel ? L.groupBytes : L.rec;
  if (main.byteLength % unit !== 0) r.refuse('main is not a whole number of rows');
  const units = main.byteLength / unit;
  const G = L.group;
  const mainRows = L.channel ? units * G : units;
  const slots = r.array('slots', Int32Array, n);
  const seenF = new Uint8Array(nF);
  const seenQ = new Uint8Array(mainRows);
  for (let i = 0; i < n; i++) {
    const at = slots[i]!;
    if (at < 0 ? -1 - at >= nF || seenF[-1 - at]++ > 0 : at >= mainRows || seenQ[at]++ > 0) r.refuse(`slot ${i} points at row ${at}, which is out of range or taken`);
  }
  for (let k = 0; k < nF; k++) if (!seenF[k]) r.refuse(`residual row ${k} belongs to no slot`);
  let dead = 0;
  if (L.channel) {
    for (let g = 0; g < units; g++) {
      let live = 0;
      for (let q = 0; q < G; q++) live += seenQ[g * G + q]!;
      if (live === 0) r.refuse(`group ${g} has no live row`);
      dead += G - live;
    }
    if (dead > pools.deadCap) r.refuse(`${dead} dead rows, more than ${pools.deadCap}`);
  } else if (n - nF !== units) r.refuse(`${units} main rows for ${n - nF} slots`);
  const pos = prepare(n);
  pools.ensureQ(mainRows);
  const m = pools.mem;
  if (L.channel) {
    const gb = L.groupBytes;
    const rows = gb - L.groupRows;
    for (let g = 0; g < units; g++) {
      const a = pools.qBase + g * gb;
      m.u8.set(main.subarray(g * gb, g * gb + rows), a + L.groupRows);
      m.u8.set(main.subarray(g * gb + rows, (g + 1) * gb), a);
    }
  } else m.u8.set(main, pools.qBase);
  if (nF > 0) {
    m.u8.set(new Uint8Array(residual.buffer, residual.byteOffset, residual.byteLength), pools.fBase);
  }
  pools.physQ.ensure(mainRows, Math.max(mainRows, 1));
  pools.physQ.data.fill(-1, 0, mainRows);
  for (let i = 0; i < n; i++) pools.point(i, slots[i]!);
  pools.fHead = 0;
  pools.nF = nF;
  pools.nQ = mainRows;
  if (L.channel) {
    pools.groupIds = units;
    pools.usedGroups = units;
    pools.groupOrder.ensure(units, Math.max(units, 1));
    pools.groupLive.ensure(units, Math.max(units, 1));
    for (let g = 0; g < units; g++) {
      pools.groupOrder.data[g] = g;
      let live = 0;
      for (let q = 0; q < G; q++) live += seenQ[g * G + q]!;
      pools.groupLive.data[g] = live;
    }
    pools.dead = dead;
  }
  if (pos && positions) pos.set(positions);
  pools.count = n;
  return n;
}

const resolvedOf = (pools: RowPools) => pools.layout.precision;
