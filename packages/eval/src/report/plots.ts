import type { TopLevelSpec } from 'vega-lite';
import { spaceBounds } from '../bounds.js';
import type { EvalReport, WorkloadInfo } from './types.js';

/**
 * Errors below this are drawn at it, so exact answers (error 0) stay on the log axes.
 *
 * @example
 * ```ts
 * import { ERROR_FLOOR } from '@kv/eval';
 * const drawn = (error: number): number => Math.max(error, ERROR_FLOOR);
 * drawn(0); // 1e-9: an exact run stays on the log axis
 * ```
 */
export const ERROR_FLOOR = 1e-9;

/**
 * A named plot: a Vega-Lite spec and the file it is written to.
 *
 * @example
 * ```ts
 * import { evaluate, reportPlots } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * for (const p of reportPlots(report)) console.log(p.file);
 * ```
 */
export interface PlotSpec {
  /** File name (`pareto-gaussian.svg`). */
  readonly file: string;
  /** Caption. */
  readonly title: string;
  /** The Vega-Lite specification. */
  readonly spec: TopLevelSpec;
}

const floor = (x: number): number => (Number.isFinite(x) ? Math.max(ERROR_FLOOR, x) : x);

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'workload';
}

function paretoFront(points: { bytes: number; error: number }[]): { bytes: number; error: number }[] {
  const sorted = [...points].sort((a, b) => a.bytes - b.bytes || a.error - b.error);
  const front: { bytes: number; error: number }[] = [];
  let best = Infinity;
  for (const p of sorted) {
    if (p.error < best) {
      front.push(p);
      best = p.error;
    }
  }
  return front;
}

function paretoSpec(report: EvalReport, w: WorkloadInfo): TopLevelSpec {
  const points = report.results
    .filter((r) => r.workload === w.name && r.ok && r.bytes > 0)
    .map((r) => ({ label: r.label, budget: r.budget, seed: r.seed, bytes: r.bytes, error: floor(r.relative.median), p90: floor(r.relative.p90) }));
  const front = paretoFront(points).map((p) => ({ bytes: p.bytes, error: p.error }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `Error vs memory: ${w.name}`,
      subtitle: `n=${w.n}, d=${w.d}, s=${w.s}, ρ=${w.rho.toFixed(2)}; median relative error (below ${ERROR_FLOOR} drawn at it); line = Pareto front`,
    },
    width: 460,
    height: 300,
    layer: [
      {
        data: { values: front },
        mark: { type: 'line', color: '#888', strokeDash: [4, 3] },
        encoding: { x: { field: 'bytes', type: 'quantitative', scale: { type: 'log' } }, y: { field: 'error', type: 'quantitative', scale: { type: 'log' } } },
      },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 70 },
        encoding: {
          x: { field: 'bytes', type: 'quantitative', scale: { type: 'log' }, title: 'bytes held (log)' },
          y: { field: 'error', type: 'quantitative', scale: { type: 'log' }, title: 'median relative error (log)' },
          color: { field: 'label', type: 'nominal', title: 'policy', scale: { scheme: 'tableau20' } },
          shape: { field: 'budget', type: 'nominal', title: 'budget' },
        },
      },
    ],
  };
}

function streamSpec(report: EvalReport, w: WorkloadInfo): TopLevelSpec {
  const seed = report.config.seeds[0];
  const values: { label: string; budget: string; step: number; error: number }[] = [];
  for (const r of report.results) {
    if (r.workload !== w.name || r.seed !== seed || !r.ok) continue;
    r.series.step.forEach((step, i) => values.push({ label: r.label, budget: r.budget, step, error: floor(r.series.relative[i]!) }));
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `Error along the stream: ${w.name}`,
      subtitle: `relative error of q_t after t+1 tokens, mean over a window of 9 asked queries (seed ${seed}); one panel per budget`,
    },
    data: { values },
    facet: { column: { field: 'budget', type: 'nominal', title: 'budget' } },
    spec: {
      width: 300,
      height: 220,
      transform: [{ window: [{ op: 'mean', field: 'error', as: 'smoothed' }], frame: [-4, 4], groupby: ['label', 'budget'], sort: [{ field: 'step' }] }],
      mark: { type: 'line', strokeWidth: 1.2 },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step t' },
        y: { field: 'smoothed', type: 'quantitative', scale: { type: 'log' }, title: 'relative error (log)' },
        color: { field: 'label', type: 'nominal', title: 'policy', scale: { scheme: 'tableau20' } },
      },
    },
  };
}

function boundsSpec(report: EvalReport, w: WorkloadInfo): TopLevelSpec {
  const curves: { bound: string; epsilon: number; bytes: number }[] = [];
  for (let i = 0; i <= 24; i++) {
    const epsilon = Math.pow(10, -3 + (3 * i) / 24);
    for (const b of spaceBounds({ n: w.n, d: w.d, s: w.s, epsilon, r: Math.max(w.radius, 1e-9), tau: w.tau })) {
      if (Number.isFinite(b.bytes) && b.bytes > 0 && b.bytes < 1e300) {
        curves.push({ bound: `${b.name}${b.kind === 'lower' ? ' ↓' : ''}${b.constantVerified ? '' : ' *'}`, epsilon, bytes: b.bytes });
      }
    }
  }
  const points = report.bounds
    .filter((c) => c.workload === w.name)
    .map((c) => ({ label: c.label, budget: c.budget, epsilon: floor(c.epsilon), bytes: c.measuredBytes }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Measured memory vs theorem space: ${w.name}`, subtitle: `lines: bounds at (n=${w.n}, d=${w.d}, s=${w.s}, r=${w.radius.toFixed(2)}); points: policies at their p90 normalised error; ↓ lower bound, * constant unverified` },
    width: 460,
    height: 320,
    layer: [
      {
        data: { values: curves },
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          x: { field: 'epsilon', type: 'quantitative', scale: { type: 'log' }, title: 'ε (p90 normalised error, log)' },
          y: { field: 'bytes', type: 'quantitative', scale: { type: 'log' }, title: 'bytes (log)' },
          strokeDash: { field: 'bound', type: 'nominal', legend: null },
          color: { field: 'bound', type: 'nominal', title: 'bound', scale: { scheme: 'dark2' }, legend: { labelLimit: 320 } },
        },
      },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 70 },
        encoding: {
          x: { field: 'epsilon', type: 'quantitative', scale: { type: 'log' } },
          y: { field: 'bytes', type: 'quantitative', scale: { type: 'log' } },
          color: { field: 'label', type: 'nominal', title: 'policy', scale: { scheme: 'tableau20' } },
          shape: { field: 'budget', type: 'nominal', title: 'budget' },
        },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  };
}

/**
 * The plots of a report: per workload, error vs memory with its Pareto front, error along the
 * stream, and measured memory against the theorems' space.
 *
 * @param report - The report.
 * @returns Plot specs with their file names.
 * @example
 * ```ts
 * import { evaluate, renderSvg, reportPlots } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * const svg = await renderSvg(reportPlots(report)[0]!.spec);
 * ```
 */
export function reportPlots(report: EvalReport): PlotSpec[] {
  return report.workloads.flatMap((w) => [
    { file: `pareto-${slug(w.name)}.svg`, title: `Error vs memory: ${w.name}`, spec: paretoSpec(report, w) },
    { file: `stream-${slug(w.name)}.svg`, title: `Error along the stream: ${w.name}`, spec: streamSpec(report, w) },
    { file: `bounds-${slug(w.name)}.svg`, title: `Measured memory vs theorem space: ${w.name}`, spec: boundsSpec(report, w) },
  ]);
}

/**
 * Renders a Vega-Lite spec to SVG headlessly (vega's `View.toSVG()` with no renderer; no browser,
 * canvas or network).
 *
 * @param spec - The Vega-Lite spec (data inline).
 * @returns The SVG text.
 * @example
 * ```ts
 * import { renderSvg } from '@kv/eval';
 * const svg = await renderSvg({ data: { values: [{ x: 1 }] }, mark: 'point', encoding: { x: { field: 'x', type: 'quantitative' } } });
 * ```
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded on demand: vega is large and only plots need it.
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
