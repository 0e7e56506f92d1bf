import { describe, expect, it } from 'vitest';
import { TraceFormatError } from '../errors.js';
import { float16Bits, readNpy, writeNpy } from './npy.js';
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

describe('float16', () => {
  it('rounds to the nearest half, ties to even, with overflow, subnormals and NaN', () => {
    expect([1, -2, 0.5, 65504, 65519, 65520, 1e6, -1e6].map(float16Bits)).toEqual([0x3c00, 0xc000, 0x3800, 0x7bff, 0x7bff, 0x7c00, 0x7c00, 0xfc00]);
    expect([0, -0, 2 ** -24, 2 ** -25, 2 ** -25 * 1.01, 1e-9, 2 ** -14].map(float16Bits)).toEqual([0, 0x8000, 1, 0, 1, 0, 0x0400]);
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1).
    expect(float16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(float16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(float16Bits(Infinity)).toBe(0x7c00);
    expect(float16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(float16Bits(NaN) & 0x3ff).not.toBe(0);
  });

  it('every finite half round-trips through the .npy reader bit for bit', () => {
    const bits = Uint16Array.from({ length: 0x10000 }, (_, i) => i).filter((b) => (b & 0x7c00) !== 0x7c00);
    // Decode with the reader, encode again.
    const file = new Uint8Array(writeNpy(new Float32Array(0), [0], 'f2'));
    expect(readNpy(file).dtype).toBe('f2');
    const halves = readNpy(npyBytes({ version: 1, descr: '<f2', shape: [bits.length], data: bits })).data;
    for (let i = 0; i < bits.length; i++) if (float16Bits(halves[i]!) !== bits[i]) throw new Error(`0x${bits[i]!.toString(16)} -> ${halves[i]} -> 0x${float16Bits(halves[i]!).toString(16)}`);
  });

  it('writes float16 .npy at half the size, within half a unit in the last place', () => {
    const x = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 30);
    const half = writeNpy(x, [10, 100], 'f2');
    expect(half.length).toBeLessThan(writeNpy(x, [10, 100]).length / 2 + 128);
    const back = readNpy(half);
    expect(back.shape).toEqual([10, 100]);
    for (let i = 0; i < x.length; i++) expect(Math.abs(back.data[i]! - x[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) * 2 ** -11 + 2 ** -25);
  });
});
