import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBudget } from './budgets.js';
import { expandJobs, resolveConfig } from './config.js';
import { PreparedCache } from './job-context.js';
import { runJobs } from './pool.js';
import { prepareWorkload, querySteps, type RunJob, runJob, type RunResult } from './runner.js';
import { createRegistry } from './test-fixtures/policies.js';
import { writeNpyTrace } from './workloads/traces.js';

const registry = createRegistry();
const dir = mkdtempSync(join(tmpdir(), 'kv-eval-runner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withoutTimings(results: RunResult[]): unknown[] {
  return results.map(({ appendNs: _a, attendNs: _b, ...rest }) => rest);
}

describe('runner', () => {
  it('querySteps asks every stride-th step and the last', () => {
    expect([...querySteps(10, 4)]).toEqual([3, 7, 9]);
    expect([...querySteps(3, 1)]).toEqual([0, 1, 2]);
    expect([...querySteps(2, 5)]).toEqual([1]);
    expect([...querySteps(10, 2, 5)]).toEqual([6, 8, 9]);
  });

  it('scores a hand-computable stream: a 1-token window against exact', () => {
    // Two tokens with equal logits (zero keys): exact answers [1, 0] at t = 0 and [0.5, 0.5] at
    // t = 1; the window keeps only token 1 and answers [0, 1]. At t = 1: ||diff|| = √0.5,
    // relative = √0.5/√0.5 = 1; normalised = √0.5 / (||softmax|| = √0.5 · ||V||_F = √2) = √0.5/1.
    const folder = join(dir, 'hand');
    const keys = new Float32Array(4);
    writeNpyTrace(folder, [
      { layer: 0, head: 0, stream: { label: 'h', length: 2, keyDim: 2, valueDim: 2, queries: Float32Array.from([1, 0, 0, 1]), keys, values: Float32Array.from([1, 0, 0, 1]) } },
    ]);
    const spec = { family: 'npy', path: folder } as const;
    const job: RunJob = { index: 0, policy: { policy: 'test-window' }, budget: parseBudget(1), workload: spec, workloadIndex: 0, seed: 0, queryStride: 1 };
    const r = runJob(registry, job, prepareWorkload(spec, 0, 1));
    expect(r.ok).toBe(true);
    expect(r.queries).toBe(2);
    expect(r.series.step).toEqual([0, 1]);
    expect(r.series.relative[0]).toBe(0);
    expect(r.series.relative[1]).toBeCloseTo(1, 6);
    expect(r.series.normalized[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(r.relative.max).toBeCloseTo(1, 6);
    expect(r.relative.median).toBeCloseTo(0.5, 6);
    expect(r.relative.p90).toBeCloseTo(0.9, 6);
    expect(r.stored).toBe(1);
    expect(r.compression).toBeCloseTo((4 * 2 * 4) / r.bytes, 12);
    const exact = runJob(registry, { ...job, policy: { policy: 'exact' }, budget: { kind: 'full', value: 0, label: 'full' } }, prepareWorkload(spec, 0, 1));
    expect(exact.relative.max).toBe(0);
    expect(exact.budgetValue).toBeNull();
  });

  it('records a failing policy as ok: false with its error, not an exception', () => {
    const spec = { family: 'gaussian', n: 16, d: 4 } as const;
    const job: RunJob = { index: 3, policy: { policy: 'test-window' }, budget: parseBudget({ ratio: 0.5 }), workload: spec, workloadIndex: 0, seed: 0, queryStride: 1 };
    const r = runJob(registry, job, prepareWorkload(spec, 0, 1));
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/InvalidBudgetError: .*fixed token budget/);
  });

  it('the hard INDEX instance: exact is ~0, a window or a uniform sample at 1/4 fails', async () => {
    const config = resolveConfig({ policies: 'all', budgets: ['1/4'], workloads: [{ family: 'index', n: 256, d: 32 }] }, registry);
    const results = await runJobs(expandJobs(config, registry), { registry });
    const by = Object.fromEntries(results.map((r) => [r.policy, r]));
    expect(by['exact']!.relative.max).toBeLessThan(1e-5);
    expect(by['exact']!.queries).toBe(128);
    for (const p of ['test-window', 'test-uniform']) {
      // Queries ask for a random token of the stored first half; a window of n/4 holds none of
      // them by the end and a uniform sample of n/4 holds each with probability ≤ 1/2, and a
      // missed token yields another Gaussian value (relative error ≈ √2), so the median is far from 0.
      expect(by[p]!.ok).toBe(true);
      expect(by[p]!.relative.median).toBeGreaterThan(0.5);
      expect(by[p]!.relative.max).toBeGreaterThan(1);
      expect(by[p]!.compression).toBeGreaterThan(3);
    }
  });

  it('is deterministic: equal seeds give equal results (in process and in 2 worker threads); other seeds differ', async () => {
    const config = resolveConfig(
      { policies: 'all', budgets: ['1/4', 16], workloads: [{ family: 'clustered', n: 96, d: 16 }, { family: 'gaussian', n: 80, d: 8, s: 4 }], seeds: [3] },
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
    const uniform = (rs: RunResult[]) => rs.find((r) => r.policy === 'test-uniform' && r.workload === 'clustered')!.relative;
    expect(uniform(other)).not.toEqual(uniform(a));
  });

  it('PreparedCache builds each workload once per seed and stride', () => {
    const cache = new PreparedCache(2);
    const job: RunJob = { index: 0, policy: { policy: 'exact' }, budget: parseBudget(4), workload: { family: 'gaussian', n: 8, d: 4 }, workloadIndex: 0, seed: 0, queryStride: 1 };
    const p = cache.get(job);
    expect(cache.get({ ...job, index: 5 })).toBe(p);
    expect(cache.get({ ...job, seed: 1 })).not.toBe(p);
  });
});
