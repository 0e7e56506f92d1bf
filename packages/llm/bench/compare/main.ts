/**
 * `pnpm bench:compare`: kv beside the tools people would otherwise use, in one run, as ratios.
 *   1. kv's exact attend vs numpy (one thread) at n = 4K/32K, d = 64/128;
 *   2. @kv/llm decode tokens/s vs onnxruntime-node on the same tiny model, one thread each, at
 *      contexts 256, 512, 1K, 2K (the model's seq_len is 1024; positions beyond it compute alike);
 *   3. BalanceKV and KIVI (int4) append throughput, tokens/s/head at d = 128.
 * Each ratio is the median of per-round ratios (BENCH_ROUNDS rounds, default 5; the decode rows time
 * kv and ORT in alternating blocks of 8 steps within each round, the others alternate rounds),
 * with the range of the rounds as the noise. The machine is shared: the load average is printed
 * with each table; measure when it is low, and repeat.
 * Run from the repository root: pnpm bench:compare (BENCH_ONLY=attend,decode,append to narrow).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exactPolicy, type PolicyDefinition, PolicyRegistry } from '@kv/core';
import { findModel, loadModel } from '../../src/node.js';
import { compareAppend } from './append.js';
import { attendBackend, compareAttend, numpyVersion } from './attend.js';
import { compareDecode, loadOrt, ortSession } from './decode.js';
import { formatRatio, load, median, ratioOf } from './stats.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const only = process.env.BENCH_ONLY?.split(',');
const wants = (part: string): boolean => !only || only.includes(part);
const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', '..');
const summary: string[] = [];

console.log(`# kv compared (Node ${process.version}, ${rounds} rounds per row, load average ${load()} at the start)\n`);

if (wants('attend')) {
  const np = numpyVersion();
  console.log(`## Exact attend, one head, one query, float32: kv (${attendBackend()} kernels) vs numpy ${np ?? ''} (one thread)\n`);
  if (!np) console.log('numpy rows skipped: `python3 -c "import numpy"` fails here (install python3-numpy).\n');
  const figures = compareAttend([4096, 32768], [64, 128], rounds, np !== undefined);
  console.log('| n | d | kv µs | numpy µs | kv GB/s | numpy GB/s | kv speed / numpy speed |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const f of figures) {
    const gb = (us: number): string => ((f.n * 2 * f.d * 4) / (us * 1e3)).toFixed(1);
    const kv = median(f.kv);
    if (f.numpy.length === 0) {
      console.log(`| ${f.n} | ${f.d} | ${kv.toFixed(1)} | skipped | ${gb(kv)} | | |`);
      continue;
    }
    const np = median(f.numpy);
    const ratio = formatRatio(ratioOf(f.numpy, f.kv)); // speed ratio = their time / our time
    console.log(`| ${f.n} | ${f.d} | ${kv.toFixed(1)} | ${np.toFixed(1)} | ${gb(kv)} | ${gb(np)} | ${ratio} |`);
    summary.push(`attend n=${f.n} d=${f.d}: kv ${ratio} numpy's speed`);
  }
  console.log(`\n(load average ${load()})\n`);
}

if (wants('decode')) {
  const found = findModel(repoRoot);
  const shared = [found?.dir, join(repoRoot, '..', 'shared', 'models')].find((d) => d && existsSync(join(d, 'tinyllama-bytes-onnx', 'onnx', 'model.onnx')) && existsSync(join(d, 'tinyllama-bytes.bin')));
  const ort = await loadOrt();
  console.log('## @kv/llm decode vs onnxruntime-node, tinyllama-bytes, exact cache, one thread each\n');
  if (!shared) console.log('skipped: needs ../shared/models/tinyllama-bytes.bin and tinyllama-bytes-onnx/ (the same weights in both formats).\n');
  else if (typeof ort === 'string') console.log(`skipped: onnxruntime-node does not load (${ort}); run pnpm install.\n`);
  else {
    const model = await loadModel(join(shared, 'tinyllama-bytes.bin'));
    const session = await ortSession(ort, join(shared, 'tinyllama-bytes-onnx', 'onnx', 'model.onnx'));
    const text = readFileSync(join(shared, 'sample-validation.txt'));
    const steps = Number(process.env.BENCH_STEPS ?? 64);
    const contexts = [256, 512, 1024, 2048];
    const tokens = new Uint8Array(contexts[contexts.length - 1]! + steps);
    for (let i = 0; i < tokens.length; i++) tokens[i] = text[i % text.length]!;
    console.log(`${steps} single-token steps per round after both prefill the context, timed in alternating blocks of 8 (kv, then ORT); kv matvec kernels: ${model.kernels().matvec.backend}\n`);
    const figures = await compareDecode(model, ort, session, tokens, contexts, steps, rounds);
    console.log('| context | kv tokens/s | onnxruntime-node tokens/s | kv / ORT (range) |');
    console.log('| ---: | ---: | ---: | ---: |');
    for (const f of figures) {
      const ratio = formatRatio(ratioOf(f.kv, f.ort));
      console.log(`| ${f.context} | ${median(f.kv).toFixed(0)} | ${median(f.ort).toFixed(0)} | ${ratio} |`);
      summary.push(`decode at ${f.context}: kv ${ratio} onnxruntime-node's tokens/s`);
    }
    console.log(`\n(load average ${load()})\n`);
  }
}

if (wants('append')) {
  const d = 128;
  const n = 8192;
  console.log(`## Append throughput, one head, d = s = ${d}, ${n} random tokens per round\n`);
  // Loaded here so that a package that does not load fails its rows, not the whole run.
  const registry = new PolicyRegistry().register(exactPolicy);
  for (const [pkg, key] of [['@kv/heuristics', 'heuristicPolicies'], ['@kv/coreset', 'coresetPolicies']] as const) {
    try {
      registry.register(...((await import(pkg)) as Record<string, PolicyDefinition[]>)[key]!);
    } catch (e) {
      console.log(`${pkg} does not load: ${(e as Error).message.split('\n')[0]}\n`);
    }
  }
  const figures = compareAppend(
    registry,
    [
      { label: 'balancekv (budget 1/8 of the float32 bytes)', policy: 'balancekv', budget: { fraction: 1 / 8 } },
      { label: 'kivi int4', policy: 'kivi', params: { bits: 4 } },
      { label: 'kivi int2', policy: 'kivi', params: { bits: 2 } },
      { label: 'exact (reference)', policy: 'exact' },
    ],
    d,
    n,
    rounds,
  );
  console.log('| policy | tokens/s/head (median) | range |');
  console.log('| --- | ---: | ---: |');
  for (const f of figures) {
    if (f.error) {
      console.log(`| ${f.label} | failed | ${f.error.replace(/\|/g, '/')} |`);
      summary.push(`append ${f.label}: failed (${f.error})`);
      continue;
    }
    console.log(`| ${f.label} | ${median(f.rates).toFixed(0)} | ${Math.min(...f.rates).toFixed(0)}–${Math.max(...f.rates).toFixed(0)} |`);
    summary.push(`append ${f.label}: ${median(f.rates).toFixed(0)} tokens/s/head`);
  }
  console.log(`\n(load average ${load()})\n`);
}

console.log('## Summary\n');
for (const s of summary) console.log(`- ${s}`);
