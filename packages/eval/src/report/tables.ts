import type { RunFailed, RunOk } from '../runner.js';
import { fmt, fmtBytes, fmtRatio } from './format.js';
import { markdownTable } from './markdown.js';
import { rankings, rankingTable } from './ranking.js';
import type { EvalReport } from './types.js';

const finished = (report: EvalReport): RunOk[] => report.results.filter((r): r is RunOk => r.ok);
const failures = (report: EvalReport): RunFailed[] => report.results.filter((r): r is RunFailed => !r.ok);

/**
 * Every finished run in markdown, one row each, grouped by workload: the errors at both levels
 * (median over heads of the per-head medians, the spread over heads, p90 and max), memory, time
 * and what the cache chose. Failed runs are not here: see {@link failedTable}.
 * @param report - The report.
 * @returns Markdown.
 * @example
 * ```ts
 * import { evaluate, resultsTable } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * console.log(resultsTable(report));
 * ```
 */
export function resultsTable(report: EvalReport): string {
  const seeds = report.config.seeds.length > 1;
  const header = ['workload', 'policy', 'budget', ...(seeds ? ['seed'] : []), 'error', 'heads (min – max)', 'p90', 'max', 'normalised', 'bytes held', 'held / budget', 'fp32 / held', 'append µs', 'attend µs', 'chose'];
  const rows = finished(report).map((r) => [
    r.workload,
    r.label,
    r.budget,
    ...(seeds ? [String(r.seed)] : []),
    fmt(r.relative.median),
    `${fmt(r.relative.headMin)} – ${fmt(r.relative.headMax)}`,
    fmt(r.relative.p90),
    fmt(r.relative.max),
    fmt(r.normalized.median),
    fmtBytes(r.bytes),
    r.budgetRatio === null ? '–' : `${fmtRatio(r.budgetRatio)}${r.overBudget ? ' ⚠' : ''}`,
    fmtRatio(r.compression),
    fmt(r.appendNs / 1000),
    fmt(r.attendNs / 1000),
    r.chose,
  ]);
  return markdownTable(header, rows);
}

/**
 * The per-head level: for each workload with several heads and each budget, every policy's
 * median relative error over the query times of each head.
 * @param report - The report.
 * @returns Markdown (empty when every workload has one head).
 * @example
 * ```ts
 * import { evaluate, headsTable } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * headsTable(report); // '' (one head)
 * ```
 */
export function headsTable(report: EvalReport): string {
  const parts: string[] = [];
  const seed = report.config.seeds[0];
  for (const w of report.workloads.filter((x) => x.heads > 1)) {
    for (const b of report.config.budgets) {
      const runs = finished(report).filter((r) => r.workload === w.name && r.budget === b.label && r.seed === seed);
      if (runs.length === 0) continue;
      const labels = runs[0]!.heads.map((h) => h.label);
      parts.push(`**${w.name} at ${b.label}**, median relative error per head:`, '', markdownTable(['policy', ...labels], runs.map((r) => [r.label, ...r.heads.map((h) => fmt(h.relative.median))])), '');
    }
  }
  return parts.join('\n');
}

/**
 * The failed runs, each with its error (they carry no numbers).
 * @param report - The report.
 * @returns Markdown (empty when nothing failed).
 * @example
 * ```ts
 * import { evaluate, failedTable } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * failedTable(report); // '' when every run finished
 * ```
 */
export function failedTable(report: EvalReport): string {
  const failed = failures(report);
  if (failed.length === 0) return '';
  return markdownTable(['workload', 'policy', 'budget', 'seed', 'error'], failed.map((r) => [r.workload, r.label, r.budget, String(r.seed), r.error]));
}

/**
 * The workloads table in markdown.
 * @param report - The report.
 * @returns Markdown.
 * @example
 * ```ts
 * import { evaluate, workloadsTable } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * console.log(workloadsTable(report));
 * ```
 */
export function workloadsTable(report: EvalReport): string {
  return markdownTable(
    ['workload', 'family', 'n', 'd', 's', 'heads', 'r', 'ρ = r²τ', 'hard', 'description'],
    report.workloads.map((w) => [w.name, w.family, String(w.n), String(w.d), String(w.s), String(w.heads), fmt(w.radius), fmt(w.rho), w.hard ? 'yes' : 'no', w.description]),
  );
}

/**
 * Measured memory next to each theorem's space at the error the run reached. A space above the
 * exact cache's is written `×N exact`: such a bound is vacuous at this n.
 * @param report - The report.
 * @returns Markdown.
 * @example
 * ```ts
 * import { evaluate, boundsTable } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * console.log(boundsTable(report));
 * ```
 */
export function boundsTable(report: EvalReport): string {
  const first = report.bounds[0]?.bounds.filter((b) => b.id !== 'exact') ?? [];
  const seeds = report.config.seeds.length > 1;
  const rows = report.bounds.map((c) => {
    const exact = c.bounds.find((b) => b.id === 'exact')!.bytes;
    return [
      c.workload,
      c.label,
      c.budget,
      ...(seeds ? [String(c.seed)] : []),
      fmt(c.epsilon),
      fmtBytes(c.measuredBytes),
      fmtBytes(exact),
      ...first.map(({ id }) => {
        const b = c.bounds.find((x) => x.id === id)!;
        return b.bytes > exact ? `×${fmt(b.bytes / exact)} exact` : fmtBytes(b.bytes);
      }),
    ];
  });
  const names = first.map((b) => `${b.name}${b.kind === 'lower' && !/lower/i.test(b.name) ? ' (lower)' : ''}${b.constantVerified ? '' : ' *'}`);
  return markdownTable(['workload', 'policy', 'budget', ...(seeds ? ['seed'] : []), 'ε = normalised p90', 'measured per head', 'exact', ...names], rows);
}

/**
 * What the hard (lower-bound) workloads showed: the exact cache's error next to the best
 * compressed run's, per budget.
 * @param report - The report.
 * @returns Markdown lines (empty when there is no hard workload).
 * @example
 * ```ts
 * import { evaluate, hardInstanceSummary } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'index', n: 256, d: 16 }] });
 * console.log(hardInstanceSummary(report));
 * ```
 */
export function hardInstanceSummary(report: EvalReport): string {
  const lines: string[] = [];
  for (const w of report.workloads.filter((x) => x.hard)) {
    const runs = finished(report).filter((r) => r.workload === w.name);
    const exact = runs.filter((r) => r.budgetValue === null && r.compression <= 1.05);
    const compressed = runs.filter((r) => r.budgetValue !== null);
    const parts = [...new Set(compressed.map((r) => r.budget))].map((b) => {
      const best = compressed.filter((r) => r.budget === b).sort((x, y) => x.relative.median - y.relative.median)[0]!;
      return `best at ${b}: ${best.label}, median relative error ${fmt(best.relative.median)}`;
    });
    const exactText = exact.length > 0 ? `uncompressed (${exact.map((r) => r.label).join(', ')}): max relative error ${fmt(Math.max(...exact.map((r) => r.relative.max)))}` : 'no uncompressed run';
    lines.push(`- **${w.name}** (hard instance): ${exactText}; ${parts.length > 0 ? parts.join('; ') : 'no compressed run finished'}.`);
  }
  return lines.join('\n');
}

function protocol(report: EvalReport): string {
  const q = report.config.queries;
  return [
    `Decode protocol: each head is fed causally (append k_t, v_t, then answer q_t at every step); answers are scored at the query times (from ${q.from} of the stream, every ${q.every}) by the relative error ||z − Attn|| / ||Attn||, summarised by the median over query times per head, then the median over heads (min – max: the spread of the per-head medians).`,
    'Budgets written as fractions are fractions of the float32 bytes of the tokens seen (core\'s {fraction}, never below its value at the first query time); "held / budget" is the largest bytes held over the budget at a query time (⚠: over a byte budget); ★ marks the Pareto front of the workload (no run holds fewer bytes with a lower error).',
  ].join(' ');
}

function runLine(report: EvalReport): string {
  const failed = failures(report).length;
  return `${report.results.length} runs (${failed} failed) in ${(report.durationMs / 1000).toFixed(1)} s on ${report.environment.workers} thread(s) (Node ${report.environment.node}, ${report.environment.cpus} cores).`;
}

/**
 * The headline of a report: one ranking table per workload and budget (best first, error at
 * equal bytes, bytes held over the budget) and the Pareto plot of each workload.
 * @param report - The report.
 * @param plotFile - File name of a workload's Pareto plot, to link it (omit: no links).
 * @returns Markdown.
 * @example
 * ```ts
 * import { evaluate, headlineMarkdown } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * console.log(headlineMarkdown(report));
 * ```
 */
export function headlineMarkdown(report: EvalReport, plotFile?: (workload: string) => string): string {
  const lines = [`# kv-eval: ${report.name}`, '', runLine(report), '', protocol(report), ''];
  const all = rankings(report);
  for (const w of report.workloads) {
    lines.push(`## Ranking on ${w.name}`, '', `${w.description} (n = ${w.n}, d = ${w.d}, ${w.heads} head${w.heads === 1 ? '' : 's'}).`, '');
    for (const r of all.filter((x) => x.workload === w.name)) {
      if (r.rows.length === 0 && r.failed.length === 0) continue;
      lines.push(`### ${w.name} at ${r.budget}`, '', rankingTable(r), '');
    }
    if (plotFile) lines.push(`![Error vs memory on ${w.name}](${plotFile(w.name)})`, '');
  }
  return lines.join('\n');
}

/**
 * The whole report in markdown: the headline ({@link headlineMarkdown}), then the workloads,
 * every finished run, the per-head errors, the failed runs, and the theorems' space bounds.
 * @param report - The report.
 * @param plotFile - File name of a workload's Pareto plot, to link it (omit: no links).
 * @returns Markdown.
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { evaluate, markdownReport } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * writeFileSync('results.md', markdownReport(report));
 * ```
 */
export function markdownReport(report: EvalReport, plotFile?: (workload: string) => string): string {
  const failed = failedTable(report);
  const heads = headsTable(report);
  return [
    headlineMarkdown(report, plotFile),
    '## Workloads',
    '',
    workloadsTable(report),
    '',
    '## Every run',
    '',
    'error, p90, max: relative error (median over heads of the per-head median, p90 and max over query times); normalised: ||z − Attn|| / (||softmax||·||V||_F); bytes held at the last query time, summed over heads; fp32 / held: the float32 bytes of the tokens seen over the bytes held.',
    '',
    resultsTable(report),
    '',
    ...(heads ? ['## Per head', '', heads] : []),
    ...(failed ? ['## Failed runs', '', failed, ''] : []),
    ...(report.workloads.some((w) => w.hard) ? ['## Hard instances', '', hardInstanceSummary(report), ''] : []),
    '## Space bounds at the error reached',
    '',
    'Each theorem evaluated at the workload\'s (n, d, s, r) and the ε the run reached; * marks bounds whose constant is unverified (taken as 1). A space above the exact cache\'s is written ×N exact: at this n such a bound is vacuous (storing every token costs less).',
    '',
    boundsTable(report),
    '',
  ].join('\n');
}

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : typeof v === 'number' ? String(v) : typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The results as CSV, one row per run; a failed run has its error and empty number cells.
 * @param report - The report.
 * @returns CSV text with a header row.
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { evaluate, resultsCsv } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * writeFileSync('results.csv', resultsCsv(report));
 * ```
 */
export function resultsCsv(report: EvalReport): string {
  const header = [
    'workload', 'policy', 'label', 'params', 'budget', 'budget_value', 'seed', 'ok', 'error', 'queries',
    'rel_median', 'rel_p90', 'rel_max', 'rel_head_min', 'rel_head_max', 'norm_median', 'norm_p90', 'norm_max',
    'bytes', 'peak_bytes', 'budget_bytes', 'budget_ratio', 'over_budget', 'stored', 'compression', 'append_ns', 'attend_ns', 'chose',
  ];
  const lines = [header.join(',')];
  for (const r of report.results) {
    const id = [r.workload, r.policy, r.label, r.params, r.budget, r.budgetValue, r.seed, r.ok];
    const rest = r.ok
      ? ['', r.queries, r.relative.median, r.relative.p90, r.relative.max, r.relative.headMin, r.relative.headMax, r.normalized.median, r.normalized.p90, r.normalized.max,
        r.bytes, r.peakBytes, r.budgetBytes, r.budgetRatio, r.overBudget, r.stored, r.compression, r.appendNs, r.attendNs, r.chose]
      : [r.error, ...new Array<string>(header.length - id.length - 1).fill('')];
    lines.push([...id, ...rest].map(csvCell).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The per-head level as CSV: one row per head of every finished run.
 * @param report - The report.
 * @returns CSV text with a header row.
 * @example
 * ```ts
 * import { evaluate, headsCsv } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * headsCsv(report).split('\n')[0]; // the header
 * ```
 */
export function headsCsv(report: EvalReport): string {
  const header = ['workload', 'label', 'budget', 'seed', 'head', 'queries', 'rel_median', 'rel_p90', 'rel_max', 'norm_median', 'norm_p90', 'bytes', 'budget_bytes', 'budget_ratio'];
  const lines = [header.join(',')];
  for (const r of finished(report)) {
    for (const h of r.heads) {
      lines.push([r.workload, r.label, r.budget, r.seed, h.label, h.queries, h.relative.median, h.relative.p90, h.relative.max, h.normalized.median, h.normalized.p90, h.bytes, h.budgetBytes, h.budgetRatio].map(csvCell).join(','));
    }
  }
  return `${lines.join('\n')}\n`;
}
