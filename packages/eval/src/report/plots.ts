import type { TopLevelSpec } from 'vega-lite';
import { spaceBounds } from '../bounds.js';
import type { RunOk } from '../runner.js';
import { CONTEXT_GREY, MAX_SERIES_PER_PANEL, plotPanels, policyColors } from './colors.js';
import type { EvalReport, WorkloadInfo } from './types.js';

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
  /** Which plot it is. */
  readonly kind: 'pareto' | 'stream' | 'bounds';
  /** The workload it draws. */
  readonly workload: string;
  /** The Vega-Lite specification. */
  readonly spec: TopLevelSpec;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/**
 * The file name of a plot of a workload.
 * @param kind - `pareto`, `stream` or `bounds`.
 * @param workload - Workload name.
 * @returns The SVG file name.
 * @example
 * ```ts
 * import { plotFile } from '@kv/eval';
 * plotFile('pareto', 'real attention'); // "pareto-real-attention.svg"
 * ```
 */
export function plotFile(kind: PlotSpec['kind'], workload: string): string {
  const slug = workload.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'workload';
  return `${kind}-${slug}.svg`;
}

// A log axis fitted to the positive values, with a little room on both sides.
function logDomain(values: readonly number[]): [number, number] | undefined {
  const v = values.filter((x) => Number.isFinite(x) && x > 0);
  if (v.length === 0) return undefined;
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  return lo === hi ? [lo / 2, hi * 2] : [lo / 1.25, hi * 1.25];
}

function logScale(values: readonly number[]): Record<string, unknown> {
  const domain = logDomain(values);
  return { type: 'log', nice: false, ...(domain ? { domain } : {}) };
}

// Byte axes: ticks at powers of two (1 KiB, 4 KiB, 16 KiB, …), at most eight, labelled in the
// units of the tables.
function byteAxis(values: readonly number[]): Record<string, unknown> {
  const domain = logDomain(values);
  if (!domain) return { labelExpr: BYTE_LABELS };
  const lo = Math.ceil(Math.log2(domain[0]));
  const hi = Math.floor(Math.log2(domain[1]));
  const step = Math.max(1, Math.ceil((hi - lo + 1) / 8));
  const ticks: number[] = [];
  for (let k = lo; k <= hi; k += step) ticks.push(2 ** k);
  return { values: ticks, labelExpr: BYTE_LABELS };
}

// Byte axes read in the units of the tables.
const BYTE_LABELS = "datum.value >= 1073741824 ? format(datum.value / 1073741824, '~r') + ' GiB' : datum.value >= 1048576 ? format(datum.value / 1048576, '~r') + ' MiB' : datum.value >= 1024 ? format(datum.value / 1024, '~r') + ' KiB' : format(datum.value, '~r') + ' B'";

function paretoFront<T extends { x: number; y: number }>(points: readonly T[]): T[] {
  const sorted = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  const front: T[] = [];
  let best = Infinity;
  for (const p of sorted) {
    if (p.y < best) {
      front.push(p);
      best = p.y;
    }
  }
  return front;
}

function colorFor(labels: readonly string[], colors: Record<string, string>, legend: boolean, title = 'policy'): Record<string, unknown> {
  return {
    field: 'label',
    type: 'nominal',
    title,
    scale: { domain: labels, range: labels.map((l) => colors[l]!) },
    legend: legend ? { labelLimit: 0, orient: 'right' } : null,
  };
}

function okRuns(report: EvalReport, w: WorkloadInfo): RunOk[] {
  return report.results.filter((r): r is RunOk => r.ok && r.workload === w.name);
}

function paretoSpec(report: EvalReport, w: WorkloadInfo): TopLevelSpec {
  const colors = policyColors(report);
  const runs = okRuns(report, w);
  const points = runs.filter((r) => r.budget !== 'full' && r.bytes > 0 && r.relative.median > 0).map((r) => ({ label: r.label, budget: r.budget, x: r.bytes, y: r.relative.median }));
  const zero = runs.filter((r) => r.budget !== 'full' && r.relative.median === 0).length;
  const front = paretoFront(points);
  const exact = runs.find((r) => r.policy === 'exact');
  const x = logScale([...points.map((p) => p.x), ...(exact ? [exact.bytes] : [])]);
  const y = logScale(points.map((p) => p.y));
  const enc = {
    x: { field: 'x', type: 'quantitative', scale: x, title: 'bytes held, all heads (log)', axis: byteAxis([...points.map((p) => p.x), ...(exact ? [exact.bytes] : [])]) },
    y: { field: 'y', type: 'quantitative', scale: y, title: 'median relative error (log)' },
  };
  const panels = plotPanels(report)
    .map((p) => ({ ...p, labels: p.labels.filter((l) => points.some((q) => q.label === l)) }))
    .filter((p) => p.labels.length > 0);
  return {
    $schema: SCHEMA,
    title: {
      text: `Error vs memory: ${w.name}`,
      subtitle: [
        `n=${w.n}, d=${w.d}, ${w.heads} head(s); one line per policy through its budgets; grey: the other families; dashed: the Pareto front of all policies`,
        ...(exact ? [`vertical rule: the exact cache (${exact.label}, error 0)`] : []),
        ...(zero > 0 ? [`${zero} run(s) with error 0 are not drawn on the log axis`] : []),
      ],
    },
    columns: 2,
    concat: panels.map((panel) => {
      const mine = points.filter((p) => panel.labels.includes(p.label));
      return {
        title: panel.title,
        width: 300,
        height: 220,
        layer: [
          { data: { values: points.filter((p) => !panel.labels.includes(p.label)) }, mark: { type: 'point', filled: true, size: 25, color: CONTEXT_GREY }, encoding: enc },
          { data: { values: front }, mark: { type: 'line', color: '#555', strokeDash: [4, 3], strokeWidth: 1 }, encoding: { ...enc, order: { field: 'x' } } },
          ...(exact ? [{ data: { values: [{ x: exact.bytes }] }, mark: { type: 'rule', color: '#333', strokeWidth: 1 }, encoding: { x: enc.x } }] : []),
          { data: { values: mine }, mark: { type: 'line', strokeWidth: 1.5 }, encoding: { ...enc, order: { field: 'x' }, color: colorFor(panel.labels, colors, true) } },
          { data: { values: mine }, mark: { type: 'point', filled: true, size: 60 }, encoding: { ...enc, color: colorFor(panel.labels, colors, true), shape: { field: 'budget', type: 'nominal', title: 'budget', scale: { domain: report.config.budgets.map((b) => b.label) } } } },
        ],
        resolve: { scale: { color: 'shared' } },
      };
    }),
    resolve: { scale: { color: 'independent', shape: 'shared' }, legend: { color: 'independent' } },
  } as TopLevelSpec;
}

function streamSpec(report: EvalReport, w: WorkloadInfo): TopLevelSpec {
  const colors = policyColors(report);
  const seed = report.config.seeds[0];
  const budgets = report.config.budgets.map((b) => b.label);
  const values: { label: string; budget: string; step: number; error: number }[] = [];
  for (const r of okRuns(report, w)) {
    if (r.seed !== seed || r.budget === 'full') continue;
    r.series.step.forEach((step, i) => {
      const e = r.series.relative[i]!;
      if (e > 0 && Number.isFinite(e)) values.push({ label: r.label, budget: r.budget, step, error: e });
    });
  }
  const y = logScale(values.map((v) => v.error));
  const drawn = new Set(values.map((v) => v.label));
  const panels = plotPanels(report)
    .map((p) => ({ ...p, labels: p.labels.filter((l) => drawn.has(l)) }))
    .filter((p) => p.labels.length > 0);
  return {
    $schema: SCHEMA,
    title: { text: `Error along the stream: ${w.name}`, subtitle: `relative error at each query time (median over heads, seed ${seed}); rows: policy families; columns: budgets` },
    vconcat: panels.map((panel) => ({
      hconcat: budgets.map((b) => ({
        title: `${panel.title} at ${b}`,
        width: 220,
        height: 150,
        data: { values: values.filter((v) => v.budget === b && panel.labels.includes(v.label)) },
        mark: { type: 'line', strokeWidth: 1.3, point: { size: 12 } },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'step t' },
          y: { field: 'error', type: 'quantitative', scale: y, title: 'relative error (log)' },
          color: colorFor(panel.labels, colors, true),
        },
      })),
      // One legend per row: every cell of a row has the same colour scale and legend.
      resolve: { scale: { color: 'shared' }, legend: { color: 'shared' } },
    })),
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
  } as TopLevelSpec;
}

function boundsSpec(report: EvalReport, w: WorkloadInfo): TopLevelSpec {
  const colors = policyColors(report);
  const curves: { bound: string; epsilon: number; bytes: number }[] = [];
  for (let i = 0; i <= 24; i++) {
    const epsilon = Math.pow(10, -3 + (3 * i) / 24);
    // cannot throw: a workload has n, d, s >= 1 and τ > 0, ε is in [1e-3, 1], r is floored above 0
    for (const b of spaceBounds({ n: w.n, d: w.d, s: w.s, epsilon, r: Math.max(w.radius, 1e-9), tau: w.tau })) {
      if (Number.isFinite(b.bytes) && b.bytes > 0 && b.bytes < 1e300) {
        curves.push({ bound: `${b.name}${b.kind === 'lower' && !/lower/i.test(b.name) ? ' (lower)' : ''}${b.constantVerified ? '' : ' *'}`, epsilon, bytes: b.bytes });
      }
    }
  }
  const points = report.bounds
    .filter((c) => c.workload === w.name && c.epsilon > 0)
    .map((c) => ({ label: c.label, budget: c.budget, x: c.measuredBytes, y: c.epsilon }));
  const highlighted = [...new Set(paretoFront(points).map((p) => p.label))].slice(0, MAX_SERIES_PER_PANEL).sort((a, b) => Object.keys(colors).indexOf(a) - Object.keys(colors).indexOf(b));
  const lit = points.filter((p) => highlighted.includes(p.label)).map((p) => ({ ...p, epsilon: p.y, bytes: p.x }));
  const grey = points.filter((p) => !highlighted.includes(p.label)).map((p) => ({ ...p, epsilon: p.y, bytes: p.x }));
  const x = logScale([...curves.map((c) => c.epsilon), ...points.map((p) => p.y)]);
  const byteValues = [...points.map((p) => p.x), ...curves.map((c) => c.bytes).filter((b) => b < 1e3 * Math.max(1, ...points.map((p) => p.x)))];
  const enc = {
    x: { field: 'epsilon', type: 'quantitative', scale: x, title: 'ε (normalised p90 error, log)' },
    y: { field: 'bytes', type: 'quantitative', scale: logScale(byteValues), title: 'bytes per head (log)', axis: byteAxis(byteValues) },
  };
  return {
    $schema: SCHEMA,
    title: {
      text: `Measured memory vs theorem space: ${w.name}`,
      subtitle: [`lines: bounds at (n=${w.n}, d=${w.d}, s=${w.s}, r=${w.radius.toFixed(2)}); (lower) lower bound, * constant unverified`, 'points: runs at the error they reached; coloured: the Pareto front of the runs, grey: the others'],
    },
    width: 460,
    height: 320,
    layer: [
      {
        data: { values: curves },
        mark: { type: 'line', strokeWidth: 1.5, clip: true },
        encoding: { ...enc, strokeDash: { field: 'bound', type: 'nominal', legend: null }, color: { field: 'bound', type: 'nominal', title: 'bound', scale: { scheme: 'dark2' }, legend: { labelLimit: 0 } } },
      },
      { data: { values: grey }, mark: { type: 'point', filled: true, size: 30, color: CONTEXT_GREY, clip: true }, encoding: enc },
      { data: { values: lit }, mark: { type: 'point', filled: true, size: 70, clip: true }, encoding: { ...enc, color: colorFor(highlighted, colors, true, 'policy (front)') } },
    ],
    resolve: { scale: { color: 'independent' } },
  } as TopLevelSpec;
}

/**
 * The plots of a report, per workload: error vs memory (log-log, one line per policy through
 * its budgets, small multiples by family with the other families in grey and the Pareto front
 * dashed), error along the stream (families × budgets), and measured memory against the
 * theorems' space (Pareto-front runs coloured). A policy has the same colour in every plot.
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
    { file: plotFile('pareto', w.name), title: `Error vs memory: ${w.name}`, kind: 'pareto' as const, workload: w.name, spec: paretoSpec(report, w) },
    { file: plotFile('stream', w.name), title: `Error along the stream: ${w.name}`, kind: 'stream' as const, workload: w.name, spec: streamSpec(report, w) },
    { file: plotFile('bounds', w.name), title: `Measured memory vs theorem space: ${w.name}`, kind: 'bounds' as const, workload: w.name, spec: boundsSpec(report, w) },
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
