import { type PolicyDefinition, PolicyRegistry, exactPolicy } from '@kv/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../evaluate.js';
import { testUniformPolicy, testWindowPolicy } from '../test-fixtures/policies.js';
import { MAX_SERIES_PER_PANEL, plotPanels, policyColors } from './colors.js';
import { tagFamily } from './families.js';
import { fmtBytes, fmtRatio } from './format.js';
import { renderSvg, reportPlots } from './plots.js';
import { rankings } from './ranking.js';
import type { EvalReport } from './types.js';

// 24 policies in three families (one of 14, larger than a panel), as the default registry has.
const clone = (base: PolicyDefinition, name: string): PolicyDefinition => ({ ...base, name });
const families: Record<string, PolicyDefinition[]> = {
  alpha: Array.from({ length: 14 }, (_, i) => clone(i % 2 ? testWindowPolicy : testUniformPolicy, `alpha-${String(i).padStart(2, '0')}`)),
  beta: Array.from({ length: 6 }, (_, i) => clone(testUniformPolicy, `beta-${i}`)),
  gamma: Array.from({ length: 4 }, (_, i) => clone(testWindowPolicy, `gamma-with-a-long-descriptive-name-${i}`)),
};
for (const [f, defs] of Object.entries(families)) tagFamily(f, defs);
const registry = new PolicyRegistry().register(exactPolicy, ...Object.values(families).flat());

let report: EvalReport;
beforeAll(async () => {
  report = await evaluate(
    { policies: 'all', budgets: ['1/4', '1/8'], workloads: [{ family: 'clustered', n: 64, d: 4 }], seeds: [0, 1], queries: { from: 16, every: 8 } },
    { registry },
  );
});

interface ColorUse {
  plot: string;
  domain: string[];
  range: string[];
}

// Every colour encoding with an explicit scale, wherever it sits in the spec.
function colorUses(node: unknown, plot: string, out: ColorUse[] = []): ColorUse[] {
  if (Array.isArray(node)) for (const x of node) colorUses(x, plot, out);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    const color = (o['encoding'] as { color?: { field?: string; scale?: { domain?: string[]; range?: string[] } } } | undefined)?.color;
    if (color?.field === 'label' && color.scale?.domain) out.push({ plot, domain: color.scale.domain, range: color.scale.range! });
    for (const v of Object.values(o)) colorUses(v, plot, out);
  }
  return out;
}

describe('plots', () => {
  it('split families into panels of at most ten policies; exact is a reference, not a series', () => {
    const panels = plotPanels(report);
    expect(panels.map((p) => p.title)).toEqual(['alpha 1/2', 'alpha 2/2', 'beta', 'gamma']);
    expect(panels.map((p) => p.labels.length)).toEqual([7, 7, 6, 4]);
    expect(panels.flatMap((p) => p.labels)).not.toContain('exact');
  });

  it('give each policy one colour, the same in every plot, and distinct colours within each panel', () => {
    const plots = reportPlots(report);
    expect(plots.map((p) => p.kind)).toEqual(['pareto', 'stream', 'bounds']);
    const uses = plots.flatMap((p) => colorUses(p.spec, p.kind));
    expect(uses.filter((u) => u.plot === 'pareto').length).toBeGreaterThanOrEqual(4);
    expect(uses.filter((u) => u.plot === 'stream').length).toBeGreaterThanOrEqual(4);
    expect(uses.filter((u) => u.plot === 'bounds').length).toBe(1);
    const seen = new Map<string, string>();
    for (const u of uses) {
      expect(u.domain.length).toBeLessThanOrEqual(MAX_SERIES_PER_PANEL);
      expect(new Set(u.range).size, `${u.plot}: ${u.domain.join(', ')}`).toBe(u.domain.length);
      u.domain.forEach((label, i) => {
        const before = seen.get(label);
        if (before !== undefined) expect(u.range[i], `${label} in ${u.plot}`).toBe(before);
        seen.set(label, u.range[i]!);
      });
    }
    // every policy is drawn somewhere, and no two policies share a colour in the report
    expect(seen.size).toBe(24);
    expect(new Set(Object.values(policyColors(report))).size).toBe(24);
  });

  it('keep legend labels whole and fit the error axis to the data, with exact as a rule', () => {
    const pareto = reportPlots(report)[0]!.spec as unknown as { concat: { layer: { mark: { type: string }; encoding: Record<string, { scale?: { domain?: number[] }; legend?: { labelLimit?: number } | null }> }[] }[] };
    const errors = report.results.flatMap((r) => (r.ok && r.budget !== 'full' ? [r.relative.median] : []));
    for (const panel of pareto.concat) {
      const points = panel.layer.find((l) => l.mark.type === 'point' && l.encoding['color']?.legend)!;
      expect(points.encoding['color']!.legend!.labelLimit).toBe(0);
      const [lo, hi] = points.encoding['y']!.scale!.domain!;
      expect(lo).toBeCloseTo(Math.min(...errors) / 1.25, 12);
      expect(hi).toBeCloseTo(Math.max(...errors) * 1.25, 12);
      expect(panel.layer.some((l) => l.mark.type === 'rule')).toBe(true);
    }
  });

  it('render to SVG offline, with every policy label spelled out', async () => {
    const svg = await renderSvg(reportPlots(report)[0]!.spec);
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('gamma-with-a-long-descriptive-name-3');
    expect(svg).not.toMatch(/gamma-with-a-long-descr…/);
  });
});

describe('rankings', () => {
  it('rank each budget best first, seeds combined by median, and keep every row within its bytes', () => {
    const all = rankings(report);
    expect(all.map((r) => r.budget)).toEqual(['1/4', '1/8']);
    for (const r of all) {
      expect(r.rows.length).toBe(24);
      expect(r.rows.map((x) => x.rank)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
      for (let i = 1; i < r.rows.length; i++) expect(r.rows[i]!.error).toBeGreaterThanOrEqual(r.rows[i - 1]!.error);
      for (const x of r.rows) expect(x.budgetRatio!).toBeLessThanOrEqual(1);
    }
    // ★: the Pareto front over both budgets; every other row is dominated by a front row.
    const rows = all.flatMap((r) => r.rows);
    const front = rows.filter((x) => x.front);
    expect(front.length).toBeGreaterThan(0);
    for (const f of front) expect(rows.some((x) => x !== f && x.bytes <= f.bytes && x.error < f.error)).toBe(false);
    for (const x of rows.filter((y) => !y.front)) expect(front.some((f) => f.bytes <= x.bytes && f.error <= x.error)).toBe(true);
    const row = all[0]!.rows.find((x) => x.label === 'beta-0')!;
    const runs = report.results.filter((x) => x.ok && x.label === 'beta-0' && x.budget === '1/4');
    expect(runs.length).toBe(2);
    const medians = runs.map((x) => (x.ok ? x.relative.median : NaN));
    expect(row.error).toBeCloseTo((medians[0]! + medians[1]!) / 2, 12);
  });
});

describe('units', () => {
  it('write sizes in B, KiB, MiB, GiB only, and ratios with three digits', () => {
    expect([0, 1023, 1024, 1536, 1024 ** 2 * 3, 1024 ** 3 * 7.5, 5.87e21].map(fmtBytes)).toEqual(['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '3.0 MiB', '7.5 GiB', '5.47e+12 GiB']);
    expect([0.98765, 1, 12.345, 3e7].map(fmtRatio)).toEqual(['0.988×', '1.00×', '12.3×', '3.00e+7×']);
  });
});
