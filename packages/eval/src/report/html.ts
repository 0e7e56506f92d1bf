import { markdownReport } from './tables.js';
import type { EvalReport } from './types.js';

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function inline(s: string): string {
  return escapeHtml(s).replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

function cells(line: string): string[] {
  return line
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((c) => inline(c.trim().replace(/\\\|/g, '|')));
}

// The subset of markdown the report writes: headings, paragraphs, tables, list items and images
// (replaced by the inline SVG of the plot they name).
function markdownToHtml(md: string, svgOf: (file: string) => string | undefined): string {
  const out: string[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const heading = /^(#{1,4}) (.*)$/.exec(line);
    const image = /^!\[([^\]]*)\]\(([^)]+)\)$/.exec(line);
    if (heading) out.push(`<h${heading[1]!.length}>${inline(heading[2]!)}</h${heading[1]!.length}>`);
    else if (image) {
      const svg = svgOf(image[2]!);
      out.push(svg ? `<figure>${svg.replace(/^<\?xml[^>]*>/, '')}<figcaption>${escapeHtml(image[1]!)}</figcaption></figure>` : `<p>${escapeHtml(image[1]!)}: ${escapeHtml(image[2]!)}</p>`);
    } else if (line.startsWith('|')) {
      const rows: string[] = [];
      while (i < lines.length && lines[i]!.startsWith('|')) rows.push(lines[i++]!);
      i--;
      const [head, , ...body] = rows;
      out.push(`<table><thead><tr>${cells(head!).map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${body.map((l) => `<tr>${cells(l).map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`);
    } else if (line.startsWith('- ')) out.push(`<ul><li>${inline(line.slice(2))}</li></ul>`);
    else out.push(`<p>${inline(line)}</p>`);
  }
  return out.join('\n');
}

/**
 * A self-contained HTML report with the content of the markdown report (rankings and Pareto
 * plots first, then every table) and the other plots at the end; SVG inline, no script, no
 * external file.
 *
 * @param report - The report.
 * @param plots - Rendered plots (file name, title and SVG text).
 * @param plotFile - The Pareto plot's file name of a workload, as the markdown links it.
 * @returns The HTML document.
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { evaluate, htmlReport, plotFile, renderSvg, reportPlots } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * const plots = await Promise.all(reportPlots(report).map(async (p) => ({ file: p.file, title: p.title, svg: await renderSvg(p.spec) })));
 * writeFileSync('report.html', htmlReport(report, plots, (w) => plotFile('pareto', w)));
 * ```
 */
export function htmlReport(report: EvalReport, plots: readonly { file: string; title: string; svg: string }[], plotFile: (workload: string) => string): string {
  const style = `body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;font-size:13px;margin:1em 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;vertical-align:top}th{background:#f3f3f3}td:nth-child(-n+3){text-align:left}
figure{display:inline-block;margin:1em;vertical-align:top}figcaption{font-size:13px;color:#444}`;
  const shown = new Set(report.workloads.map((w) => plotFile(w.name)));
  const body = markdownToHtml(markdownReport(report, plotFile), (file) => plots.find((p) => p.file === file)?.svg);
  const rest = plots.filter((p) => !shown.has(p.file));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kv-eval: ${escapeHtml(report.name)}</title><style>${style}</style></head>
<body>
${body}
<h2>More plots</h2>
${rest.map((p) => `<figure>${p.svg.replace(/^<\?xml[^>]*>/, '')}<figcaption>${escapeHtml(p.title)}</figcaption></figure>`).join('\n')}
</body></html>
`;
}
