// Benchmark of @kv/coreset: append throughput, attend time at n = 32K, and error vs stored tokens.
// Run: node --conditions=@kv/source --import tsx packages/coreset/bench/coreset.bench.ts
import { cpus, loadavg } from 'node:os';
import { ExactCache, type HeadCache, PolicyRegistry, type PolicySpec, relativeError } from '@kv/core';
import { coresetPolicies } from '../src/index.js';
import { clusteredStream } from '../src/synthetic.js';

const registry = new PolicyRegistry();
for (const p of coresetPolicies) registry.register(p);

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  return a[a.length >> 1]!;
}

function feed(cache: HeadCache, keys: Float32Array, values: Float32Array, n: number): number {
  const d = cache.keyDim;
  const s = cache.valueDim;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) cache.append(keys.subarray(i * d, (i + 1) * d), values.subarray(i * s, (i + 1) * s));
  return (performance.now() - t0) / 1000;
}

console.log(`# @kv/coreset benchmark (${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)}, Node ${process.version})\n`);

// 1 + 2: throughput and attend time at d = s = 128, n = 32K.
{
  const d = 128;
  const n = 32768;
  const st = clusteredStream({ n, d, s: d, clusters: 16, centreNorm: 8, keyNoise: 0.5, valueNoise: 0.5, runLength: 32, queries: 64, seed: 1 });
  const specs: [string, PolicySpec][] = [
    ['exact (reference)', { policy: 'exact', keyDim: d, valueDim: d }],
    ['balancekv (block 128, halvings 2, no budget)', { policy: 'balancekv', keyDim: d, valueDim: d, params: { blockSize: 128, halvings: 2 } }],
    ['balancekv (block 128, halvings 2, budget 2048)', { policy: 'balancekv', keyDim: d, valueDim: d, budget: 2048, params: { blockSize: 128, halvings: 2 } }],
    ['balancekv-theory (blockSize 128 override, unproven)', { policy: 'balancekv-theory', keyDim: d, valueDim: d, params: { radius: 1e6, blockSize: 128 } }],
    ['uniform (budget 2048)', { policy: 'uniform', keyDim: d, valueDim: d, budget: 2048 }],
    ['subgen (budget 2048)', { policy: 'subgen', keyDim: d, valueDim: d, budget: 2048 }],
  ];
  registry.register({ name: 'exact', summary: 'exact', params: [], budget: 'none', create: (spec) => new ExactCache(spec) });
  console.log(`## Append throughput and attend time (d = s = ${d}, n = ${n}, one head)\n`);
  console.log('| policy | append tokens/s | stored after n | attend ms/query |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [name, spec] of specs) {
    const cache = registry.create(spec);
    const secs = feed(cache, st.keys, st.values, n);
    const out = new Float32Array(d);
    const q = 32;
    const t0 = performance.now();
    for (let i = 0; i < q; i++) cache.attend(st.queries.subarray(i * d, (i + 1) * d), out);
    const ms = (performance.now() - t0) / q;
    console.log(`| ${name} | ${Math.round(n / secs).toLocaleString('en-US')} | ${cache.stored} | ${ms.toFixed(2)} |`);
  }
}

// 3: error vs stored tokens on clustered streams (no sinks/window, so memory = stored tokens).
{
  const d = 32;
  const n = 8192;
  const seeds = [1, 2, 3];
  const queries = 32;
  console.log(`\n## Error vs stored tokens (clustered streams, d = s = ${d}, n = ${n}, ${seeds.length} seeds × ${queries} queries)\n`);
  console.log('| stored (fraction) | policy | median relative error | median normalised error |');
  console.log('| --- | --- | ---: | ---: |');
  for (const fraction of [2, 4, 8, 16, 32]) {
    const rows: Record<string, { rel: number[]; norm: number[]; stored: number }> = {};
    for (const seed of seeds) {
      const st = clusteredStream({ n, d, s: d, clusters: 16, centreNorm: 5, keyNoise: 0.5, valueNoise: 0.5, runLength: 32, queries, seed });
      const base = { keyDim: d, valueDim: d, seed };
      const caches: Record<string, HeadCache> = {
        balancekv: registry.create({ ...base, policy: 'balancekv', params: { sink: 0, window: 0, blockSize: 128, halvings: Math.log2(fraction) } }),
        uniform: registry.create({ ...base, policy: 'uniform', budget: n / fraction }),
        subgen: registry.create({ ...base, policy: 'subgen', budget: n / fraction }),
      };
      const exact = new ExactCache({ ...base, policy: 'exact' });
      for (const c of [...Object.values(caches), exact]) c.prefill(st.keys, st.values);
      const want = new Float32Array(d);
      const got = new Float32Array(d);
      for (let i = 0; i < queries; i++) {
        const query = st.queries.subarray(i * d, (i + 1) * d);
        exact.attend(query, want);
        const scale = exact.softmaxNorm(query) * exact.valueFrobeniusNorm;
        for (const [name, cache] of Object.entries(caches)) {
          cache.attend(query, got);
          const row = (rows[name] ??= { rel: [], norm: [], stored: cache.stored });
          row.rel.push(relativeError(got, want));
          let e = 0;
          for (let j = 0; j < d; j++) e += (got[j]! - want[j]!) ** 2;
          row.norm.push(Math.sqrt(e) / scale);
        }
      }
    }
    for (const [name, row] of Object.entries(rows)) {
      console.log(`| ${row.stored} (1/${fraction}) | ${name} | ${median(row.rel).toFixed(4)} | ${median(row.norm).toExponential(2)} |`);
    }
  }
}
