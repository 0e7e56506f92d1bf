import { isKvError, KvErrorCode } from '@kv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelFormatError, UnsupportedDtypeError } from './errors.js';
import { floatToHalf, readSafetensors, writeSafetensors } from './safetensors.js';

function rawFile(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

// The value of a float16 bit pattern, decoded independently of the reader.
function readBack(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return exp === 0 ? sign * frac * 2 ** -24 : sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

describe('safetensors', () => {
  // Every one of the 65536 float16 bit patterns: decoding it (through an F16 file) and encoding
  // the value again gives the same bits (NaNs stay NaN).
  it('float16: every half survives decode then encode bit for bit', () => {
    const all = new Uint8Array(2 * 65536);
    const view = new DataView(all.buffer);
    for (let h = 0; h < 65536; h++) view.setUint16(2 * h, h, true);
    const values = readSafetensors(rawFile({ h: { dtype: 'F16', shape: [65536], data_offsets: [0, all.length] } }, all)).tensors.get('h')!.data;
    const wrong: string[] = [];
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN ? !Number.isNaN(values[h]!) || !Number.isNaN(readBack(floatToHalf(values[h]!))) : floatToHalf(values[h]!) !== h) wrong.push(`0x${h.toString(16)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('float16: encoding gives the nearest half, ties to even, and Infinity past the range', () => {
    const decode = (h: number): number => {
      const b = new Uint8Array(2);
      new DataView(b.buffer).setUint16(0, h, true);
      return readSafetensors(rawFile({ h: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }, b)).tensors.get('h')!.data[0]!;
    };
    fc.assert(
      fc.property(fc.float({ noNaN: true, min: -65504, max: 65504 }), (x) => {
        const x32 = Math.fround(x);
        const h = floatToHalf(x32);
        const err = Math.abs(decode(h) - x32);
        // No other half is nearer, and at a tie the even one wins.
        for (const other of [h - 1, h + 1, h ^ 0x8000]) {
          if (other < 0 || other > 0xffff || (other & 0x7c00) === 0x7c00) continue;
          const e = Math.abs(decode(other) - x32);
          expect(e).toBeGreaterThanOrEqual(err);
          if (e === err && decode(other) !== decode(h)) expect(h & 1).toBe(0);
        }
      }),
      { numRuns: 400 },
    );
    expect(floatToHalf(1e6)).toBe(0x7c00);
    expect(floatToHalf(-1e6)).toBe(0xfc00);
    expect(floatToHalf(65520)).toBe(0x7c00); // halfway between 65504 and 2^16: ties to even = Infinity
    expect(floatToHalf(2 ** -25)).toBe(0); // halfway to the smallest subnormal: ties to even = 0
    expect(floatToHalf(2 ** -25 * 1.5)).toBe(1);
  });

  it('writes F16 tensors at two bytes per value, read back as the nearest float16', () => {
    const data = Float32Array.from([1, 1 / 3, -2.5e-5, 70000]);
    const bytes = writeSafetensors({ w: { shape: [4], data, dtype: 'F16' } });
    const t = readSafetensors(bytes).tensors.get('w')!;
    expect(t.dtype).toBe('F16');
    expect(bytes.length - 8 - Number(new DataView(bytes.buffer).getBigUint64(0, true))).toBe(8);
    expect(t.data[0]).toBe(1);
    expect(Math.abs(t.data[1]! - 1 / 3)).toBeLessThan(2 ** -12);
    expect(t.data[3]).toBe(Number.POSITIVE_INFINITY);
  });

  it('round-trips random F32 tensors and metadata', () => {
    const tensorArb = fc
      .array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 3 })
      .chain((shape) => {
        const n = shape.reduce((a, b) => a * b, 1);
        return fc.tuple(fc.constant(shape), fc.float32Array({ minLength: n, maxLength: n, noDefaultInfinity: true, noNaN: true }));
      });
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== '__metadata__'), tensorArb, { maxKeys: 5 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), (dict, metadata) => {
        const tensors = Object.fromEntries(Object.entries(dict).map(([k, [shape, data]]) => [k, { shape, data }]));
        const bytes = writeSafetensors(tensors, metadata);
        const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        expect(headerLen % 8).toBe(0);
        const back = readSafetensors(bytes);
        expect(back.metadata).toEqual(metadata);
        expect([...back.tensors.keys()]).toEqual(Object.keys(tensors));
        for (const [k, t] of Object.entries(tensors)) {
          const got = back.tensors.get(k)!;
          expect(got.dtype).toBe('F32');
          expect(got.shape).toEqual(t.shape);
          expect(Array.from(got.data)).toEqual(Array.from(t.data));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('reads a subarray view at a non-zero byte offset', () => {
    const file = writeSafetensors({ a: { shape: [3], data: new Float32Array([1, -2, 3.5]) } });
    const host = new Uint8Array(file.length + 3);
    host.set(file, 3);
    expect(Array.from(readSafetensors(host.subarray(3)).tensors.get('a')!.data)).toEqual([1, -2, 3.5]);
  });

  it('converts F16, BF16 and F64 to float32', () => {
    // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 2^-24 (smallest subnormal) = 0x0001, +inf = 0x7c00
    const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00]).buffer);
    // BF16: top 16 bits of float32 1.5 (0x3fc00000) and -0.25 (0xbe800000)
    const bf16 = new Uint8Array(new Uint16Array([0x3fc0, 0xbe80]).buffer);
    const f64 = new Uint8Array(new Float64Array([0.1, -7]).buffer);
    const data = new Uint8Array(f16.length + bf16.length + f64.length);
    data.set(f16, 0);
    data.set(bf16, 8);
    data.set(f64, 12);
    const file = rawFile(
      {
        h: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] },
        b: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] },
        d: { dtype: 'F64', shape: [2], data_offsets: [12, 28] },
      },
      data,
    );
    const t = readSafetensors(file).tensors;
    expect(Array.from(t.get('h')!.data)).toEqual([1, -2, 2 ** -24, Infinity]);
    expect(t.get('h')!.shape).toEqual([2, 2]);
    expect(Array.from(t.get('b')!.data)).toEqual([1.5, -0.25]);
    expect(t.get('d')!.data[0]).toBeCloseTo(0.1, 7);
    expect(t.get('d')!.data[1]).toBe(-7);
  });

  it('rejects unsupported dtypes with a typed error', () => {
    const file = rawFile({ q: { dtype: 'I8', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4));
    expect(() => readSafetensors(file)).toThrow(UnsupportedDtypeError);
    try {
      readSafetensors(file);
    } catch (e) {
      expect(isKvError(e, KvErrorCode.Unsupported)).toBe(true);
    }
  });

  it('rejects truncated or inconsistent files with ModelFormatError', () => {
    expect(() => readSafetensors(new Uint8Array(4))).toThrow(ModelFormatError);
    const good = writeSafetensors({ a: { shape: [4], data: new Float32Array(4) } });
    expect(() => readSafetensors(good.subarray(0, good.length - 1))).toThrow(ModelFormatError);
    const badLen = rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8));
    expect(() => readSafetensors(badLen)).toThrow(ModelFormatError);
    const bigHeader = new Uint8Array(16);
    new DataView(bigHeader.buffer).setBigUint64(0, 1000n, true);
    expect(() => readSafetensors(bigHeader)).toThrow(ModelFormatError);
    const notJson = rawFile({}, new Uint8Array(0));
    notJson[8] = 0x7b + 1;
    expect(() => readSafetensors(notJson)).toThrow(ModelFormatError);
    expect(() => writeSafetensors({ a: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(ModelFormatError);
  });
});
