import { describe, expect, it } from 'vitest';
import type { Precision } from '../precision/spec.js';
import { Rng } from '../rng.js';
import { SlotStore } from '../slot-store.js';
import { createKernelSums } from '../sums.js';
import { GrowableInts, RowMemory } from './row-memory.js';
import { ATTENTION_WASM } from './wasm-attention-bytes.js';
import { WasmSimdModule } from './wasm-module.js';

const usesWasm = (store: SlotStore) => (store as unknown as { kernels: { active: boolean } }).kernels.active;

describe('stores with huge limits', () => {
  // V8 refuses a resizable buffer's maxByteLength above 2^32 bytes; a budget of a billion tokens
  // used to turn into one ("Invalid array buffer max length") at the first push.
  const precisions: (Precision | undefined)[] = [undefined, 'int4', { keys: 'int4', residual: 32 }, { keys: 'int8', keyGroups: 'channel' }];
  for (const precision of precisions) {
    it(`answers like a small store at any finite limit (${JSON.stringify(precision ?? 'f32')})`, () => {
      const d = 32;
      const rng = new Rng(5);
      const keys = rng.fillGaussian(new Float32Array(300 * d), 1);
      const values = rng.fillGaussian(new Float32Array(300 * d), 1);
      const query = rng.fillGaussian(new Float32Array(d), 1);
      const eviction = 'fifo' as const;
      const make = (maxSlots: number, limit?: number) => {
        const store = new SlotStore(d, d, { maxSlots, precision, eviction });
        if (limit !== undefined) store.limit = limit;
        for (let i = 0; i < 300; i++) store.push(keys, i * d, values, i * d, i, 0);
        return store;
      };
      const small = make(300);
      const expected = small.sums(query, 0.2, createKernelSums(d));
      for (const store of [make(1e9), make(2 ** 40), make(Infinity, 1e9), make(Number.MAX_SAFE_INTEGER)]) {
        expect(usesWasm(store)).toBe(usesWasm(small));
        expect(store.heldBytes).toBe(small.heldBytes);
        const got = store.sums(query, 0.2, createKernelSums(d));
        expect(got.m).toBe(expected.m);
        expect(got.z).toBe(expected.z);
        expect([...got.n]).toEqual([...expected.n]);
      }
    });
  }
});

describe('RowMemory', () => {
  it('leaves a WebAssembly memory that cannot grow for a plain buffer, rows intact', () => {
    const module = new WasmSimdModule(ATTENTION_WASM);
    const mem = new RowMemory(1 << 20);
    expect(mem.ensure(4096, Infinity)).toBe(true);
    for (let i = 0; i < 1024; i++) mem.i32[i] = i * 7;
    expect(mem.moveToWasm(module, 4096, 0, 8192, 64)).toBe(true);
    expect(mem.instance).not.toBeNull();
    expect(mem.ensure(1 << 19, Infinity)).toBe(true);
    expect(mem.instance).not.toBeNull();
    // Past the WebAssembly limit: a plain buffer, the same bytes.
    expect(mem.ensure(3 << 20, Infinity)).toBe(true);
    expect(mem.instance).toBeNull();
    expect(mem.byteLength).toBeGreaterThanOrEqual(3 << 20);
    for (let i = 0; i < 1024; i++) expect(mem.i32[i]).toBe(i * 7);
    // It can grow on from there.
    mem.i32[(3 << 18) - 1] = 42;
    expect(mem.ensure(5 << 20, Infinity)).toBe(true);
    expect(mem.i32[(3 << 18) - 1]).toBe(42);
  });

  it('grows bookkeeping arrays under any cap, keeping their entries', () => {
    for (const cap of [64, 1e9, 2 ** 40, Infinity]) {
      const ints = new GrowableInts();
      for (let n = 1; n <= 64; n++) {
        ints.ensure(n, cap);
        ints.data[n - 1] = n;
      }
      expect(ints.data.length).toBeGreaterThanOrEqual(64);
      for (let i = 0; i < 64; i++) expect(ints.data[i]).toBe(i + 1);
    }
  });
});
