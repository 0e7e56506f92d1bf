import { readFileSync } from 'node:fs';
import { budgetBytes, ExactCache, PolicyRegistry, restore, Rng, snapshot } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { heuristicPolicies } from './policies.js';

const registry = new PolicyRegistry().register(...heuristicPolicies);

function stream(n: number, d: number, seed: number): { keys: Float32Array[]; values: Float32Array[]; queries: Float32Array[] } {
  const rng = new Rng(seed);
  const gen = (): Float32Array[] => Array.from({ length: n }, () => rng.fillGaussian(new Float32Array(d)));
  return { keys: gen(), values: gen(), queries: gen() };
}

describe('kivi, a preset of the precision layer', () => {
  it('answers exactly as a sliding window storing its rows at KIVI precision', () => {
    const d = 16;
    const { keys, values, queries } = stream(300, d, 1);
    for (const budget of [undefined, 100, { fraction: 1 / 8 }] as const) {
      const kivi = registry.create({ policy: 'kivi', keyDim: d, valueDim: d, params: { bits: 4, group: 8, residual: 8 }, ...(budget ? { budget } : {}) });
      const window = registry.create({
        policy: 'sliding-window', keyDim: d, valueDim: d, budget: budget ?? 300,
        params: { precision: { keys: 'int4', values: 'int4', keyGroups: 'channel', group: 8, residual: 8 } },
      });
      const a = new Float32Array(d);
      const b = new Float32Array(d);
      for (let t = 0; t < 300; t++) {
        kivi.append(keys[t]!, values[t]!);
        window.append(keys[t]!, values[t]!);
        expect(kivi.attend(queries[t]!, a)).toEqual(window.attend(queries[t]!, b));
        if (budget) expect(kivi.bytes).toBeLessThanOrEqual(budgetBytes(budget, t + 1, d, d));
      }
      expect(kivi.positions!()).toEqual(window.positions!());
    }
  });

  it('holds every token without a budget at about bits/32 of the float32 bytes, 8-bit close to exact', () => {
    const d = 64;
    const n = 2048;
    const { keys, values, queries } = stream(n, d, 2);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: d });
    const caches = ([2, 4, 8] as const).map((bits) => registry.create({ policy: 'kivi', keyDim: d, valueDim: d, params: { bits } }));
    for (let t = 0; t < n; t++) {
      exact.append(keys[t]!, values[t]!);
      for (const c of caches) c.append(keys[t]!, values[t]!);
    }
    for (const [i, c] of caches.entries()) {
      expect(c.stored).toBe(n);
      const ratio = exact.bytes / c.bytes;
      const bits = [2, 4, 8][i]!;
      // Codes of `bits` per element, float16 scales per group, a position and a slot-map entry
      // per row, and the float32 residual: under 32 / bits (7.3 for 2 bits at d = 64).
      expect(ratio).toBeGreaterThan(0.4 * (32 / bits));
      expect(ratio).toBeLessThan(32 / bits);
    }
    const want = new Float32Array(d);
    const got = new Float32Array(d);
    let worst = 0;
    for (let t = 0; t < 20; t++) {
      exact.attend(queries[t]!, want);
      caches[2]!.attend(queries[t]!, got);
      let num = 0;
      let den = 0;
      for (let j = 0; j < d; j++) {
        num += (got[j]! - want[j]!) ** 2;
        den += want[j]! ** 2;
      }
      worst = Math.max(worst, Math.sqrt(num / den));
    }
    expect(worst).toBeLessThan(0.02);
  });

  it('cuts a float32 reserve the smallest byte budget could never fill, and keeps one it can', () => {
    const d = 64;
    const { keys, values } = stream(300, d, 3);
    const params = { bits: 4, group: 8, residual: 4 };
    // 1/16 of the float32 bytes from t = 256: 8 KiB, where the residual and the open channel group
    // (12 float32 rows and the group slack) leave room for 1 quantized row: the residual goes.
    const tight = registry.create({ policy: 'kivi', keyDim: d, valueDim: d, params, budget: { fraction: 1 / 16, minBytes: 8192 } });
    // 1/4 from t = 256: 32 KiB holds far more than the 12 staged rows, so the precision stays.
    const loose = registry.create({ policy: 'kivi', keyDim: d, valueDim: d, params, budget: { fraction: 1 / 4, minBytes: 32768 } });
    for (let t = 0; t < 256; t++) {
      tight.append(keys[t]!, values[t]!);
      loose.append(keys[t]!, values[t]!);
    }
    expect(tight.describe().stats['precision']).toBe('int4 kchan g8');
    // What the reserve was for is held: at least a whole group (the old cut held 1 row here).
    expect(tight.stored).toBeGreaterThanOrEqual(8);
    expect(tight.bytes).toBeLessThanOrEqual(8192);
    expect(loose.describe().stats['precision']).toBe('int4 kchan g8 r4');
    expect(loose.describe().stats['precisionCut']).toBeUndefined();
  });

  it('refuses bad bit widths', () => {
    expect(() => registry.create({ policy: 'kivi', keyDim: 8, valueDim: 8, params: { bits: 3 } })).toThrow(expect.objectContaining({ code: 'KV_INVALID_PARAMS' }));
  });

  it('reads and writes snapshot format 1 byte for byte (channel-wise groups are held scales first, saved scales last)', () => {
    // Written by the layout that held each group as `G records | key scales`: 237 tokens through
    // a 100-token budget, so groups carry tombstones.
    const saved = new Uint8Array(readFileSync(new URL('./fixtures/kivi-4bit-format1.snap', import.meta.url)));
    const d = 16;
    const rng = new Rng(19);
    const live = registry.create({ policy: 'kivi', keyDim: d, valueDim: d, budget: 100, params: { bits: 4, group: 8, residual: 8 } });
    for (let t = 0; t < 237; t++) live.append(rng.fillGaussian(new Float32Array(d)), rng.fillGaussian(new Float32Array(d)));
    expect(snapshot(live)).toEqual(saved);
    const back = restore(saved, registry);
    const q = new Rng(20);
    for (let i = 0; i < 20; i++) {
      const query = q.fillGaussian(new Float32Array(d), 2);
      expect(back.attend(query, new Float32Array(d))).toEqual(live.attend(query, new Float32Array(d)));
    }
    const k = q.fillGaussian(new Float32Array(d));
    back.append(k, k);
    live.append(k, k);
    expect(snapshot(back)).toEqual(snapshot(live));
  });
});
