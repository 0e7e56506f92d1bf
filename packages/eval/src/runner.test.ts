import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BaseHeadCache, type CacheState, capacityRows, type KernelSums, type PolicyDefinition, SlotStore, type StateReader } from '@kv/core';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBudget } from './budgets.js';
import { expandJobs, resolveConfig } from './config.js';
import { PreparedCache } from './job-context.js';
import { runJobs } from './pool.js';
import { prepareWorkload } from './prepare.js';
import { DEFAULT_QUERIES, queryTimes } from './queries.js';
import { type RunJob, runJob, type RunOk, type RunResult } from './runner.js';
import { createRegistry } from './test-fixtures/policies.js';
import { writeNpyTrace } from './workloads/traces.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-eval-runner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Holds every token whatever its budget (to show that the runner flags a row over budget), and
// counts the queries it is asked.
class Hoarder extends BaseHeadCache {
  static attends = 0;
  private readonly store = new SlotStore(this.keyDim, this.valueDim);
  get stored(): number {
    return this.store.count;
  }
  protected onAppend(k: Float32Array, v: Float32Array, pos: number): void {
    this.store.push(k, 0, v, 0, pos, 0);
  }
  protected onSums(q: Float32Array, out: KernelSums): KernelSums {
    Hoarder.attends++;
    return this.store.sums(q, this.tau, out);
  }
  protected onReset(): void {
    this.store.clear();
  }
  protected saveState(): CacheState {
    return { scalars: {}, arrays: {}, parts: { store: this.store.state() } };
  }
  protected restoreState(r: StateReader): void {
    this.store.loadState(r.part('store'));
  }
}
const hoarder: PolicyDefinition = { name: 'test-hoarder', summary: 'keeps everything', params: [], budget: 'optional', create: (spec) => new Hoarder(spec) };
const breaker: PolicyDefinition = {
  name: 'test-breaker',
  summary: 'throws at step 40',
  params: [],
  budget: 'optional',
  create: (spec) => {
    const inner = new Hoarder(spec);
    const append = inner.append.bind(inner);
    inner.append = (k, v) => {
      if (inner.seen === 40) throw new RangeError('broken on purpose');
      append(k, v);
    };
    return inner;
  },
};
const registry = createRegistry().register(hoarder, breaker);

function withoutTimings(results: RunResult[]): unknown[] {
  return results.map((r) => (r.ok ? { ...r, appendNs: 0, attendNs: 0 } : r));
}

function ok(r: RunResult): RunOk {
  if (!r.ok) throw new Error(`run failed: ${r.error}`);
  return r;
}

const job = (over: Partial<RunJob>): RunJob => ({
  index: 0,
  policy: { policy: 'test-window' },
  budget: parseBudget('1/4'),
  workload: { family: 'gaussian', n: 256, d: 8 },
  workloadIndex: 0,
  seed: 0,
  queries: DEFAULT_QUERIES,
  ...over,
});

describe('query times', () => {
  it('default: from n/4 every n/32; integers and fractions; never before firstQuery; the last step of a short stream', () => {
    const t = queryTimes(1024);
    expect(t.length).toBe(24);
    expect([t[0], t[1], t[23]]).toEqual([256, 288, 992]);
    expect([...queryTimes(64, { from: '1/4', every: '1/8' })]).toEqual([16, 24, 32, 40, 48, 56]);
    expect([...queryTimes(10, { from: 2, every: 3 })]).toEqual([2, 5, 8]);
    expect([...queryTimes(10, { from: 2, every: 3 }, 6)]).toEqual([6, 9]);
    expect([...queryTimes(3, { from: 5, every: 1 })]).toEqual([2]);
    expect([...queryTimes(8, { from: 0, every: '1/32' })]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('runner (decode protocol)', () => {
  it('scores a hand-computable stream: a 1-token window against exact', () => {
    // Two tokens with equal logits (zero keys): exact answers [1, 0] at t = 0 and [0.5, 0.5] at
    // t = 1; the window keeps only token 1 and answers [0, 1]. At t = 1: ||diff|| = √0.5,
    // relative = √0.5/√0.5 = 1; normalised = √0.5 / (||softmax|| = √0.5 · ||V||_F = √2) = √0.5/1.
    const folder = join(dir, 'hand');
    writeNpyTrace(folder, [
      { layer: 0, head: 0, stream: { label: 'h', length: 2, keyDim: 2, valueDim: 2, queries: Float32Array.from([1, 0, 0, 1]), keys: new Float32Array(4), values: Float32Array.from([1, 0, 0, 1]) } },
    ]);
    const spec = { family: 'npy', path: folder } as const;
    const queries = { from: 0, every: 1 };
    const r = ok(runJob(registry, job({ budget: parseBudget(1), workload: spec, queries }), prepareWorkload(spec, 0, queries)));
    expect(r.queries).toBe(2);
    expect(r.series.step).toEqual([0, 1]);
    expect(r.series.relative[0]).toBe(0);
    expect(r.series.relative[1]).toBeCloseTo(1, 6);
    expect(r.series.normalized[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(r.relative.max).toBeCloseTo(1, 6);
    expect(r.relative.median).toBeCloseTo(0.5, 6);
    expect(r.relative.p90).toBeCloseTo(0.9, 6);
    expect(r.heads[0]!.relative.median).toBeCloseTo(0.5, 6);
    expect(r.stored).toBe(1);
    expect(r.compression).toBeCloseTo((4 * 2 * 4) / r.bytes, 12);
    const exact = ok(runJob(registry, job({ policy: { policy: 'exact' }, budget: { kind: 'full', value: 0, label: 'full' }, workload: spec, queries }), prepareWorkload(spec, 0, queries)));
    expect(exact.relative.max).toBe(0);
    expect(exact.budgetValue).toBeNull();
    expect(exact.budgetRatio).toBeNull();
  });

  it('a fraction budget is f of the float32 bytes seen, floored at its value at the first query time', () => {
    const w = { family: 'gaussian', n: 256, d: 8 } as const;
    const r = ok(runJob(registry, job({ workload: w }), prepareWorkload(w, 0)));
    // d = s = 8: 64 bytes per float32 row; the first query time is 64.
    expect(r.budgetValue).toEqual({ fraction: 0.25, minBytes: 0.25 * 64 * 64 });
    // The window keeps 64 B + 4 B (its rank) per row: at the last query time t = 248 it holds
    // ⌊0.25·64·249 / 68⌋ rows.
    const rows = capacityRows(r.budgetValue!, 249, { fixed: 0, perRow: 68 }, 8, 8);
    expect(rows).toBe(Math.floor((0.25 * 64 * 249) / 68));
    expect(r.stored).toBe(rows);
    expect(r.bytes).toBe(rows * 68);
    expect(r.budgetBytes).toBe(Math.floor(0.25 * 64 * 249));
    expect(r.budgetRatio).toBeLessThanOrEqual(1);
    expect(r.budgetRatio).toBeGreaterThan(0.95);
    expect(r.overBudget).toBe(false);
    expect(r.compression).toBeCloseTo((64 * 249) / r.bytes, 12);
    // {bytes} is a fixed size per head.
    const b = ok(runJob(registry, job({ workload: w, budget: parseBudget('2 KiB') }), prepareWorkload(w, 0)));
    expect(b.budgetValue).toEqual({ bytes: 2048 });
    expect(b.bytes).toBe(Math.floor(2048 / 68) * 68);
  });

  it('flags a row over its byte budget, and not a token budget', () => {
    const w = { family: 'gaussian', n: 128, d: 4 } as const;
    const over = ok(runJob(registry, job({ policy: { policy: 'test-hoarder' }, workload: w }), prepareWorkload(w, 0)));
    expect(over.overBudget).toBe(true);
    expect(over.budgetRatio).toBeGreaterThan(3);
    const tokens = ok(runJob(registry, job({ policy: { policy: 'test-hoarder' }, workload: w, budget: parseBudget(8) }), prepareWorkload(w, 0)));
    expect(tokens.overBudget).toBe(false);
    expect(tokens.budgetRatio).toBeGreaterThan(1);
  });

  it('answers every query of the stream, and scores only the query times', () => {
    const w = { family: 'gaussian', n: 128, d: 4 } as const;
    Hoarder.attends = 0;
    const r = ok(runJob(registry, job({ policy: { policy: 'test-hoarder' }, workload: w, budget: parseBudget(1000) }), prepareWorkload(w, 0)));
    // query times 32, 36, …, 124: 24 scored, 125 answered (0..124).
    expect(r.queries).toBe(24);
    expect(Hoarder.attends).toBe(125);
  });

  it('summarises per head over query times, then over heads', () => {
    const folder = join(dir, 'two-heads');
    const w = prepareWorkload({ family: 'gaussian', n: 64, d: 4 }, 1).workload.heads[0]!;
    const w2 = prepareWorkload({ family: 'clustered', n: 64, d: 4 }, 2).workload.heads[0]!;
    writeNpyTrace(folder, [
      { layer: 0, head: 0, stream: w },
      { layer: 1, head: 0, stream: w2 },
    ]);
    const spec = { family: 'npy', path: folder } as const;
    const r = ok(runJob(registry, job({ workload: spec }), prepareWorkload(spec, 0)));
    const [a, b] = r.heads.map((h) => h.relative.median);
    expect(r.heads.map((h) => h.label)).toEqual(['L0.H0', 'L1.H0']);
    expect(r.relative.median).toBeCloseTo((a! + b!) / 2, 12);
    expect(r.relative.headMin).toBe(Math.min(a!, b!));
    expect(r.relative.headMax).toBe(Math.max(a!, b!));
    expect(r.relative.max).toBe(Math.max(...r.heads.map((h) => h.relative.max)));
    expect(r.bytes).toBe(r.heads[0]!.bytes + r.heads[1]!.bytes);
  });

  it('a failed run carries its error, where it happened, and no numbers', () => {
    const w = { family: 'gaussian', n: 128, d: 4 } as const;
    const r = runJob(registry, job({ policy: { policy: 'test-breaker' }, workload: w }), prepareWorkload(w, 0));
    expect(r.ok).toBe(false);
    expect(r).not.toHaveProperty('relative');
    expect(r).not.toHaveProperty('bytes');
    expect(!r.ok && r.error).toBe('RangeError: broken on purpose (head h0, step 40)');
  });

  it('the hard INDEX instance: exact is ~0, a window or a random sample at 1/4 fails', async () => {
    const config = resolveConfig({ policies: ['exact', 'test-window', 'test-uniform'], budgets: ['1/4'], workloads: [{ family: 'index', n: 256, d: 32 }] }, registry);
    const results = (await runJobs(expandJobs(config, registry), { registry })).map(ok);
    const by = Object.fromEntries(results.map((r) => [r.policy, r]));
    expect(by['exact']!.relative.max).toBeLessThan(1e-5);
    // Queries start after the storage phase (n/2), every n/32.
    expect(by['exact']!.queries).toBe(16);
    for (const p of ['test-window', 'test-uniform']) {
      // Queries ask for a random token of the stored first half; a window of a quarter of the
      // bytes holds none of them, a random sample of a quarter holds each with probability < 1/2,
      // and a missed token yields another Gaussian value (relative error ≈ √2).
      expect(by[p]!.relative.median).toBeGreaterThan(0.5);
      expect(by[p]!.relative.max).toBeGreaterThan(1);
      expect(by[p]!.compression).toBeGreaterThan(3);
      expect(by[p]!.overBudget).toBe(false);
    }
  });

  it('is deterministic: equal seeds give equal results (in process and in 2 worker threads); other seeds differ', async () => {
    const config = resolveConfig(
      { policies: ['exact', 'test-window', 'test-uniform'], budgets: ['1/4', 16], workloads: [{ family: 'clustered', n: 96, d: 16 }, { family: 'gaussian', n: 80, d: 8, s: 4 }], seeds: [3] },
      registry,
    );
    const jobs = expandJobs(config, registry);
    const a = await runJobs(jobs, { registry });
    const b = await runJobs(jobs, { registry });
    expect(withoutTimings(b)).toEqual(withoutTimings(a));
    const fixture = fileURLToPath(new URL('./test-fixtures/policies.ts', import.meta.url));
    const threaded = await runJobs(jobs, { workers: 2, registryModule: fixture });
    expect(withoutTimings(threaded)).toEqual(withoutTimings(a));
    const other = await runJobs(
      jobs.map((j) => ({ ...j, seed: 4 })),
      { registry },
    );
    const uniform = (rs: RunResult[]) => ok(rs.find((r) => r.policy === 'test-uniform' && r.workload === 'clustered')!).relative;
    expect(uniform(other)).not.toEqual(uniform(a));
  });

  it('PreparedCache builds each workload once per seed and query schedule', () => {
    const cache = new PreparedCache(2);
    const j = job({ policy: { policy: 'exact' }, workload: { family: 'gaussian', n: 8, d: 4 } });
    const p = cache.get(j);
    expect(cache.get({ ...j, index: 5 })).toBe(p);
    expect(cache.get({ ...j, seed: 1 })).not.toBe(p);
    expect(cache.get({ ...j, queries: { from: 0, every: 1 } })).not.toBe(p);
  });
});
