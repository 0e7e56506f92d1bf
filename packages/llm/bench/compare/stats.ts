import { loadavg } from 'node:os';

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A ratio measured over several interleaved rounds: the median and the spread of the rounds. */
export interface Ratio {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** The median of per-round ratios, with their range (the noise of the measurement). */
export function ratioOf(ours: readonly number[], theirs: readonly number[]): Ratio {
  const r = ours.map((x, i) => x / theirs[i]!);
  return { median: median(r), min: Math.min(...r), max: Math.max(...r) };
}

/** `0.93× (0.88–0.97)`. */
export function formatRatio(r: Ratio): string {
  return `${r.median.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})`;
}

/** The 1-minute load average, for the header of each table. */
export function load(): string {
  return loadavg()[0]!.toFixed(2);
}
