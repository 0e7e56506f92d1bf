/**
 * A markdown table; `|` inside cells is escaped.
 * @param header - Column titles.
 * @param rows - Cells, row by row.
 * @returns Markdown.
 * @example
 * ```ts
 * import { markdownTable } from '@kv/eval';
 * markdownTable(['a', 'b'], [['1', '2']]); // "| a | b |\n| --- | --- |\n| 1 | 2 |"
 * ```
 */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (c: string): string => c.replace(/\|/g, '\\|');
  return [`| ${header.map(esc).join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}
