// A user-defined policy, end to end: run core's conformance suite on it, register it explicitly
// next to the built-in policies, and evaluate it with kv-eval's programmatic API.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { conformanceChecks } from '@kv/core/testing';
import { createDefaultRegistry, evaluate, type RunResult, writeReport } from '@kv/eval';
import { lastTokensPolicy } from './last-tokens.js';

// 1. Register it explicitly: nothing registers itself on import.
const registry = createDefaultRegistry().register(lastTokensPolicy);

// 2. The conformance suite (the same checks every package's tests run, here without a test
//    runner): contract, bad input → typed errors with state unchanged, bytes = held arrays,
//    budget never exceeded, determinism, reset, large norms, and, with a budget covering the
//    stream, equality with exact attention and exact merging of kernel sums.
let failed = 0;
const checks = conformanceChecks({
  registry,
  spec: { policy: 'last-tokens', keyDim: 16, valueDim: 8, budget: 24 },
  exactSpec: { policy: 'last-tokens', keyDim: 16, valueDim: 8, budget: 96 },
});
for (const c of checks) {
  try {
    c.run();
  } catch (e) {
    failed++;
    console.error(`conformance FAILED: ${c.name}: ${String(e)}`);
  }
}
console.log(`conformance: ${checks.length - failed} of ${checks.length} checks passed`);

// 3. kv-eval: the policy against exact attention and the built-in sliding window, at 1/8 of the
//    stream, on a Gaussian stream and the INDEX hard instance. A custom registry runs in process.
const report = await evaluate(
  {
    name: 'last-tokens',
    policies: ['exact', 'sliding-window', 'last-tokens'],
    budgets: ['1/8'],
    workloads: [
      { family: 'gaussian', n: 1024, d: 16, s: 16 },
      { family: 'index', n: 1024, d: 16, s: 16 },
    ],
    seeds: [0],
  },
  { registry },
);
// The report stays beside this example (kv-eval-results/ is git-ignored): open report.html.
const out = fileURLToPath(new URL('../kv-eval-results/', import.meta.url));
const files = await writeReport(report, out);
console.log(readFileSync(files.markdown, 'utf8').split('\n## Space bounds')[0]);
console.log(`report written to ${relative(process.cwd(), files.dir) || '.'}/ (results.md, report.html, results.json, results.csv, ${files.plots.length} SVG plots)`);

// The checks: every run succeeded, and our policy keeps exactly the tokens the built-in sliding
// window keeps, so kv-eval must measure the same errors for both (to rounding: the two may hold
// the rows in a different order, and float sums depend on the order).
const row = (policy: string, workload: string): RunResult | undefined =>
  report.results.find((r) => r.policy === policy && r.workload === workload && r.budget !== 'full');
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
const failures: string[] = [];
if (failed > 0) failures.push(`${failed} conformance checks failed`);
for (const r of report.results) if (!r.ok) failures.push(`${r.label} on ${r.workload} failed: ${r.error}`);
for (const w of ['gaussian', 'index']) {
  const ours = row('last-tokens', w);
  const theirs = row('sliding-window', w);
  if (!ours?.ok || !theirs?.ok) failures.push(`missing rows for ${w}`);
  else if (!close(ours.relative.median, theirs.relative.median) || !close(ours.relative.max, theirs.relative.max)) {
    failures.push(`${w}: last-tokens (${ours.relative.median}) and sliding-window (${theirs.relative.median}) should agree`);
  }
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log('ok');
