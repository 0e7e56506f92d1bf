import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { axpy, copy, nrm2, scal } from './axpy.js';
import { dot, dotUnit } from './dot.js';
import { gemv } from './gemv.js';
import { logAddExp, logSumExp, softmaxInPlace } from './softmax.js';

const EPS32 = 2 ** -24;
const EPS64 = 2 ** -53;
const f32 = (n: number) =>
  fc.float32Array({ minLength: n, maxLength: n, min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true });
const vecPair = fc.integer({ min: 1, max: 70 }).chain((n) => fc.tuple(f32(n), f32(n)));

function naiveDot(x: ArrayLike<number>, y: ArrayLike<number>): { value: number; abs: number } {
  let value = 0;
  let abs = 0;
  for (let i = 0; i < x.length; i++) {
    value += x[i]! * y[i]!;
    abs += Math.abs(x[i]! * y[i]!);
  }
  return { value, abs };
}

describe('dot', () => {
  it('matches a naive Float64 sum within n·eps·Σ|x_i y_i|', () => {
    fc.assert(
      fc.property(vecPair, ([x, y]) => {
        const { value, abs } = naiveDot(x, y);
        expect(Math.abs(dot(x.length, x, 1, 0, y, 1, 0) - value)).toBeLessThanOrEqual(2 * x.length * EPS64 * abs);
      }),
    );
  });

  it('gives the same result on a strided view as on a dense copy', () => {
    fc.assert(
      fc.property(vecPair, fc.integer({ min: 2, max: 4 }), ([x, y], stride) => {
        const n = x.length;
        const xs = new Float32Array(n * stride + 1);
        const ys = new Float64Array(n * stride + 3);
        for (let i = 0; i < n; i++) {
          xs[1 + i * stride] = x[i]!;
          ys[3 + i * stride] = y[i]!;
        }
        const strided = dot(n, xs, stride, 1, ys, stride, 3);
        const { abs } = naiveDot(x, y);
        expect(Math.abs(strided - dotUnit(n, x, 0, y, 0))).toBeLessThanOrEqual(4 * n * EPS64 * abs);
      }),
    );
  });

  it('is symmetric exactly on the unit-stride path', () => {
    fc.assert(fc.property(vecPair, ([x, y]) => dot(x.length, x, 1, 0, y, 1, 0) === dot(x.length, y, 1, 0, x, 1, 0)));
  });

  it('walks negative strides backwards', () => {
    const x = new Float32Array([1, 2, 3]);
    const y = new Float32Array([1, 10, 100]);
    expect(dot(3, x, -1, 2, y, 1, 0)).toBe(3 + 20 + 100);
  });
});

describe('axpy, scal, copy, nrm2', () => {
  it('axpy adds alpha·x exactly per element in Float64', () => {
    fc.assert(
      fc.property(vecPair, fc.double({ min: -10, max: 10, noNaN: true }), ([x, y], alpha) => {
        const out = Float64Array.from(y);
        axpy(x.length, alpha, x, 1, 0, out, 1, 0);
        for (let i = 0; i < x.length; i++) expect(out[i]).toBe(y[i]! + alpha * x[i]!);
      }),
    );
  });

  it('scal, copy and strided axpy agree with their definitions', () => {
    const x = new Float64Array([1, -2, 3, -4]);
    expect([...scal(2, 3, x, 2, 0)]).toEqual([3, -2, 9, -4]);
    expect([...copy(2, new Float32Array([5, 6]), 1, 0, new Float32Array(4), 2, 1)]).toEqual([0, 5, 0, 6]);
    expect([...axpy(2, 2, new Float32Array([1, 0, 1]), 2, 0, new Float64Array([1, 1]), 1, 0)]).toEqual([3, 3]);
  });

  it('nrm2 neither overflows nor underflows', () => {
    expect(nrm2(2, new Float64Array([3e200, 4e200]), 1, 0)).toBeCloseTo(5e200, -190);
    expect(nrm2(2, new Float64Array([3e-200, 4e-200]), 1, 0) / 5e-200).toBeCloseTo(1, 12);
    expect(nrm2(0, new Float64Array(0), 1, 0)).toBe(0);
  });
});

describe('gemv', () => {
  const matrix = fc
    .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }))
    .chain(([M, N]) => fc.tuple(fc.constant(M), fc.constant(N), f32(M * N), f32(N), f32(M)));

  it("'N' and 'T' match naive products on row-major and column-major storage", () => {
    fc.assert(
      fc.property(matrix, ([M, N, A, x, xT]) => {
        const y = gemv('N', M, N, 1, A, N, 1, 0, x, 1, 0, 0, new Float64Array(M), 1, 0);
        const yT = gemv('T', M, N, 1, A, N, 1, 0, xT, 1, 0, 0, new Float64Array(N), 1, 0);
        // The same matrix stored column-major: element (i, j) at j·M + i.
        const Acm = new Float32Array(M * N);
        for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) Acm[j * M + i] = A[i * N + j]!;
        const ycm = gemv('N', M, N, 1, Acm, 1, M, 0, x, 1, 0, 0, new Float64Array(M), 1, 0);
        for (let i = 0; i < M; i++) {
          let want = 0;
          let abs = 0;
          for (let j = 0; j < N; j++) {
            want += A[i * N + j]! * x[j]!;
            abs += Math.abs(A[i * N + j]! * x[j]!);
          }
          expect(Math.abs(y[i]! - want)).toBeLessThanOrEqual(2 * N * EPS64 * abs);
          expect(Math.abs(ycm[i]! - want)).toBeLessThanOrEqual(2 * N * EPS64 * abs);
        }
        for (let j = 0; j < N; j++) {
          let want = 0;
          let abs = 0;
          for (let i = 0; i < M; i++) {
            want += A[i * N + j]! * xT[i]!;
            abs += Math.abs(A[i * N + j]! * xT[i]!);
          }
          expect(Math.abs(yT[j]! - want)).toBeLessThanOrEqual(2 * M * EPS64 * abs);
        }
      }),
    );
  });

  it('applies alpha and beta, and beta = 0 ignores NaN in y', () => {
    const A = new Float32Array([1, 2, 3, 4]);
    const x = new Float32Array([1, 1]);
    expect([...gemv('N', 2, 2, 2, A, 2, 1, 0, x, 1, 0, 0, new Float64Array([NaN, NaN]), 1, 0)]).toEqual([6, 14]);
    expect([...gemv('N', 2, 2, 1, A, 2, 1, 0, x, 1, 0, 0.5, new Float64Array([2, 2]), 1, 0)]).toEqual([4, 8]);
    expect([...gemv('T', 2, 2, 1, A, 2, 1, 0, x, 1, 0, 1, new Float32Array([1, 1]), 1, 0)]).toEqual([5, 7]);
  });
});

describe('softmax and log-sum-exp', () => {
  it('softmax sums to 1 and never overflows, for logits up to 1e30', () => {
    fc.assert(
      fc.property(
        fc.float64Array({ minLength: 1, maxLength: 50, min: -1e30, max: 1e30, noNaN: true, noDefaultInfinity: true }),
        (x) => {
          const p = Float64Array.from(x);
          const lse = softmaxInPlace(p.length, p, 0);
          let total = 0;
          for (const v of p) {
            expect(v).toBeGreaterThanOrEqual(0);
            total += v;
          }
          expect(Math.abs(total - 1)).toBeLessThanOrEqual(p.length * 4 * EPS64);
          expect(Number.isFinite(lse)).toBe(true);
          expect(lse).toBe(logSumExp(x.length, x, 0));
        },
      ),
    );
  });

  it('logAddExp is exact at the extremes', () => {
    expect(logAddExp(1e4, 1e4)).toBe(1e4 + Math.LN2);
    expect(logAddExp(-Infinity, 3)).toBe(3);
    expect(logAddExp(3, -Infinity)).toBe(3);
    expect(logSumExp(0, new Float64Array(0), 0)).toBe(-Infinity);
    expect(Math.abs(logAddExp(0, Math.log(3)) - Math.log(4))).toBeLessThanOrEqual(4 * EPS64);
  });

  it('float32 storage loses no precision in Float64 accumulation', () => {
    const x = new Float32Array(1024).fill(1 + EPS32 * 2);
    expect(dot(1024, x, 1, 0, new Float32Array(1024).fill(1), 1, 0)).toBe(1024 * (1 + EPS32 * 2));
  });
});
