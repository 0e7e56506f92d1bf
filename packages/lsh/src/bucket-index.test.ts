import { Rng } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BucketIndex } from './bucket-index.js';
import { LshTables } from './tables.js';

type Op = { kind: 'insert'; bucket: number } | { kind: 'remove'; pick: number } | { kind: 'swapRemove'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), bucket: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('swapRemove' as const), pick: fc.nat() }),
);

/** Checks the index against a plain model: item → bucket. */
function sameAsModel(index: BucketIndex, model: Map<number, number>): void {
  const buckets = new Set(model.values());
  for (const b of [...buckets, 999]) {
    const want = [...model].filter(([, bb]) => bb === b).map(([i]) => i).sort((x, y) => x - y);
    const got: number[] = [];
    for (let i = index.head(b); i >= 0; i = index.next[i]!) got.push(i);
    expect(got.sort((x, y) => x - y)).toEqual(want);
    expect(index.bucketSize(b)).toBe(want.length);
  }
  expect(index.size).toBe(model.size);
}

describe('BucketIndex', () => {
  it('matches a map model under inserts, removals and swap-removals (bounded and growable)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.boolean(), (ops, growable) => {
        const cap = 24;
        const index = new BucketIndex(growable ? 2 : cap, growable, growable ? Infinity : 64);
        const model = new Map<number, number>();
        // Live ids: `remove` leaves holes (ids need not be dense), `swapRemove` moves the highest
        // live id into the freed one (what SlotStore.removeSwap does).
        let nextId = 0;
        for (const o of ops) {
          const live = [...model.keys()].sort((x, y) => x - y);
          if (o.kind === 'insert') {
            if (!growable && nextId === cap) continue;
            index.insert(nextId, o.bucket);
            model.set(nextId, o.bucket);
            nextId++;
          } else if (live.length > 0) {
            const item = live[o.pick % live.length]!;
            index.remove(item);
            model.delete(item);
            if (o.kind === 'swapRemove') {
              const last = live[live.length - 1]!;
              if (last !== item) {
                index.move(last, item);
                model.set(item, model.get(last)!);
                model.delete(last);
              }
            }
          }
          sameAsModel(index, model);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('holds what it indexes: links per item plus the head table, within its stated bound', () => {
    for (const cells of [64, 2 ** 20]) {
      const index = new BucketIndex(1000, false, cells);
      for (let i = 0; i < 700; i++) index.insert(i, (i * 7919) % cells);
      const held = index.heldBytes(700);
      expect(held).toBeLessThanOrEqual(index.fixedBytes + 700 * index.perItemBytes + 24);
      expect(held).toBeGreaterThanOrEqual(12 * 700);
      expect(index.itemCapacity).toBeLessThan(1000 + 1);
    }
    // A huge limit allocates nothing up front.
    expect(new BucketIndex(2 ** 28, false, 256).itemCapacity).toBe(16);
  });

  it('throws RangeError past a bounded capacity (a caller bug, not user input)', () => {
    const index = new BucketIndex(2);
    index.insert(0, 1);
    index.insert(1, 1);
    expect(() => index.insert(2, 1)).toThrow(RangeError);
  });
});

describe('LshTables', () => {
  it('retrieves an inserted vector from its own query in every table, and forgets removed ones', () => {
    const rng = new Rng(4);
    const tables = new LshTables(8, 3, { kind: 'simhash', hashes: 6 }, new Rng(1), 32);
    const keys = rng.fillGaussian(new Float32Array(32 * 8));
    for (let i = 0; i < 32; i++) tables.insert(i, keys, i * 8);
    tables.remove(5);
    for (const i of [3, 5, 17]) {
      tables.hashQuery(keys.subarray(i * 8, (i + 1) * 8));
      for (let t = 0; t < 3; t++) {
        const found: number[] = [];
        for (let j = tables.head(t); j >= 0; j = tables.indexes[t]!.next[j]!) found.push(j);
        expect(found.includes(i)).toBe(i !== 5);
        expect(tables.cellSize(t)).toBe(found.length);
      }
    }
  });
});
