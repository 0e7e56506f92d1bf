import { describe, expect, it } from 'vitest';
import { evaluate } from './evaluate.js';
import { rankings } from './report/ranking.js';
import type { RunOk } from './runner.js';
import { createRegistry } from './test-fixtures/policies.js';

describe('selection × precision sweep', () => {
  it('runs each selection at each precision within the same bytes, more tokens at fewer bits, and marks the front', async () => {
    const report = await evaluate(
      { policies: ['test-window', 'test-uniform'], precision: ['f32', 'f16', 'int8', 'int4'], budgets: ['1/4', '1/8'], workloads: [{ family: 'rope', n: 512, d: 32 }] },
      { registry: createRegistry() },
    );
    const runs = report.results as RunOk[];
    expect(runs.every((r) => r.ok)).toBe(true);
    expect([...new Set(runs.map((r) => r.label))]).toEqual(['test-window f32', 'test-window f16', 'test-window int8', 'test-window int4', 'test-uniform f32', 'test-uniform f16', 'test-uniform int8', 'test-uniform int4']);
    for (const r of runs) expect(r.budgetRatio!).toBeLessThanOrEqual(1);
    for (const budget of ['1/4', '1/8']) {
      const stored = ['f32', 'f16', 'int8', 'int4'].map((p) => runs.find((r) => r.label === `test-window ${p}` && r.budget === budget)!.stored);
      for (let i = 1; i < stored.length; i++) expect(stored[i]!).toBeGreaterThan(stored[i - 1]!);
      // f16 halves the row: nearly twice the tokens in the same bytes.
      expect(stored[1]! / stored[0]!).toBeGreaterThan(1.8);
    }
    const front = rankings(report).flatMap((r) => r.rows.filter((x) => x.front).map((x) => `${x.label}@${r.budget}`));
    expect(front.length).toBeGreaterThan(0);
    expect(front.some((f) => /int4|int8|f16/.test(f))).toBe(true);
  });
});
