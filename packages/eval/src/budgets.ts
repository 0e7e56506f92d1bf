import type { Budget } from '@kv/core';
import { ConfigError } from './errors.js';
import { fmtBytes } from './report/format.js';

/**
 * A budget of an evaluation: a fraction of the float32 bytes of the tokens seen (core's
 * `{fraction}`), a fixed byte count per head (`{bytes}`), a fixed token count, core's ratio of
 * tokens seen, or `full` for policies that take no budget.
 *
 * @example
 * ```ts
 * import type { BudgetChoice } from '@kv/eval';
 * const b: BudgetChoice = { kind: 'fraction', value: 0.25, label: '1/4' };
 * ```
 */
export interface BudgetChoice {
  /** How `value` is read. */
  readonly kind: 'fraction' | 'bytes' | 'tokens' | 'ratio' | 'full';
  /** Fraction in (0, 1], bytes per head, token count, or ratio of tokens seen (0 for `full`). */
  readonly value: number;
  /** Label in tables (`1/4`, `64 KiB`, `64 tok`, `25% seen`). */
  readonly label: string;
}

const UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };

/**
 * What a budget in a config may look like, for error messages and help.
 *
 * @example
 * ```ts
 * import { BUDGET_SHAPES } from '@kv/eval';
 * console.log(`budgets: ${BUDGET_SHAPES}`);
 * ```
 */
export const BUDGET_SHAPES =
  '"1/4", "25%" or 0.25 (a fraction of the float32 bytes seen), "64 KiB" or {bytes: 65536} (bytes per head), an integer or {tokens: 64} (tokens), {fraction: 0.25} or {ratio: 0.25} (of the tokens seen)';

function fraction(v: number, label: string): BudgetChoice | undefined {
  return v > 0 && v <= 1 ? { kind: 'fraction', value: v, label } : undefined;
}

function bytes(v: number): BudgetChoice | undefined {
  return Number.isSafeInteger(v) && v >= 1 ? { kind: 'bytes', value: v, label: fmtBytes(v) } : undefined;
}

function tokens(v: unknown): BudgetChoice | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? { kind: 'tokens', value: v, label: `${v} tok` } : undefined;
}

function parseString(t: string): BudgetChoice | undefined {
  const frac = /^(\d+)\s*\/\s*(\d+)$/.exec(t);
  if (frac) return fraction(Number(frac[1]) / Number(frac[2]), `${frac[1]}/${frac[2]}`);
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(t);
  if (pct) return fraction(Number(pct[1]) / 100, t);
  const size = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)$/i.exec(t);
  if (size) return bytes(Math.round(Number(size[1]) * UNITS[size[2]!.toLowerCase()]!));
  if (/^\d+$/.test(t)) return tokens(Number(t));
  if (/^0?\.\d+$/.test(t)) return fraction(Number(t), t);
  return undefined;
}

/**
 * Parses a budget from a config: `"1/4"`, `"25%"`, a number in (0, 1) or `{fraction}` mean a
 * fraction of the float32 bytes of the tokens seen (core's `{fraction}`); `"64 KiB"`, `"4096 B"`
 * or `{bytes}` a fixed byte count per head; an integer ≥ 1 or `{tokens}` a token count; `{ratio}`
 * core's ratio of tokens seen.
 *
 * @param raw - The config value.
 * @returns The parsed budget.
 * @throws {@link ConfigError} for anything else.
 * @example
 * ```ts
 * import { parseBudget } from '@kv/eval';
 * parseBudget('1/8'); // { kind: 'fraction', value: 0.125, label: '1/8' }
 * parseBudget('64 KiB'); // { kind: 'bytes', value: 65536, label: '64.0 KiB' }
 * ```
 */
export function parseBudget(raw: unknown): BudgetChoice {
  let out: BudgetChoice | undefined;
  if (typeof raw === 'string') out = parseString(raw.trim());
  else if (typeof raw === 'number') out = raw > 0 && raw < 1 ? fraction(raw, String(raw)) : tokens(raw);
  else if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const o = raw as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const v = o[keys[0]!];
      if (keys[0] === 'tokens') out = tokens(v);
      else if (typeof v === 'number') {
        if (keys[0] === 'bytes') out = bytes(v);
        else if (keys[0] === 'fraction') out = fraction(v, `${+(v * 100).toFixed(3)}%`);
        else if (keys[0] === 'ratio' && v > 0 && v <= 1) out = { kind: 'ratio', value: v, label: `${+(v * 100).toFixed(2)}% tok` };
      }
    }
  }
  if (out) return out;
  throw new ConfigError(`budget ${JSON.stringify(raw) ?? String(raw)} is not understood; expected ${BUDGET_SHAPES}`);
}

/**
 * The budget used by policies that take none (`exact`, `balancekv-theory`): they run once per
 * workload and seed, labelled `full`.
 *
 * @example
 * ```ts
 * import { FULL_BUDGET, resolveBudget } from '@kv/eval';
 * resolveBudget(FULL_BUDGET, { keyDim: 64, valueDim: 64, firstQuery: 256 }); // undefined: no budget
 * ```
 */
export const FULL_BUDGET: BudgetChoice = { kind: 'full', value: 0, label: 'full' };

/**
 * What a budget is resolved against: the head's dimensions and its first query time.
 *
 * @example
 * ```ts
 * import type { BudgetContext } from '@kv/eval';
 * const ctx: BudgetContext = { keyDim: 64, valueDim: 64, firstQuery: 256 };
 * ```
 */
export interface BudgetContext {
  /** Key dimension d. */
  readonly keyDim: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /** First query time (0-based step) of the head. */
  readonly firstQuery: number;
}

/**
 * The core budget a choice gives one head. A fraction f becomes
 * `{ fraction: f, minBytes: f·4(d+s)·from }`: from the first query time on, the budget is exactly
 * f of the float32 bytes seen, and before it never smaller than at that time, so summaries of
 * fixed size can size themselves for the first query.
 *
 * @param choice - The parsed budget.
 * @param ctx - Dimensions and first query time of the head.
 * @returns A core `Budget` (undefined for `full`).
 * @example
 * ```ts
 * import { parseBudget, resolveBudget } from '@kv/eval';
 * resolveBudget(parseBudget('1/8'), { keyDim: 64, valueDim: 64, firstQuery: 256 }); // { fraction: 0.125, minBytes: 16384 }
 * ```
 */
export function resolveBudget(choice: BudgetChoice, ctx: BudgetContext): Budget | undefined {
  switch (choice.kind) {
    case 'fraction':
      return { fraction: choice.value, minBytes: Math.floor(choice.value * 4 * (ctx.keyDim + ctx.valueDim) * ctx.firstQuery) };
    case 'bytes':
      return { bytes: choice.value };
    case 'tokens':
      return choice.value;
    case 'ratio':
      return { ratio: choice.value };
    case 'full':
      return undefined;
  }
}
