/**
 * Figures of @kv/llm on the shared tiny byte-level model:
 *   1. tokens per second of the decoder with core's exact cache;
 *   2. bits per byte, mean KL and top-1 agreement against the full-cache model for every policy
 *      available, at budgets of 1/2, 1/4 and 1/8 of a 1024-byte context.
 * Run: node --conditions=@kv/source --import tsx packages/llm/bench/llm.bench.ts
 * (set KV_MODEL to use another model; BENCH_BYTES to change the context length; BENCH_POLICIES=a,b
 * to narrow the policies; BENCH_PREFILL=P to feed the first P bytes as one prefill, which
 * query-aware policies such as SnapKV and PyramidKV need to select anything).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateText, referenceRun } from '../src/index.js';
import { findModel, loadModel, whereToPutAModel } from '../src/node.js';
import { benchPolicies } from './policies.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const found = findModel(repoRoot);
if (!found) {
  console.error(whereToPutAModel(repoRoot));
  process.exit(1);
}
const model = await loadModel(found.path);
const n = Number(process.env.BENCH_BYTES ?? 1024);
const prefill = Number(process.env.BENCH_PREFILL ?? 0);
const all = readFileSync(join(found.dir, 'sample-validation.txt'));
const text = all.subarray(0, Math.min(n, all.length));

// 1. Throughput with the exact cache (best of 3 runs over the whole context).
let best = Infinity;
let reference = referenceRun(model, text);
for (let r = 0; r < 3; r++) {
  const run = referenceRun(model, text);
  best = Math.min(best, run.millis);
  reference = run;
}
console.log(`## @kv/llm decoder throughput\n`);
console.log(`model: ${found.path} (dim ${model.config.dim}, ${model.config.nLayers} layers, ${model.config.nHeads}/${model.config.nKvHeads} heads)`);
console.log(`| context | exact cache: tokens/s | full-cache bits/byte | cache KiB |`);
console.log(`|---|---|---|---|`);
console.log(`| ${text.length} B | ${((text.length / best) * 1000).toFixed(0)} | ${reference.bitsPerToken.toFixed(4)} | ${(reference.cacheBytes / 1024).toFixed(0)} |`);

// 2. Quality of every policy at 1/2, 1/4, 1/8 of the context.
const { registry, choices } = benchPolicies();
console.log(`\n## Policies inside the model (${text.length}-byte context of sample-validation.txt${prefill > 0 ? `, first ${prefill} bytes as one prefill` : ', streamed'})\n`);
console.log(`| policy | budget | bits/byte | Δ bits/byte | mean KL (nats) | max KL | top-1 agreement | cache KiB | tokens/s |`);
console.log(`|---|---|---|---|---|---|---|---|---|`);
for (const choice of choices) {
  const fixed = registry.get(choice.policy).budget === 'none';
  for (const frac of fixed ? [1] : [2, 4, 8]) {
    const budget = Math.floor(text.length / frac);
    const label = fixed ? 'none (own size)' : `1/${frac} (${budget})`;
    try {
      const m = evaluateText(model, text, choice, { registry, ...(fixed ? {} : { budget }), reference, ...(prefill > 0 ? { prefill } : {}) });
      console.log(
        `| ${choice.label} | ${label} | ${m.bitsPerByte.toFixed(4)} | ${(m.bitsPerByte - m.referenceBitsPerByte).toFixed(4)} | ${m.meanKl.toExponential(3)} | ${m.maxKl.toExponential(2)} | ${m.top1Agreement.toFixed(4)} | ${(m.cacheBytes / 1024).toFixed(0)} | ${(((m.tokens - 1) / m.millis) * 1000).toFixed(0)} |`,
      );
    } catch (e) {
      console.log(`| ${choice.label} | ${label} | failed: ${(e as Error).name}: ${(e as Error).message.replace(/\|/g, '/')} | | | | | | |`);
    }
  }
}
