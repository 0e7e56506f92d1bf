import type { RunOk, RunResult } from '../runner.js';
import { quantileSorted } from '../stats.js';
import { fmt, fmtBytes, fmtRatio } from './format.js';
import { markdownTable } from './markdown.js';
import type { EvalReport } from './types.js';

/**
 * One line of a ranking: a policy at one budget on one workload (its seeds combined by median).
 *
 * @example
 * ```ts
 * import type { RankedRow } from '@kv/eval';
 * const line = (r: RankedRow) => `${r.rank ?? 'over'} ${r.label} ${r.error}`;
 * ```
 */
export interface RankedRow {
  /** 1 for the best; null for a row over its byte budget (listed after the ranked ones). */
  rank: number | null;
  /** Policy label. */
  label: string;
  /** Policy name. */
  policy: string;
  /** Median relative error (over query times, then heads; median over seeds). */
  error: number;
  /** Smallest and largest per-head median. */
  headMin: number;
  /** Largest per-head median. */
  headMax: number;
  /** Bytes held at the last query time, summed over heads (largest over seeds). */
  bytes: number;
  /** Largest bytes held / budget at a query time (null: no budget). */
  budgetRatio: number | null;
  /** Whether a byte budget was exceeded. */
  overBudget: boolean;
  /**
   * Whether the row is on the Pareto front of its workload: no finished run within its bytes
   * (any policy, any budget) holds no more bytes and has a lower error.
   */
  front: boolean;
  /** What the cache chose (first seed, first head). */
  chose: string;
}

/**
 * The ranking of one workload at one budget.
 *
 * @example
 * ```ts
 * import type { Ranking } from '@kv/eval';
 * const best = (r: Ranking) => r.rows[0]?.label;
 * ```
 */
export interface Ranking {
  /** Workload name. */
  workload: string;
  /** Budget label. */
  budget: string;
  /** Ranked rows (best first), then rows over budget. */
  rows: RankedRow[];
  /** Labels of the runs that failed at this budget. */
  failed: string[];
}

function median(values: number[]): number {
  return quantileSorted(Float64Array.from(values).sort(), 0.5);
}

function combine(runs: RunOk[]): RankedRow {
  const first = runs[0]!;
  const ratios = runs.map((r) => r.budgetRatio).filter((x): x is number => x !== null);
  return {
    rank: null,
    label: first.label,
    policy: first.policy,
    error: median(runs.map((r) => r.relative.median)),
    headMin: median(runs.map((r) => r.relative.headMin)),
    headMax: median(runs.map((r) => r.relative.headMax)),
    bytes: Math.max(...runs.map((r) => r.bytes)),
    budgetRatio: ratios.length > 0 ? Math.max(...ratios) : null,
    overBudget: runs.some((r) => r.overBudget),
    front: false,
    chose: first.chose,
  };
}

/**
 * The rankings of a report: for each workload and each budget (not `full`), the finished runs
 * best first by median relative error at equal memory; rows over their byte budget are not
 * ranked and come last.
 *
 * @param report - The report.
 * @returns One ranking per workload and budget, in config order.
 * @example
 * ```ts
 * import { evaluate, rankings } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * rankings(report)[0]!.rows[0]!.label;
 * ```
 */
export function rankings(report: EvalReport): Ranking[] {
  const out: Ranking[] = [];
  for (const w of report.workloads) {
    const first = out.length;
    for (const b of report.config.budgets) {
      const runs = report.results.filter((r: RunResult) => r.workload === w.name && r.budget === b.label);
      const byLabel = new Map<string, RunOk[]>();
      for (const r of runs) if (r.ok) byLabel.set(r.label, [...(byLabel.get(r.label) ?? []), r]);
      const rows = [...byLabel.values()].map(combine);
      const within = rows.filter((r) => !r.overBudget).sort((a, c) => a.error - c.error || a.bytes - c.bytes);
      within.forEach((r, i) => (r.rank = i + 1));
      const over = rows.filter((r) => r.overBudget).sort((a, c) => a.error - c.error);
      out.push({ workload: w.name, budget: b.label, rows: [...within, ...over], failed: [...new Set(runs.filter((r) => !r.ok).map((r) => r.label))] });
    }
    markFront(out.slice(first).flatMap((r) => r.rows.filter((x) => !x.overBudget)));
  }
  return out;
}

// The Pareto front in (bytes, error): sorted by bytes, a row is on it when its error is below
// every error at fewer or equal bytes.
function markFront(rows: RankedRow[]): void {
  let best = Infinity;
  for (const r of [...rows].sort((a, b) => a.bytes - b.bytes || a.error - b.error)) {
    if (r.error < best) {
      r.front = true;
      best = r.error;
    }
  }
}

/**
 * A ranking as a markdown table: rank, policy, median error, its spread over heads, bytes held
 * and bytes held over the budget; ★ marks the workload's Pareto front (error vs bytes over all
 * budgets), ⚠ a row over its byte budget; failed runs are named below.
 *
 * @param ranking - One ranking.
 * @returns Markdown.
 * @example
 * ```ts
 * import { evaluate, rankingTable, rankings } from '@kv/eval';
 * const report = await evaluate({ policies: ['exact', 'sliding-window'], workloads: [{ family: 'gaussian', n: 256, d: 16 }] });
 * console.log(rankingTable(rankings(report)[0]!));
 * ```
 */
export function rankingTable(ranking: Ranking): string {
  const rows = ranking.rows.map((r) => [
    r.rank === null ? 'over budget' : String(r.rank),
    `${r.label}${r.front ? ' ★' : ''}`,
    fmt(r.error),
    `${fmt(r.headMin)} – ${fmt(r.headMax)}`,
    fmtBytes(r.bytes),
    r.budgetRatio === null ? '–' : `${fmtRatio(r.budgetRatio)}${r.overBudget ? ' ⚠' : ''}`,
  ]);
  const table = markdownTable(['#', 'policy', 'error (median)', 'heads (min – max)', 'bytes held', 'held / budget'], rows);
  return ranking.failed.length > 0 ? `${table}\n\nFailed at ${ranking.budget}: ${ranking.failed.join(', ')} (see "Failed runs").` : table;
}
