import { fc, test } from '@fast-check/vitest';
import { Rng } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { createMatvecKernels, type MatrixParts } from './matvec.js';

const U = 2 ** -24; // unit roundoff of float32

function randomMatrix(rng: Rng, partRows: number[], cols: number, scale: number): MatrixParts {
  return { cols, parts: partRows.map((r) => Float32Array.from({ length: r * cols }, () => rng.gaussian() * scale)) };
}

// Exact products in float64 (f32·f32 is exact in f64, and the sums here are far from f64's limit),
// with Σ|w·x| per row for the rounding bound.
function reference(m: MatrixParts, x: Float32Array): { y: Float64Array; abs: Float64Array } {
  const rows = m.parts.reduce((a, p) => a + p.length / m.cols, 0);
  const y = new Float64Array(rows);
  const abs = new Float64Array(rows);
  let r = 0;
  for (const p of m.parts) {
    for (let i = 0; i < p.length / m.cols; i++, r++) {
      for (let j = 0; j < m.cols; j++) {
        y[r] += p[i * m.cols + j]! * x[j]!;
        abs[r] += Math.abs(p[i * m.cols + j]! * x[j]!);
      }
    }
  }
  return { y, abs };
}

describe('matrix-vector kernels', () => {
  it('uses WebAssembly SIMD on Node 20 and packs the weights in whole blocks', () => {
    const rng = new Rng(3);
    const k = createMatvecKernels([randomMatrix(rng, [5, 7], 10, 1)], true);
    expect(k.backend).toBe('wasm');
    // 12 rows -> 2 blocks of 8; 10 columns -> 3 chunks of 4; 4 bytes each.
    expect(k.packedBytes).toBe(2 * 3 * 8 * 4 * 4);
    expect(createMatvecKernels([randomMatrix(rng, [5], 10, 1)], false).backend).toBe('js');
  });

  // A float32 sum of n products is within γ_{n+1}·Σ|w·x| of the exact value (each product and each
  // addition rounds once), whatever the order: the bound both backends must meet.
  test.prop(
    [
      fc.array(fc.integer({ min: 1, max: 19 }), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 1, max: 37 }),
      fc.integer({ min: 1, max: 1000 }),
      fc.constantFrom(1e-3, 1, 1e3),
    ],
    { numRuns: 60 },
  )('both backends are within the float32 rounding bound of the exact product, for any shape', (partRows, cols, seed, scale) => {
    const rng = new Rng(seed);
    const m = randomMatrix(rng, partRows, cols, scale);
    const x = Float32Array.from({ length: cols }, () => rng.gaussian());
    const { y, abs } = reference(m, x);
    const gamma = ((cols + 1) * U) / (1 - (cols + 1) * U);
    for (const wasm of [true, false]) {
      const k = createMatvecKernels([m], wasm).matrices[0]!;
      expect(k.rows).toBe(y.length);
      expect(k.output).toHaveLength(y.length);
      k.input.set(x);
      const out = k.run();
      for (let r = 0; r < y.length; r++) expect(Math.abs(out[r]! - y[r]!), `row ${r} wasm=${wasm}`).toBeLessThanOrEqual(gamma * abs[r]! + 1e-30);
    }
  });

  it('gives the same bits on every call, and each matrix keeps its own input and output', () => {
    const rng = new Rng(11);
    const k = createMatvecKernels([randomMatrix(rng, [24], 16, 1), randomMatrix(rng, [8, 8], 24, 1)], true);
    const [a, b] = k.matrices as [(typeof k.matrices)[0], (typeof k.matrices)[0]];
    a.input.set(Float32Array.from({ length: 16 }, () => rng.gaussian()));
    const first = a.run().slice();
    b.input.set(first);
    const fromB = b.run().slice();
    expect(Array.from(a.output)).toEqual(Array.from(first)); // b did not touch a's output
    expect(Array.from(a.run())).toEqual(Array.from(first));
    expect(Array.from(b.run())).toEqual(Array.from(fromB));
  });

  it('is exact on small integers, the rows of a partial block and the columns of a partial chunk included', () => {
    // 9 rows (one full block of 8 and one row of the next) by 5 columns (a chunk and one column).
    const m: MatrixParts = { cols: 5, parts: [Float32Array.from({ length: 45 }, (_, i) => ((i * 5) % 7) - 3)] };
    for (const wasm of [true, false]) {
      const k = createMatvecKernels([m], wasm).matrices[0]!;
      k.input.set([1, -2, 3, 4, 5]);
      expect(Array.from(k.run())).toEqual(Array.from(reference(m, k.input).y));
    }
  });
});
