import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBudget } from './budgets.js';
import { demoConfig, demoSamplePath } from './demo.js';
import { buildWorkload } from './workloads/build.js';
import { readNpy } from './workloads/npy.js';
import { streamRadius } from './workloads/synthetic.js';
import type { WorkloadSpec } from './workloads/types.js';

describe('demo', () => {
  it('ranks at 1/4, 1/8 and 1/16 of the float32 bytes, on the committed real-attention sample first', () => {
    expect(demoConfig.budgets!.map((b) => parseBudget(b))).toEqual([
      { kind: 'fraction', value: 1 / 4, label: '1/4' },
      { kind: 'fraction', value: 1 / 8, label: '1/8' },
      { kind: 'fraction', value: 1 / 16, label: '1/16' },
    ]);
    const first = demoConfig.workloads![0] as WorkloadSpec;
    expect(first).toEqual({ family: 'npy', name: 'real attention', path: demoSamplePath() });
    expect(demoConfig.workloads!.slice(1).map((w) => (w as WorkloadSpec).family)).toEqual(['gaussian', 'heavy-hitters', 'index']);
  });

  it('the committed sample: 4 heads of the tiny model, 1024 tokens, d = 64, stored as float16', () => {
    const w = buildWorkload(demoConfig.workloads![0] as WorkloadSpec, 0);
    expect(w.heads.map((h) => h.label)).toEqual(['L0.H0', 'L1.H0', 'L2.H0', 'L3.H0']);
    expect([w.length, w.keyDim, w.valueDim, w.tau]).toEqual([1024, 64, 64, 0.125]);
    expect(readNpy(readFileSync(join(demoSamplePath(), 'L2.H0.k.npy'))).dtype).toBe('f2');
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    for (const h of w.heads) {
      // Float16 values: a normal half has 10 mantissa bits, so the 13 low bits of its float32 are 0.
      let notHalf = 0;
      for (const a of [h.queries, h.keys, h.values]) {
        for (const x of a) {
          f[0] = x;
          if (Math.abs(x) >= 2 ** -14 && (bits[0]! & 0x1fff) !== 0) notHalf++;
        }
      }
      expect(notHalf).toBe(0);
      expect(streamRadius(h)).toBeGreaterThan(1);
    }
  });
});
