// Append throughput of the compressing policies the issue names (BalanceKV, KIVI int4), one head,
// d = s = 128, random keys and values, tokens per second per head.
import { type Budget, type PolicyRegistry, Rng } from '@kv/core';
import { median } from './stats.js';

/** One policy's figures. */
export interface AppendFigure {
  readonly label: string;
  /** Tokens per second per head, one value per round (empty when the policy failed). */
  readonly rates: number[];
  readonly error?: string;
}

/** A policy to time. */
export interface AppendCase {
  readonly label: string;
  readonly policy: string;
  readonly params?: Record<string, unknown>;
  readonly budget?: Budget;
}

/** Streams `n` tokens into a fresh cache per round and times the appends only. */
export function compareAppend(registry: PolicyRegistry, cases: readonly AppendCase[], d: number, n: number, rounds: number): AppendFigure[] {
  const rng = new Rng(7);
  const pool = Array.from({ length: 256 }, () => rng.fillGaussian(new Float32Array(2 * d), 1).subarray(0, 2 * d));
  const keys = pool.map((p) => p.slice(0, d));
  const values = pool.map((p) => p.slice(d));
  return cases.map((c) => {
    const rates: number[] = [];
    try {
      for (let r = 0; r < rounds; r++) {
        const cache = registry.create({ policy: c.policy, keyDim: d, valueDim: d, seed: r, ...(c.params ? { params: c.params } : {}), ...(c.budget !== undefined ? { budget: c.budget } : {}) });
        const t0 = performance.now();
        for (let t = 0; t < n; t++) cache.append(keys[t & 255]!, values[t & 255]!);
        rates.push((n / (performance.now() - t0)) * 1000);
      }
      return { label: c.label, rates };
    } catch (e) {
      return { label: c.label, rates: [], error: `${(e as Error).name}: ${(e as Error).message.split('\n')[0]}` };
    }
  });
}

export { median };
