import { boundsTable, resultsTable, workloadsTable } from './tables.js';
import type { EvalReport } from './types.js';

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function markdownTableToHtml(md: string): string {
  const lines = md.split('\n').filter((l) => l.startsWith('|'));
  const cells = (l: string): string[] =>
    l
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => escapeHtml(c.trim().replace(/\\\|/g, '|')));
  const [head, , ...body] = lines;
  return `<table><thead><tr>${cells(head!).map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${body
    .map((l) => `<tr>${cells(l).map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/**
 * A self-contained HTML report: the tables and the SVG plots inline (no script, no external file).
 *
 * @param report - The report.
 * @param plots - Rendered plots (title and SVG text).
 * @returns The HTML document.
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { evaluate, htmlReport, renderSvg, reportPlots } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * const plots = await Promise.all(reportPlots(report).map(async (p) => ({ title: p.title, svg: await renderSvg(p.spec) })));
 * writeFileSync('report.html', htmlReport(report, plots));
 * ```
 */
export function htmlReport(report: EvalReport, plots: readonly { title: string; svg: string }[]): string {
  const style = `body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;font-size:13px;margin:1em 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f3f3f3}td:nth-child(-n+3){text-align:left}
figure{display:inline-block;margin:1em;vertical-align:top}figcaption{font-size:13px;color:#444}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kv-eval: ${escapeHtml(report.name)}</title><style>${style}</style></head>
<body>
<h1>kv-eval: ${escapeHtml(report.name)}</h1>
<p>${report.results.length} runs in ${(report.durationMs / 1000).toFixed(1)} s on ${report.environment.workers} thread(s), Node ${escapeHtml(report.environment.node)}.
Relative error ||z − Attn||/||Attn||; normalised error ||z − Attn||/(||softmax||·||V||<sub>F</sub>); ratio = fp32 full cache / bytes held.</p>
<h2>Workloads</h2>
${markdownTableToHtml(workloadsTable(report))}
<h2>Results</h2>
${markdownTableToHtml(resultsTable(report))}
<h2>Plots</h2>
${plots.map((p) => `<figure>${p.svg.replace(/^<\?xml[^>]*>/, '')}<figcaption>${escapeHtml(p.title)}</figcaption></figure>`).join('\n')}
<h2>Space bounds at the error reached</h2>
<p>* constant unverified (taken as 1); “(&gt;exact)”: the upper bound exceeds the exact cache.</p>
${markdownTableToHtml(boundsTable(report))}
</body></html>
`;
}
