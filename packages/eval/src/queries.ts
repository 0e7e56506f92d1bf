import { ConfigError } from './errors.js';

/**
 * When queries are scored: from step `from` on, every `every` steps. Each is an integer step
 * count or a fraction of the stream length written `"a/b"` (`"1/4"` is step ⌊n/4⌋). Every query
 * of the stream is answered (query-aware policies see them all); only these times are scored.
 *
 * @example
 * ```ts
 * import type { QuerySchedule } from '@kv/eval';
 * const q: QuerySchedule = { from: '1/4', every: '1/32' }; // the default
 * ```
 */
export interface QuerySchedule {
  /** First scored step: an integer ≥ 0 or `"a/b"` of n (default `"1/4"`). */
  readonly from?: number | string;
  /** Steps between scored queries: an integer ≥ 1 or `"a/b"` of n (default `"1/32"`). */
  readonly every?: number | string;
}

/**
 * The default schedule: from n/4, every n/32 (24 scored queries per head).
 *
 * @example
 * ```ts
 * import { DEFAULT_QUERIES, queryTimes } from '@kv/eval';
 * queryTimes(1024, DEFAULT_QUERIES).length; // 24
 * ```
 */
export const DEFAULT_QUERIES: Required<QuerySchedule> = { from: '1/4', every: '1/32' };

const FRACTION = /^\s*(\d+)\s*\/\s*(\d+)\s*$/;

function fieldOk(v: unknown, min: number): boolean {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= min;
  if (typeof v !== 'string') return false;
  const m = FRACTION.exec(v);
  return m !== null && Number(m[2]) > 0 && Number(m[1]) / Number(m[2]) <= 1 && (min === 0 || Number(m[1]) > 0);
}

/**
 * Validates a schedule from a config and fills its defaults.
 *
 * @param raw - The config value (undefined: the default).
 * @param where - The config field, for messages.
 * @returns The schedule with both fields.
 * @throws {@link ConfigError} naming the field and the expected shape.
 * @example
 * ```ts
 * import { parseQuerySchedule } from '@kv/eval';
 * parseQuerySchedule({ every: 16 }, 'queries'); // { from: '1/4', every: 16 }
 * ```
 */
export function parseQuerySchedule(raw: unknown, where: string): Required<QuerySchedule> {
  if (raw === undefined) return DEFAULT_QUERIES;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${where} is ${JSON.stringify(raw)}, expected {from?, every?} (integers or "a/b" of the stream length)`);
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'from' && k !== 'every') throw new ConfigError(`${where} has no field "${k}"; its fields are from, every`);
  if (o['from'] !== undefined && !fieldOk(o['from'], 0)) {
    throw new ConfigError(`${where}.from is ${JSON.stringify(o['from'])}, expected an integer >= 0 or "a/b" (a fraction of the stream length)`);
  }
  if (o['every'] !== undefined && !fieldOk(o['every'], 1)) {
    throw new ConfigError(`${where}.every is ${JSON.stringify(o['every'])}, expected an integer >= 1 or "a/b" (a fraction of the stream length)`);
  }
  return { from: (o['from'] as number | string | undefined) ?? DEFAULT_QUERIES.from, every: (o['every'] as number | string | undefined) ?? DEFAULT_QUERIES.every };
}

function steps(v: number | string, n: number): number {
  if (typeof v === 'number') return v;
  const m = FRACTION.exec(v)!;
  return Math.floor((n * Number(m[1])) / Number(m[2]));
}

/**
 * The scored query times of a stream of n steps: `from, from + every, …` below n, never before
 * `firstQuery` (the hard instance asks nothing during its storage phase). A stream too short for
 * the schedule is scored at its last step.
 *
 * @param n - Stream length.
 * @param schedule - The schedule (default {@link DEFAULT_QUERIES}).
 * @param firstQuery - First step that may be asked (default 0).
 * @returns Ascending 0-based steps.
 * @example
 * ```ts
 * import { queryTimes } from '@kv/eval';
 * queryTimes(64, { from: '1/4', every: '1/8' }); // [16, 24, 32, 40, 48, 56]
 * ```
 */
export function queryTimes(n: number, schedule: QuerySchedule = DEFAULT_QUERIES, firstQuery = 0): Int32Array {
  const from = Math.max(steps(schedule.from ?? DEFAULT_QUERIES.from, n), firstQuery);
  const every = Math.max(1, steps(schedule.every ?? DEFAULT_QUERIES.every, n));
  const out: number[] = [];
  for (let t = from; t < n; t += every) out.push(t);
  if (out.length === 0 && n > 0) out.push(n - 1);
  return Int32Array.from(out);
}
