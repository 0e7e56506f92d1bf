import { budgetBytes, ModelCache, PolicyRegistry, restoreModel, Rng, snapshotModel } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { heuristicPolicies } from './policies.js';
import { adaKV, criticalKV } from './wrappers.js';

const registry = new PolicyRegistry().register(...heuristicPolicies);
const d = 8;
const s = 4;
const heads = 3;

// Head 0's queries all point at one direction its keys share only at a few positions
// (concentrated attention); head 2's keys are all alike (attention spread evenly).
function token(rng: Rng, t: number): { keys: Float32Array; values: Float32Array; queries: Float32Array } {
  const keys = new Float32Array(heads * d);
  const values = rng.fillGaussian(new Float32Array(heads * s));
  const queries = new Float32Array(heads * d);
  for (let h = 0; h < heads; h++) {
    const k = rng.fillGaussian(new Float32Array(d), h === 2 ? 0.01 : 0.3);
    if (h === 0 && t % 10 === 0) k[0] = 6;
    keys.set(k, h * d);
    const q = rng.fillGaussian(new Float32Array(d), 0.3);
    q[0]! += 3;
    queries.set(q, h * d);
  }
  return { keys, values, queries };
}

function run(model: ModelCache, from: number, to: number, seed: number, visit?: (t: number, out: Float32Array) => void): void {
  const rng = new Rng(seed);
  for (let t = 0; t < to; t++) {
    const { keys, values, queries } = token(rng, t);
    if (t < from) continue;
    model.append(0, keys, values);
    const out = model.attend(0, queries, new Float32Array(heads * s));
    visit?.(t, out);
  }
}

describe('adaKV: heads of a layer share one budget', () => {
  const budget = { fraction: 1 / 4, minBytes: 8 * 4 * (d + s) };
  const make = (): ModelCache => new ModelCache({ layers: 1, kvHeads: heads, keyDim: d, valueDim: s, tau: 1, registry, policy: adaKV({ policy: 'tova', budget }, { heads }) });

  it('keeps the layer within the sum of its heads budgets, giving the spread head more rows than the concentrated one', () => {
    const model = make();
    run(model, 0, 400, 1, (t) => {
      expect(model.bytes).toBeLessThanOrEqual(heads * budgetBytes(budget, t + 1, d, s));
      for (let h = 0; h < heads; h++) expect(model.head(0, h).stored).toBeLessThanOrEqual(model.head(0, h).capacity);
    });
    const rows = [0, 1, 2].map((h) => model.head(0, h).stored);
    // An even split would give each head the same rows; the pool moves them to head 2.
    expect(rows[2]!).toBeGreaterThan(1.5 * rows[0]!);
    // The safeguard: every head keeps at least alpha = 0.2 of its own share.
    const share = model.head(0, 0).describe().stats['poolShare'] as number;
    for (const r of rows) expect(r).toBeGreaterThanOrEqual(Math.floor(0.2 * share));
  });

  it('a model restored from a snapshot shares its pools again and continues bit for bit', () => {
    const a = make();
    run(a, 0, 150, 2);
    const b = restoreModel(snapshotModel(a), registry);
    const outA: Float32Array[] = [];
    const outB: Float32Array[] = [];
    run(a, 150, 300, 2, (_t, o) => outA.push(o));
    run(b, 150, 300, 2, (_t, o) => outB.push(o));
    expect(outB).toEqual(outA);
    for (let h = 0; h < heads; h++) expect(b.head(0, h).stored).toBe(a.head(0, h).stored);
    expect(b.head(0, 0).describe().stats['pooled']).toBe(true);
    // Two models built from one registry never share a pool.
    expect(a.bytes).toBe(b.bytes);
  });

  it('with CriticalKV weighting the layer still holds its budget', () => {
    const model = new ModelCache({
      layers: 1, kvHeads: heads, keyDim: d, valueDim: s, tau: 1, registry,
      policy: adaKV(criticalKV({ policy: 'h2o', budget: 20 }), { heads }),
    });
    run(model, 0, 200, 3, () => {
      expect(model.stored).toBeLessThanOrEqual(heads * 20);
    });
    expect(model.stored).toBe(heads * 20);
  });
});
