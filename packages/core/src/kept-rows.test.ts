import { describe, expect, it } from 'vitest';
import { InvalidInputError, UnsupportedError } from './errors.js';
import { ExactCache } from './exact.js';
import { checkRowRange, readKeptRows } from './kept-rows.js';
import type { Precision } from './precision/spec.js';
import { Rng } from './rng.js';
import { SlotStore } from './slot-store.js';

const d = 32;
const s = 16;

function filled(n: number, precision?: Precision, extra: object = {}): { store: SlotStore; keys: Float32Array; values: Float32Array } {
  const rng = new Rng(11);
  const keys = rng.fillGaussian(new Float32Array(n * d), 1);
  const values = rng.fillGaussian(new Float32Array(n * s), 1);
  const store = new SlotStore(d, s, { precision, seed: 3, ...extra });
  for (let i = 0; i < n; i++) store.push(keys, i * d, values, i * s, 100 + i, 0);
  return { store, keys, values };
}

describe('SlotStore.keptRows', () => {
  // 300 rows: the store lives in WebAssembly memory; 20 rows: plain memory.
  const cases: [string, Precision | undefined, object][] = [
    ['f32', undefined, {}],
    ['int8', 'int8', {}],
    ['int4 rotated', { keys: 'int4', rotate: true }, {}],
    ['int2 with a residual', { keys: 'int2', residual: 16 }, {}],
    ['KIVI int4 (channel-wise keys)', { keys: 'int4', keyGroups: 'channel', residual: 8 }, { eviction: 'fifo' }],
  ];
  for (const n of [20, 300]) {
    for (const [name, precision, extra] of cases) {
      it(`decodes every row as readKey/readValue do, in slot order, over any range (${name}, ${n} rows)`, () => {
        const { store, keys, values } = filled(n, precision, extra);
        // Evict a few rows out of order where the store allows it, so slot order is not push order.
        if (!('eviction' in extra)) for (const slot of [3, 0, 7]) store.removeSwap(slot);
        const count = store.count;
        const k = new Float32Array(count * d);
        const v = new Float32Array(count * s);
        expect(store.keptRows(k, v)).toBe(count);
        const key = new Float32Array(d);
        const value = new Float32Array(s);
        const positions = store.positions();
        for (let i = 0; i < count; i++) {
          expect([...k.subarray(i * d, (i + 1) * d)]).toEqual([...store.readKey(i, key)]);
          expect([...v.subarray(i * s, (i + 1) * s)]).toEqual([...store.readValue(i, value)]);
        }
        if (precision === undefined) {
          // Float32 rows come back as they were pushed (position p is row p − 100).
          for (let i = 0; i < count; i++) {
            const p = positions[i]! - 100;
            expect([...k.subarray(i * d, (i + 1) * d)]).toEqual([...keys.subarray(p * d, (p + 1) * d)]);
            expect([...v.subarray(i * s, (i + 1) * s)]).toEqual([...values.subarray(p * s, (p + 1) * s)]);
          }
        }
        // A sub-range lands at the start of the destinations.
        const k2 = new Float32Array(5 * d).fill(NaN);
        const v2 = new Float32Array(5 * s).fill(NaN);
        expect(store.keptRows(k2, v2, count - 5, count)).toBe(count);
        expect([...k2]).toEqual([...k.subarray((count - 5) * d)]);
        expect([...v2]).toEqual([...v.subarray((count - 5) * s)]);
      });
    }
  }

  it('counts the rows with empty destinations and refuses bad ranges and short destinations, writing nothing', () => {
    const { store } = filled(10);
    const empty = new Float32Array(0);
    expect(store.keptRows(empty, empty, 0, 0)).toBe(10);
    expect(store.keptRows(empty, empty, 10, 10)).toBe(10);
    const k = new Float32Array(10 * d).fill(7);
    const v = new Float32Array(10 * s).fill(7);
    for (const [start, end] of [[-1, 2], [3, 2], [0, 11], [0.5, 2]] as const) {
      expect(() => store.keptRows(k, v, start, end)).toThrow(InvalidInputError);
    }
    expect(() => store.keptRows(k.subarray(0, 9 * d), v)).toThrow(/10 rows need 320 key and 160 value floats/);
    expect(() => store.keptRows(k, new Float64Array(10 * s) as unknown as Float32Array)).toThrow(InvalidInputError);
    expect(k.every((x) => x === 7) && v.every((x) => x === 7)).toBe(true);
  });
});

describe('readKeptRows', () => {
  it('reads a range across parts as one sequence, skipping missing parts', () => {
    const a = filled(6).store;
    const b = filled(4, 'f16').store;
    const all = { k: new Float32Array(10 * d), v: new Float32Array(10 * s) };
    expect(readKeptRows([a, null, b], d, s, all.k, all.v)).toBe(10);
    const k = new Float32Array(4 * d);
    const v = new Float32Array(4 * s);
    expect(readKeptRows([a, null, b], d, s, k, v, 4, 8)).toBe(10);
    expect([...k]).toEqual([...all.k.subarray(4 * d, 8 * d)]);
    expect([...v]).toEqual([...all.v.subarray(4 * s, 8 * s)]);
    expect([...all.k.subarray(6 * d, 7 * d)]).toEqual([...b.readKey(0, new Float32Array(d))]);
  });

  it('refuses a part that keeps no rows (a summary), and a range past the rows', () => {
    const a = filled(3).store;
    const summary: { keptRows?: undefined; stored: number } = { stored: 1 };
    const none = new Float32Array(0);
    expect(() => readKeptRows([a, summary], d, s, none, none)).toThrow(UnsupportedError);
    expect(() => readKeptRows([a], d, s, new Float32Array(4 * d), new Float32Array(4 * s), 0, 4)).toThrow(InvalidInputError);
    expect(checkRowRange(3, d, s, none, none, 3)).toEqual({ start: 3, end: 3 });
  });
});

describe('ExactCache.keptRows', () => {
  it('gives back every appended token in order, with positions 0…n−1', () => {
    const cache = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s });
    const rng = new Rng(2);
    const keys = rng.fillGaussian(new Float32Array(300 * d), 1);
    const values = rng.fillGaussian(new Float32Array(300 * s), 1);
    cache.prefill(keys, values);
    const k = new Float32Array(300 * d);
    const v = new Float32Array(300 * s);
    expect(cache.keptRows(k, v)).toBe(300);
    expect([...k]).toEqual([...keys]);
    expect([...v]).toEqual([...values]);
    expect([...cache.positions()]).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });
});
