/**
 * End-to-end quality of compressed caches inside the model: bits per byte on the sample
 * validation text at 1/8 and 1/16 of the float32 cache bytes, for KVzip and the baselines.
 *
 * Two protocols on each window of the text (1024 bytes, the model's seq_len, starting at
 * position 0); the first P = 512 bytes are the context, the predictions of the last 512 bytes are
 * scored:
 *   - stream: every byte is appended then attended (every policy sees every query); KVzip scores
 *     the context by its reconstruction passes before it streams;
 *   - prefill: the context goes in through LlamaDecoder.prefill (full attention over the prompt,
 *     then each head's prefill with the last 32 queries as SnapKV's observation window; KVzip's
 *     reconstruction runs there), then the rest streams.
 * KVzip's scoring time is printed beside the full-cache time of one window. Budgets are { fraction: f, minBytes: f·4(d+s)·P } per head: f of what the exact
 * cache holds, floored at f of the context so no policy starts with nothing.
 * Run: node --conditions=@kv/source --import tsx packages/llm/bench/end-to-end.bench.ts
 * (BENCH_POLICIES=a,b to narrow; BENCH_WINDOWS=0,2048 window offsets; KV_MODEL for another model).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exactPolicy, type PolicyChoice, PolicyRegistry } from '@kv/core';
import { heuristicPolicies } from '@kv/heuristics';
import { type ContextScoredHead, kvzipPolicy, kvzipScores, type LlamaModel } from '../src/index.js';
import { findModel, loadModel } from '../src/node.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const shared = join(repoRoot, '..', 'shared', 'models', 'tinyllama-bytes.bin');
const modelPath = process.env.KV_MODEL ?? (existsSync(shared) ? shared : findModel(repoRoot)?.path);
if (!modelPath) throw new Error('no model found');
const model = await loadModel(modelPath);
const dir = findModel(repoRoot)!.dir;
const text = readFileSync(join(dir, 'sample-validation.txt'));
const N = 1024;
const P = 512;
const windows = (process.env.BENCH_WINDOWS ?? '0,2048').split(',').map(Number);

const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies, kvzipPolicy);
// `pooled`: the heads of each layer share one budget (AdaKV's pool, KVzip's head-level budgets).
const all: (PolicyChoice & { label: string; pooled?: boolean })[] = [
  { label: 'streaming-llm', policy: 'streaming-llm' },
  { label: 'h2o', policy: 'h2o' },
  { label: 'sliding-window', policy: 'sliding-window' },
  { label: 'tova', policy: 'tova' },
  { label: 'snapkv', policy: 'snapkv' },
  { label: 'expected-attention', policy: 'expected-attention' },
  { label: 'kivi int2', policy: 'kivi', params: { bits: 2 } },
  { label: 'kvzip', policy: 'kvzip' },
  { label: 'kvzip (context scores only)', policy: 'kvzip', params: { online: false } },
  { label: 'kvzip, heads of a layer pooled', policy: 'kvzip', pooled: true },
  // Precision × selection (issue 16): the same bytes hold more tokens at fewer bits.
  { label: 'sliding-window int8', policy: 'sliding-window', params: { precision: 'int8' } },
  { label: 'sliding-window int4', policy: 'sliding-window', params: { precision: 'int4' } },
  { label: 'h2o int8', policy: 'h2o', params: { precision: 'int8' } },
  { label: 'h2o int4', policy: 'h2o', params: { precision: 'int4' } },
  { label: 'kvzip int4', policy: 'kvzip', params: { precision: 'int4' } },
];
const only = process.env.BENCH_POLICIES?.split(',');
const choices = all.filter((c) => registry.has(c.policy) && (!only || only.includes(c.label) || only.includes(c.policy)));

interface Run {
  bits: number;
  count: number;
  bytes: number;
  scoringMillis: number;
  /** Wall time of the context's prefill without the scoring (prefill protocol only). */
  prefillMillis: number;
}

// Sums −log₂ p(next) over predictions made at positions ≥ P − 1.
function run(m: LlamaModel, tokens: Uint8Array, choice: (PolicyChoice & { pooled?: boolean }) | undefined, fraction: number, prefill: boolean): Run {
  const c = m.config;
  const rowBytes = 4 * 2 * c.headDim;
  const budget = { fraction, minBytes: fraction * rowBytes * P };
  const of = (l: number, h: number): PolicyChoice => {
    const { pooled, ...plain } = choice!;
    return pooled ? { ...plain, budget, params: { ...plain.params, pool: { heads: c.nKvHeads, head: h, layer: l } } } : { ...plain, budget };
  };
  const cache = choice ? m.createCache(choice.pooled ? of : of(0, 0), { registry }) : m.createCache({ policy: 'exact' });
  let scoringMillis = 0;
  let prefillMillis = 0;
  if (choice?.policy === 'kvzip' && !prefill) {
    const s = kvzipScores(m, tokens.subarray(0, P));
    scoringMillis = s.scoringMillis;
    for (let l = 0; l < c.nLayers; l++) for (let h = 0; h < c.nKvHeads; h++) (cache.head(l, h) as unknown as ContextScoredHead).takeContextScores(s.head(l, h));
  }
  const decoder = m.decoder(cache);
  let bits = 0;
  let count = 0;
  for (let i = prefill ? P - 1 : 0; i < tokens.length - 1; i++) {
    const t0 = performance.now();
    const logits = prefill && i === P - 1 ? decoder.prefill(tokens.subarray(0, P), 32) : decoder.step(tokens[i]!);
    if (prefill && i === P - 1) {
      scoringMillis = decoder.contextScoringMillis;
      prefillMillis = performance.now() - t0 - scoringMillis;
    }
    if (i < P - 1) continue;
    let mx = -Infinity;
    for (const x of logits) mx = Math.max(mx, x);
    let z = 0;
    for (const x of logits) z += Math.exp(x - mx);
    bits += (mx + Math.log(z) - logits[tokens[i + 1]!]!) / Math.LN2;
    count++;
  }
  return { bits, count, bytes: cache.bytes, scoringMillis, prefillMillis };
}

console.log(`model ${modelPath}; windows at ${windows.join(', ')} of ${join(dir, 'sample-validation.txt')}; ${N} bytes each, context ${P}, scored ${N - P}\n`);
const refs = windows.map((w) => {
  const t0 = performance.now();
  const r = run(model, text.subarray(w, w + N), undefined, 1, false);
  return { ...r, millis: performance.now() - t0 };
});
const refBits = refs.reduce((a, r) => a + r.bits, 0) / refs.reduce((a, r) => a + r.count, 0);
console.log(`full cache: ${refBits.toFixed(4)} bits/byte (${refs.map((r) => (r.bits / r.count).toFixed(4)).join(', ')} per window); one streamed window ${refs[0]!.millis.toFixed(0)} ms`);
for (const protocol of (process.env.BENCH_PROTOCOLS ?? 'stream,prefill').split(',')) {
  console.log(`\n### ${protocol === 'prefill' ? 'Context through LlamaDecoder.prefill, then streamed' : 'Streamed (append, then attend, every byte)'}\n`);
  console.log(`| policy | budget | bits/byte | loss vs full | per window | cache bytes / full | KVzip scoring ms (per window)${protocol === 'prefill' ? ' | scoring / prefill time' : ''} |`);
  console.log(`| --- | --- | ---: | ---: | --- | ---: | ---: |${protocol === 'prefill' ? ' ---: |' : ''}`);
  for (const f of [8, 16]) {
    for (const choice of choices) {
      const runs = windows.map((w) => run(model, text.subarray(w, w + N), choice, 1 / f, protocol === 'prefill'));
      const bits = runs.reduce((a, r) => a + r.bits, 0) / runs.reduce((a, r) => a + r.count, 0);
      const perWindow = runs.map((r, i) => `${((r.bits / r.count / (refs[i]!.bits / refs[i]!.count) - 1) * 100).toFixed(2)}%`).join(', ');
      const ratio = runs.reduce((a, r) => a + r.bytes, 0) / refs.reduce((a, r) => a + r.bytes, 0);
      const scoring = choice.policy === 'kvzip' ? (runs.reduce((a, r) => a + r.scoringMillis, 0) / runs.length).toFixed(0) : '';
      const cost = protocol === 'prefill' ? ` ${choice.policy === 'kvzip' ? `${(runs.reduce((a, r) => a + r.scoringMillis, 0) / runs.reduce((a, r) => a + r.prefillMillis, 0)).toFixed(2)}×` : ''} |` : '';
      console.log(`| ${choice.label} | 1/${f} | ${bits.toFixed(4)} | ${((bits / refBits - 1) * 100).toFixed(2)}% | ${perWindow} | ${ratio.toFixed(4)} | ${scoring} |${cost}`);
    }
  }
}
