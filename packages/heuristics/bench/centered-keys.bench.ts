// Why the Hadamard rotation does not halve the int4 key error on real attention: int4 token-wise
// keys, rotated or not, with the keys centred by a per-channel mean μ (exact for softmax: q·μ is the
// same for every token, so only the quantization changes), beside KIVI's per-channel key groups.
// μ is the mean of the first 64 keys (a prefill statistic; the first scored query is t = 256). A
// window holds every token, values are float32, so only the keys' quantization is measured.
// Decode protocol of kv-eval (error at t = n/4 every n/32, median over times, then over heads).
//
//   node --conditions=@kv/source --import tsx packages/heuristics/bench/centered-keys.bench.ts
import { ExactCache, type PrecisionSpec, PolicyRegistry, relativeError } from '@kv/core';
import { buildWorkload, type Workload } from '../../eval/src/index.js';
import { heuristicPolicies } from '../src/index.js';

const registry = new PolicyRegistry().register(...heuristicPolicies);
const root = new URL('../../../', import.meta.url).pathname;
const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const sets: [string, Workload[]][] = [
  ['outlier-channels (4 seeds)', [0, 1, 2, 3].map((seed) => buildWorkload({ family: 'outlier-channels', n: 1024, d: 64 }, seed))],
  ['real-attention', [buildWorkload({ family: 'npy', path: `${root}data/real-attention` }, 0)]],
  ['model', [buildWorkload({ family: 'model' }, 0)]],
];
const precisions: [string, PrecisionSpec][] = [
  ['int4', { keys: 'int4', values: 'f32' }],
  ['int4 rotated', { keys: 'int4', values: 'f32', rotate: true }],
  ['int4 kchan (KIVI)', { keys: 'int4', values: 'f32', keyGroups: 'channel' }],
];

function error(w: Workload, precision: PrecisionSpec, center: boolean): number[] {
  return w.heads.map((h) => {
    const d = h.keyDim;
    const s = h.valueDim;
    const n = h.length;
    const mu = new Float32Array(d);
    if (center) for (let t = 0; t < 64; t++) for (let j = 0; j < d; j++) mu[j]! += h.keys[t * d + j]! / 64;
    const cache = registry.create({ policy: 'sliding-window', keyDim: d, valueDim: s, tau: w.tau, budget: n, seed: 1, params: { precision } });
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau: w.tau });
    const key = new Float32Array(d);
    const out = new Float32Array(s);
    const want = new Float32Array(s);
    const errs: number[] = [];
    const from = Math.floor(n / 4);
    const every = Math.floor(n / 32);
    for (let t = 0; t < n; t++) {
      for (let j = 0; j < d; j++) key[j] = h.keys[t * d + j]! - mu[j]!;
      const value = h.values.subarray(t * s, (t + 1) * s);
      cache.append(key, value);
      exact.append(h.keys.subarray(t * d, (t + 1) * d), value);
      // The window's state does not depend on queries, so only the scored ones are answered.
      if (t < from || (t - from) % every !== 0) continue;
      const q = h.queries.subarray(t * d, (t + 1) * d);
      errs.push(relativeError(cache.attend(q, out), exact.attend(q, want)));
    }
    return median(errs);
  });
}

console.log(`| keys (values f32, every token held) | ${sets.map(([name]) => name).join(' | ')} |`);
console.log(`| --- | ${sets.map(() => '---:').join(' | ')} |`);
for (const [label, precision] of precisions) {
  for (const center of precision.keyGroups === 'channel' ? [false] : [false, true]) {
    const cells = sets.map(([, ws]) => median(ws.flatMap((w) => error(w, precision, center))).toFixed(4));
    console.log(`| ${label}${center ? ', centred by μ' : ''} | ${cells.join(' | ')} |`);
  }
}
