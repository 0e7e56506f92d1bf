import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { ModelCache } from '../container.js';
import { isKvError, KvErrorCode, SnapshotError, UnknownPolicyError } from '../errors.js';
import { exactPolicy } from '../exact.js';
import { PolicyRegistry } from '../registry.js';
import { Rng } from '../rng.js';
import { crc32 } from './crc32.js';
import { decodeSnapshot, encodeSnapshot } from './format.js';
import { restore, restoreModel, snapshot, snapshotModel } from './snapshot.js';

const registry = new PolicyRegistry().register(exactPolicy);
const faultOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof SnapshotError) return e.fault;
    return isKvError(e) ? e.code : `untyped ${String(e)}`;
  }
  return 'accepted';
};

describe('snapshot format', () => {
  it('computes the standard CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    const big = new Rng(1).fillGaussian(new Float32Array(1000));
    const bytes = new Uint8Array(big.buffer);
    // slicing-by-8 and the byte loop agree on every split point
    expect(crc32(bytes, 3, 3999)).toBe(crc32(bytes.slice(3, 3999)));
  });

  it('round-trips every array type and non-finite scalars exactly', () => {
    const state = {
      scalars: { a: 1.5, nan: NaN, inf: Infinity, ninf: -Infinity, nz: -0, s: 'x', b: true, n: null, list: [1, -2, NaN] },
      arrays: {
        f32: new Float32Array([1, NaN, -0]), f64: new Float64Array([Math.PI]), i32: new Int32Array([-7]), u32: new Uint32Array([2 ** 32 - 1]),
        i16: new Int16Array([-3]), u16: new Uint16Array([65535]), i8: new Int8Array([-128]), u8: new Uint8Array([1, 2, 3]),
      },
      parts: { inner: { scalars: { k: 2 }, arrays: { empty: new Float32Array(0) } } },
    };
    const bytes = encodeSnapshot({ tag: 'test' }, [state]);
    const { header, states } = decodeSnapshot(bytes);
    expect(header['tag']).toBe('test');
    const back = states[0]!;
    expect(Object.is(back.scalars['nz'], -0)).toBe(true);
    expect(back.scalars['nan']).toBeNaN();
    expect(back.scalars['ninf']).toBe(-Infinity);
    expect((back.scalars['list'] as number[])[2]).toBeNaN();
    for (const [k, v] of Object.entries(state.arrays)) {
      expect(back.arrays[k]!.constructor).toBe(v.constructor);
      expect([...back.arrays[k]!].map(String)).toEqual([...v].map(String));
    }
    expect(back.parts!['inner']!.arrays['empty']!.length).toBe(0);
    // sections are 8-aligned views of the input, not copies
    expect(back.arrays['f64']!.buffer).toBe(bytes.buffer);
  });

  it('refuses every truncation and single-byte change with a typed error', () => {
    const cache = registry.create({ policy: 'exact', keyDim: 8, valueDim: 8 });
    const rng = new Rng(2);
    for (let t = 0; t < 20; t++) cache.append(rng.fillGaussian(new Float32Array(8)), rng.fillGaussian(new Float32Array(8)));
    const bytes = snapshot(cache);
    for (let cut = 0; cut < bytes.length; cut++) expect(faultOf(() => restore(bytes.subarray(0, cut), registry))).toMatch(/^(truncated|format)$/);
    for (let at = 0; at < bytes.length; at++) {
      const bad = bytes.slice();
      bad[at] = bad[at]! ^ 0x5a;
      expect(faultOf(() => restore(bad, registry)), `byte ${at}`).toMatch(/^(magic|version|truncated|format|checksum)$/);
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(faultOf(() => restore(longer, registry))).toBe('format');
  });

  it('refuses a newer format, a missing policy and other dimensions', () => {
    const cache = registry.create({ policy: 'exact', keyDim: 4, valueDim: 4 });
    cache.append(new Float32Array(4), new Float32Array(4));
    const bytes = snapshot(cache);
    const newer = bytes.slice();
    new DataView(newer.buffer).setUint32(8, 2, true);
    const view = new DataView(newer.buffer);
    view.setUint32(newer.length - 4, crc32(newer, 0, newer.length - 4), true);
    expect(faultOf(() => restore(newer, registry))).toBe('version');
    expect(() => restore(bytes, new PolicyRegistry())).toThrow(UnknownPolicyError);
    expect(faultOf(() => restore(bytes, registry, { valueDim: 8 }))).toBe('mismatch');
    expect(faultOf(() => restore(bytes, registry, { policy: 'h2o' }))).toBe('mismatch');
  });

  test.prop([fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 2 ** 31 - 1 })], { numRuns: 30 })(
    'a restored exact cache continues bit for bit and its snapshot is its bytes plus a small header',
    (n, at, seed) => {
      const rng = new Rng(seed);
      const a = registry.create({ policy: 'exact', keyDim: 6, valueDim: 5 });
      const cut = Math.min(at, n - 1);
      const kv = Array.from({ length: n }, () => [rng.fillGaussian(new Float32Array(6)), rng.fillGaussian(new Float32Array(5)), rng.fillGaussian(new Float32Array(6))] as const);
      for (let t = 0; t <= cut; t++) a.append(kv[t]![0], kv[t]![1]);
      const bytes = snapshot(a);
      expect(bytes.length - a.bytes).toBeLessThanOrEqual(400);
      const b = restore(bytes, registry);
      for (let t = cut + 1; t < n; t++) {
        a.append(kv[t]![0], kv[t]![1]);
        b.append(kv[t]![0], kv[t]![1]);
      }
      const q = kv[n - 1]![2];
      expect([...b.attend(q, new Float32Array(5))]).toEqual([...a.attend(q, new Float32Array(5))]);
    },
  );

  it('saves and restores a whole model cache and checks its shape', () => {
    const model = new ModelCache({ layers: 2, kvHeads: 2, queryHeads: 4, keyDim: 4, valueDim: 4, policy: { policy: 'exact' }, registry });
    const rng = new Rng(3);
    for (let t = 0; t < 5; t++) for (let l = 0; l < 2; l++) model.append(l, rng.fillGaussian(new Float32Array(8)), rng.fillGaussian(new Float32Array(8)));
    const bytes = snapshotModel(model);
    const back = restoreModel(bytes, registry, { layers: 2, kvHeads: 2, queryHeads: 4 });
    const q = rng.fillGaussian(new Float32Array(16));
    expect([...back.attend(1, q, new Float32Array(16))]).toEqual([...model.attend(1, q, new Float32Array(16))]);
    expect(back.bytes).toBe(model.bytes);
    expect(faultOf(() => restoreModel(bytes, registry, { layers: 3 }))).toBe('mismatch');
    expect(faultOf(() => restore(bytes, registry))).toBe('mismatch');
    expect(faultOf(() => restoreModel(snapshot(model.head(0, 0)), registry))).toBe('mismatch');
    expect(isKvError(new SnapshotError('format', 'x'), KvErrorCode.InvalidSnapshot)).toBe(true);
  });
});
