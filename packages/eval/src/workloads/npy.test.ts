import { describe, expect, it } from 'vitest';
import { TraceFormatError } from '../errors.js';
import { readNpy, writeNpy } from './npy.js';
import { npyBytes } from './npy-spec.test-helper.js';

describe('readNpy', () => {
  const f32 = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 2);
  const f64 = Float64Array.from({ length: 6 }, (_, i) => Math.PI * (i - 3));

  for (const version of [1, 2] as const) {
    it(`reads a v${version}.0 '<f4' C-order file built per numpy's spec`, () => {
      const bytes = npyBytes({ version, descr: '<f4', shape: [3, 4], data: f32 });
      expect(bytes[6]).toBe(version);
      const m = readNpy(bytes);
      expect(m.shape).toEqual([3, 4]);
      expect(m.dtype).toBe('f4');
      expect(m.data).toEqual(f32);
    });
    it(`reads a v${version}.0 '<f8' file, converting to float32`, () => {
      const m = readNpy(npyBytes({ version, descr: '<f8', shape: [2, 3], data: f64 }));
      expect(m.shape).toEqual([2, 3]);
      expect(m.dtype).toBe('f8');
      expect(m.data).toEqual(Float32Array.from(f64));
    });
  }

  it('reads from an unaligned view of a larger buffer', () => {
    const bytes = npyBytes({ version: 1, descr: '<f4', shape: [12], data: f32 });
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    expect(readNpy(big.subarray(3)).data).toEqual(f32);
  });

  it('round-trips writeNpy', () => {
    const m = readNpy(writeNpy(f32, [4, 3]));
    expect(m.shape).toEqual([4, 3]);
    expect(m.data).toEqual(f32);
  });

  it('rejects Fortran order, big-endian, integer dtypes, short data and bad magic with TraceFormatError', () => {
    expect(() => readNpy(npyBytes({ version: 1, descr: '<f4', shape: [3, 4], data: f32, fortran: true }))).toThrow(/fortran_order/);
    expect(() => readNpy(npyBytes({ version: 1, descr: '>f4', shape: [3, 4], data: f32, bigEndian: true }))).toThrow(TraceFormatError);
    expect(() => readNpy(npyBytes({ version: 1, descr: '<i4', shape: [2], data: Int32Array.from([1, 2]) }))).toThrow(/dtype is i4/);
    expect(() => readNpy(npyBytes({ version: 1, descr: '<f4', shape: [5, 4], data: f32 }))).toThrow(/needs 20/);
    expect(() => readNpy(new Uint8Array(64))).toThrow(TraceFormatError);
    expect(() => writeNpy(f32, [5])).toThrow(TraceFormatError);
  });
});
