import { fmt, fmtBytes } from './format.js';
import type { EvalReport } from './types.js';

function table(header: string[], rows: string[][]): string {
  const esc = (c: string): string => c.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/**
 * The results table in markdown: one row per run (seed column when there are several seeds),
 * grouped by workload.
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
  const header = [
    'workload',
    'policy',
    'budget',
    ...(seeds ? ['seed'] : []),
    'bytes',
    'ratio',
    'rel p50',
    'rel p90',
    'rel max',
    'norm p50',
    'norm p90',
    'norm max',
    'append µs',
    'attend µs',
  ];
  const rows = report.results.map((r) => [
    r.workload,
    r.label,
    r.budget,
    ...(seeds ? [String(r.seed)] : []),
    ...(r.ok
      ? [
          fmtBytes(r.bytes),
          `${fmt(r.compression)}×`,
          fmt(r.relative.median),
          fmt(r.relative.p90),
          fmt(r.relative.max),
          fmt(r.normalized.median),
          fmt(r.normalized.p90),
          fmt(r.normalized.max),
          fmt(r.appendNs / 1000),
          fmt(r.attendNs / 1000),
        ]
      : [`error: ${r.error ?? ''}`, '', '', '', '', '', '', '', '', '']),
  ]);
  return table(header, rows);
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
  return table(
    ['workload', 'family', 'n', 'd', 's', 'heads', 'r', 'ρ = r²τ', 'hard'],
    report.workloads.map((w) => [w.name, w.family, String(w.n), String(w.d), String(w.s), String(w.heads), fmt(w.radius), fmt(w.rho), w.hard ? 'yes' : 'no']),
  );
}

/**
 * Measured memory next to each theorem's space at the error the run reached (p90 normalised error).
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
  const ids = report.bounds[0]?.bounds.filter((b) => b.id !== 'exact').map((b) => b.id) ?? [];
  const names = report.bounds[0]?.bounds.filter((b) => b.id !== 'exact').map((b) => `${b.name}${b.constantVerified ? '' : '*'}`) ?? [];
  const seeds = report.config.seeds.length > 1;
  const rows = report.bounds.map((c) => [
    c.workload,
    c.label,
    c.budget,
    ...(seeds ? [String(c.seed)] : []),
    fmt(c.epsilon),
    fmtBytes(c.measuredBytes),
    ...ids.map((id) => {
      const b = c.bounds.find((x) => x.id === id)!;
      return `${fmtBytes(b.bytes)}${b.vacuous ? ' (>exact)' : ''}`;
    }),
  ]);
  return table(['workload', 'policy', 'budget', ...(seeds ? ['seed'] : []), 'ε = norm p90', 'measured', ...names], rows);
}

/**
 * What the hard (lower-bound) workloads showed: the exact cache's error next to the best
 * compressed run's, per budget.
 * @param report - The report.
 * @returns Markdown lines (empty when there is no hard workload).
 * @example
 * ```ts
 * import { evaluate, hardInstanceSummary } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * console.log(hardInstanceSummary(report));
 * ```
 */
export function hardInstanceSummary(report: EvalReport): string {
  const lines: string[] = [];
  for (const w of report.workloads.filter((x) => x.hard)) {
    const runs = report.results.filter((r) => r.workload === w.name && r.ok);
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

/**
 * The whole markdown report: workloads, results, and bounds at the errors reached.
 * @param report - The report.
 * @returns Markdown.
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { evaluate, markdownReport } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * writeFileSync('results.md', markdownReport(report));
 * ```
 */
export function markdownReport(report: EvalReport): string {
  return [
    `# kv-eval: ${report.name}`,
    '',
    `${report.results.length} runs in ${(report.durationMs / 1000).toFixed(1)} s on ${report.environment.workers} thread(s) (Node ${report.environment.node}, ${report.environment.cpus} cores).`,
    'Errors are over every asked query of the stream: relative ||z − Attn||/||Attn|| and normalised ||z − Attn||/(||softmax||·||V||_F); bytes are held at the end; ratio = fp32 full cache / bytes.',
    '',
    '## Workloads',
    '',
    workloadsTable(report),
    '',
    '## Results',
    '',
    resultsTable(report),
    '',
    ...(report.workloads.some((w) => w.hard) ? [hardInstanceSummary(report), ''] : []),
    '## Space bounds at the error reached',
    '',
    'Each theorem evaluated at the workload\'s (n, d, s, r) and the ε the run reached; * marks bounds whose constant is unverified (taken as 1). "(>exact)" marks upper bounds above the exact cache.',
    '',
    boundsTable(report),
    '',
  ].join('\n');
}

function csvCell(v: unknown): string {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The results as CSV, one row per run with every scalar metric.
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
    'rel_median', 'rel_p90', 'rel_max', 'rel_mean', 'norm_median', 'norm_p90', 'norm_max', 'norm_mean',
    'bytes', 'peak_bytes', 'stored', 'compression', 'append_ns', 'attend_ns',
  ];
  const lines = [header.join(',')];
  for (const r of report.results) {
    lines.push(
      [
        r.workload, r.policy, r.label, r.params, r.budget, r.budgetValue, r.seed, r.ok, r.error ?? '', r.queries,
        r.relative.median, r.relative.p90, r.relative.max, r.relative.mean,
        r.normalized.median, r.normalized.p90, r.normalized.max, r.normalized.mean,
        r.bytes, r.peakBytes, r.stored, r.compression, r.appendNs, r.attendNs,
      ].map(csvCell).join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
