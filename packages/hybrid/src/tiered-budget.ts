import { type Budget, budgetBytes, partBudget } from '@kv/core';

/** What a tiered cache's own rows cost: a sink row, a window row, and what its stores hold whatever the rows. */
export interface TierCosts {
  /** Bytes of one sink row (at the sinks' precision, with its position). */
  readonly sinkRow: number;
  /** Bytes of one window row (at the window's precision, with its position). */
  readonly windowRow: number;
  /** Bytes the sink and window stores hold whatever their rows (rotation signs, residual rings). */
  readonly fixed: number;
}

/** The sizes a tiered cache settles on for a budget, and what its middle gets. */
export interface TierPlan {
  /** Most sinks held. */
  readonly sinks: number;
  /** Most window tokens held (Infinity when it grows with the budget). */
  readonly window: number;
  /** Whether the budget grows with the stream (`{fraction}`): sinks and window are then capped token by token. */
  readonly growing: boolean;
  /** The middle's budget. */
  readonly middleBudget: Budget | undefined;
}

/** The requested window: a token count, or a share of the bytes the budget gives. */
export type WindowSize = { readonly tokens: number } | { readonly share: number };

/**
 * Sizes sinks and window for a budget and derives the middle's budget, so that sinks + window +
 * middle never hold more than the budget.
 *
 * - Token budgets count tokens: sinks and window shrink (keeping a token for the middle) and the
 *   middle gets the rest.
 * - `{bytes}`: the same in bytes at each part's row cost.
 * - `{fraction}` B(t) = f·ρ·t + off (ρ = 4(d+s)): sinks and window keep their sizes and are capped
 *   token by token (see {@link tierCaps}). With a fixed window the middle gets f of its stream
 *   shifted by S + W, minus the reserved rows charged at max(row, f·ρ) (a part cheaper than f·ρ per
 *   token still frees f·ρ of the middle's budget for each token it holds). With a window share,
 *   W(t) ≤ share·(B(t) − F)/R_w and the middle gets f'·ρ·m + off' with
 *   f' = f(1 − share)/(1 − f·share·ρ/R_w) when f·ρ ≤ R_w (else f' = f) and
 *   off' = f'·off/f − S·max(0, R_s − f'ρ) + c_w·F − F, c_w = share·max(0, 1 − f'ρ/R_w): the total
 *   is linear in the sinks and window held, so checking its largest corner bounds it by B(t)
 *   (likewise under `minBytes`).
 * - `{ratio}` is passed on; no budget, none.
 */
export function planTiers(budget: Budget | undefined, sinks: number, window: WindowSize, middle: boolean, costs: TierCosts, d: number, s: number): TierPlan {
  const rho = 4 * (d + s);
  if (budget === undefined || (typeof budget === 'object' && 'ratio' in budget)) {
    return { sinks, window: 'tokens' in window ? window.tokens : Infinity, growing: false, middleBudget: budget };
  }
  const spare = middle ? 1 : 0;
  if (typeof budget === 'number' || 'tokens' in budget) {
    const tokens = typeof budget === 'number' ? budget : budget.tokens;
    const kept = Math.min(sinks, Math.max(0, tokens - spare));
    const wanted = 'tokens' in window ? window.tokens : Math.floor(window.share * tokens);
    const win = Math.min(wanted, Math.max(0, tokens - kept - spare));
    return { sinks: kept, window: win, growing: false, middleBudget: partBudget(budget, { reservedRows: kept + win, reservedRowBytes: 0 }, d, s) };
  }
  const { sinkRow: Rs, windowRow: Rw, fixed: F } = costs;
  if ('bytes' in budget) {
    const free = budget.bytes - F;
    const kept = Math.min(sinks, Math.max(0, Math.floor((free - spare * Rw) / Rs)));
    const wanted = 'tokens' in window ? window.tokens : Math.floor((window.share * free) / Rw);
    const win = Math.min(wanted, Math.max(0, Math.floor((free - kept * Rs - spare * Rw) / Rw)));
    return { sinks: kept, window: win, growing: false, middleBudget: { bytes: Math.max(1, free - kept * Rs - win * Rw) } };
  }
  const f = budget.fraction;
  const off = budget.offsetBytes ?? 0;
  if ('tokens' in window) {
    const reserved = F + sinks * Math.max(Rs, f * rho) + window.tokens * Math.max(Rw, f * rho);
    const mid = partBudget(budget, { reservedRows: 1, reservedRowBytes: Math.ceil(reserved), seenShift: sinks + window.tokens }, d, s);
    return { sinks, window: window.tokens, growing: true, middleBudget: mid };
  }
  const share = window.share;
  const fraction = f * rho <= Rw ? (f * (1 - share)) / (1 - (f * share * rho) / Rw) : f;
  const cw = share * Math.max(0, 1 - (fraction * rho) / Rw);
  const offsetBytes = Math.floor((fraction * off) / f - sinks * Math.max(0, Rs - fraction * rho) + cw * F - F);
  const out: { fraction: number; offsetBytes: number; minBytes?: number } = { fraction, offsetBytes };
  if (budget.minBytes !== undefined) out.minBytes = Math.max(0, Math.floor((1 - share) * (budget.minBytes - F)) - sinks * Rs);
  return { sinks, window: Infinity, growing: true, middleBudget: out };
}

/**
 * The sinks and window a growing budget holds after `seen` tokens, given the sinks already held:
 * sinks first, then the window (its share of what the budget gives, or its size), never more than
 * the plan's sizes.
 */
export function tierCaps(plan: TierPlan, budget: Budget | undefined, seen: number, sinksHeld: number, share: number | undefined, costs: TierCosts, d: number, s: number): { sinks: number; window: number } {
  if (!plan.growing) return { sinks: plan.sinks, window: plan.window };
  const free = budgetBytes(budget, seen, d, s) - costs.fixed;
  const sinks = Math.max(0, Math.min(plan.sinks, Math.floor(free / costs.sinkRow)));
  const room = Math.max(0, Math.floor((free - sinksHeld * costs.sinkRow) / costs.windowRow));
  const wanted = share !== undefined ? Math.floor((share * free) / costs.windowRow) : plan.window;
  return { sinks, window: Math.max(0, Math.min(wanted, room)) };
}
