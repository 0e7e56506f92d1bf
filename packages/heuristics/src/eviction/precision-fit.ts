import { capacityRows, floorBytes, InvalidInputError, isByteBudget, type Budget, type PolicySpec, type PrecisionSpec, SlotStore } from '@kv/core';

/** Largest finite float16. */
const F16_MAX = 65504;

// One step down in fixed bytes: half the residual, then token-wise keys; null at the end.
function smallerPrecision(p: PrecisionSpec): PrecisionSpec | null {
  if ((p.residual ?? 0) > 0) return { ...p, residual: Math.floor((p.residual ?? 0) / 2) };
  if (p.keyGroups === 'channel') return { ...p, keyGroups: 'token' };
  return null;
}

// Rows a precision stages in float32 before they are quantized: the residual, and with
// channel-wise keys the open group.
function stagedRows(p: PrecisionSpec): number {
  return (p.residual ?? 0) + (p.keyGroups === 'channel' ? (p.group ?? 32) : 0);
}

/**
 * The store of an eviction cache at the precision asked for, cut down while its fixed part (the
 * float32 residual, a channel group's staging rows) does not fit the smallest budget, or (byte
 * budgets) leaves it fewer rows than it stages, so that the reserve could never fill and its bytes
 * would hold nothing (KIVI-4 with groups of 8 and a residual of 2 at 1/16 of d = 64 held 1 row
 * until the budget grew past it): the residual halves, then channel-wise keys become token-wise
 * (no staging rows). (Cutting as soon as it takes half of the budget made KIVI-4 worse on real
 * attention: 0.098 vs 0.064 at 1/8.)
 * @param spec - The cache's spec (dimensions, seed).
 * @param budget - The budget it holds to.
 * @param asked - The precision asked for.
 * @param fifo - Whether the cache evicts oldest-first (channel-wise keys need it).
 * @returns The store and whether the precision was cut.
 * @internal
 */
export function fitPrecision(spec: PolicySpec, budget: Budget | undefined, asked: PrecisionSpec, fifo: boolean): { store: SlotStore; cut: boolean } {
  const make = (precision: PrecisionSpec): SlotStore =>
    new SlotStore(spec.keyDim, spec.valueDim, { precision, seed: spec.seed ?? 0, eviction: fifo ? 'fifo' : 'any' });
  let precision = asked;
  let store = make(precision);
  const floor = floorBytes(budget, spec.keyDim, spec.valueDim);
  const unfilled = (st: SlotStore, p: PrecisionSpec): boolean =>
    isByteBudget(budget) && capacityRows(budget, 0, { fixed: st.fixedBytes, perRow: st.perRowBytes }, spec.keyDim, spec.valueDim) < stagedRows(p);
  for (let next = smallerPrecision(precision); (store.fixedBytes > floor || unfilled(store, precision)) && next !== null; next = smallerPrecision(precision)) {
    precision = next;
    store = make(precision);
  }
  return { store, cut: precision !== asked };
}

/**
 * Refuses a row a float16 store cannot hold (values past 65504; after rotation, coordinates are
 * bounded by the row's norm) before anything is evicted, so a rejected token changes nothing.
 * @param store - The store.
 * @param policy - Policy name, for the message.
 * @param key - The key.
 * @param value - The value.
 * @throws `InvalidInputError` when the row does not fit float16.
 * @internal
 */
export function checkEncodable(store: SlotStore, policy: string, key: Float32Array, value: Float32Array): void {
  const p = store.precision;
  if (p.keys !== 'f16' && p.values !== 'f16') return;
  const big = (x: Float32Array): boolean => {
    let m = 0;
    let sq = 0;
    for (let j = 0; j < x.length; j++) {
      m = Math.max(m, Math.abs(x[j]!));
      sq += x[j]! * x[j]!;
    }
    return (p.rotate ? Math.sqrt(sq) : m) > F16_MAX;
  };
  if ((p.keys === 'f16' && big(key)) || (p.values === 'f16' && big(value))) {
    throw new InvalidInputError(`${policy}: a float16 row holds values up to ${F16_MAX}${p.rotate ? ' (rotated: a norm up to it)' : ''}`);
  }
}
