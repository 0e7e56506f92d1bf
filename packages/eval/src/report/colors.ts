import type { EvalReport } from './types.js';

// Four blocks in the same hue order (Tableau 10 with its grey replaced, then darker, muted and
// lighter variants): any ten consecutive colours are ten different hues, so a family panel of up to
// ten policies, coloured consecutively, never repeats a hue, and the forty colours are all
// distinct. No colour is a light grey, which marks context points.
const PALETTE = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#3b3b3b',
  '#2b4f73', '#b35f0f', '#a3262b', '#3f7f7a', '#2f6b2a', '#a88a14', '#7a4a6e', '#c9566a', '#674a38', '#17becf',
  '#6b8fb3', '#c98d55', '#c07a7c', '#8fa9a6', '#7f9c73', '#c4b16a', '#a08a9b', '#d9a4ab', '#9e8a7c', '#8c6d31',
  '#9fc1e0', '#f9c18c', '#f2a3a4', '#b5dcd8', '#a3d49b', '#f6e19e', '#d8b7cf', '#ffcfd4', '#cdb3a2', '#bcbd22',
];

// Panels in this order (the order of the library's packages); other families follow.
const FAMILY_ORDER = ['heuristics', 'coreset', 'polynomial', 'lsh', 'hybrid'];

/**
 * Most series a plot panel draws in colour; larger families are split over several panels.
 *
 * @example
 * ```ts
 * import { MAX_SERIES_PER_PANEL } from '@kv/eval';
 * const panels = Math.ceil(24 / MAX_SERIES_PER_PANEL); // 3
 * ```
 */
export const MAX_SERIES_PER_PANEL = 10;

/**
 * The grey of context points (other families) and of the non-highlighted series.
 *
 * @example
 * ```ts
 * import { CONTEXT_GREY } from '@kv/eval';
 * const mark = { type: 'point', color: CONTEXT_GREY };
 * ```
 */
export const CONTEXT_GREY = '#d0d0d0';

/**
 * The panels of a report's plots: its policy labels grouped by family (`exact` excluded: it is
 * drawn as a reference), families in package order (heuristics, coreset, polynomial, lsh,
 * hybrid, then others), each split into panels of at most {@link MAX_SERIES_PER_PANEL}.
 *
 * @param report - The report.
 * @returns Panel title → labels, in family order.
 * @example
 * ```ts
 * import { evaluate, plotPanels } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * plotPanels(report); // [{ title: 'heuristics', labels: ['sliding-window'] }]
 * ```
 */
export function plotPanels(report: EvalReport): {
  /** The family, numbered when it is split over several panels. */
  title: string;
  /** Policy labels drawn in the panel. */
  labels: string[];
}[] {
  const byFamily = new Map<string, string[]>();
  for (const p of report.config.policies) {
    const family = report.families[p.policy] ?? 'custom';
    if (family === 'exact') continue;
    const label = p.label ?? p.policy;
    byFamily.set(family, [...(byFamily.get(family) ?? []), label]);
  }
  const rank = (f: string): number => (FAMILY_ORDER.includes(f) ? FAMILY_ORDER.indexOf(f) : FAMILY_ORDER.length);
  const panels: { title: string; labels: string[] }[] = [];
  for (const [family, labels] of [...byFamily].sort((a, b) => rank(a[0]) - rank(b[0]))) {
    const parts = Math.ceil(labels.length / MAX_SERIES_PER_PANEL);
    const size = Math.ceil(labels.length / parts);
    for (let i = 0; i < parts; i++) panels.push({ title: parts === 1 ? family : `${family} ${i + 1}/${parts}`, labels: labels.slice(i * size, (i + 1) * size) });
  }
  return panels;
}

/**
 * One colour per policy label, the same in every plot of a report: labels are coloured in panel
 * order from a palette of forty distinct colours whose every ten consecutive entries are ten
 * different hues (so no panel repeats one). Past forty policies colours repeat across panels.
 *
 * @param report - The report.
 * @returns Label → CSS colour.
 * @example
 * ```ts
 * import { evaluate, policyColors } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * policyColors(report)['sliding-window']; // '#4e79a7'
 * ```
 */
export function policyColors(report: EvalReport): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  for (const panel of plotPanels(report)) for (const label of panel.labels) out[label] = PALETTE[i++ % PALETTE.length]!;
  return out;
}
