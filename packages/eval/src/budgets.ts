import type { Budget } from '@kv/core';
import { ConfigError } from './errors.js';

/**
 * A budget of an evaluation: a fraction of the stream length (turned into a fixed token count per
 * workload), a fixed token count, core's ratio of tokens seen, or `full` for policies without budget.
 *
 * @example
 * ```ts
 * import type { BudgetChoice } from '@kv/eval';
 * const b: BudgetChoice = { kind: 'fraction', value: 0.25, label: '1/4' };
 * ```
 */
export interface BudgetChoice {
  /** How `value` is read. */
  readonly kind: 'fraction' | 'tokens' | 'ratio' | 'full';
  /** Fraction in (0, 1], token count, or ratio of tokens seen (0 for `full`). */
  readonly value: number;
  /** Label in tables (`1/4`, `64 tok`, `25% seen`). */
  readonly label: string;
}

/**
 * Parses a budget from a config: `"1/4"`, `"25%"` or a number in (0, 1) mean a fraction of the
 * stream length; an integer ≥ 1 or `{tokens}` a token count; `{ratio}` core's ratio of tokens seen.
 *
 * @param raw - The config value.
 * @returns The parsed budget.
 * @throws {@link ConfigError} for anything else.
 * @example
 * ```ts
 * import { parseBudget } from '@kv/eval';
 * parseBudget('1/8'); // { kind: 'fraction', value: 0.125, label: '1/8' }
 * ```
 */
export function parseBudget(raw: unknown): BudgetChoice {
  if (typeof raw === 'string') {
    const t = raw.trim();
    const frac = /^(\d+)\s*\/\s*(\d+)$/.exec(t);
    if (frac) {
      const v = Number(frac[1]) / Number(frac[2]);
      if (v > 0 && v <= 1) return { kind: 'fraction', value: v, label: `${frac[1]}/${frac[2]}` };
    }
    const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(t);
    if (pct) {
      const v = Number(pct[1]) / 100;
      if (v > 0 && v <= 1) return { kind: 'fraction', value: v, label: t };
    }
    if (/^\d+$/.test(t)) return parseBudget(Number(t));
    if (/^0?\.\d+$/.test(t)) return parseBudget(Number(t));
  } else if (typeof raw === 'number') {
    if (raw > 0 && raw < 1) return { kind: 'fraction', value: raw, label: String(raw) };
    if (Number.isInteger(raw) && raw >= 1) return { kind: 'tokens', value: raw, label: `${raw} tok` };
  } else if (typeof raw === 'object' && raw !== null) {
    const o = raw as Record<string, unknown>;
    if (typeof o['tokens'] === 'number' && Number.isInteger(o['tokens']) && o['tokens'] >= 1) {
      return { kind: 'tokens', value: o['tokens'], label: `${o['tokens']} tok` };
    }
    if (typeof o['ratio'] === 'number' && o['ratio'] > 0 && o['ratio'] <= 1) {
      return { kind: 'ratio', value: o['ratio'], label: `${+(o['ratio'] * 100).toFixed(2)}% seen` };
    }
  }
  throw new ConfigError(`budget ${JSON.stringify(raw)} is not understood; expected "1/4", "25%", 0.25 (fractions of the stream), an integer token count, {tokens} or {ratio}`);
}

/**
 * The budget used by policies that take none (`exact`, `balancekv-theory`): they run once per
 * workload and seed, labelled `full`.
 *
 * @example
 * ```ts
 * import { FULL_BUDGET, resolveBudget } from '@kv/eval';
 * resolveBudget(FULL_BUDGET, 512); // undefined: the policy gets no budget
 * ```
 */
export const FULL_BUDGET: BudgetChoice = { kind: 'full', value: 0, label: 'full' };

/**
 * The core budget a choice means for a stream of length n (undefined for `full`).
 *
 * @param choice - The parsed budget.
 * @param n - Stream length.
 * @returns A core `Budget`.
 * @example
 * ```ts
 * import { resolveBudget } from '@kv/eval';
 * resolveBudget({ kind: 'fraction', value: 0.25, label: '1/4' }, 512); // 128
 * ```
 */
export function resolveBudget(choice: BudgetChoice, n: number): Budget | undefined {
  switch (choice.kind) {
    case 'fraction':
      return Math.max(1, Math.round(choice.value * n));
    case 'tokens':
      return choice.value;
    case 'ratio':
      return { ratio: choice.value };
    case 'full':
      return undefined;
  }
}
