// A custom hybrid: exact attention sinks + an exact recent window + BalanceKV for the middle,
// composed with `tiered` from @kv/hybrid. The stream drifts through topics, so the window alone
// cannot answer questions about earlier topics: the middle matters. We compare the BalanceKV
// middle against an exact middle (which must equal exact attention) and against uniform
// sampling given the same number of middle slots.
import { compareToExact, ExactCache, exactPolicy, type HeadCache, type PolicyChoice, PolicyRegistry, Rng } from '@kv/core';
import { coresetPolicies } from '@kv/coreset';
import { tiered, tieredPolicy, type TieredCache } from '@kv/hybrid';

const d = 32;
const n = 4096;
const topics = 16; // the stream switches topic every n / topics tokens
const probes = 256;
const sinks = 4;
const window = 64;

const registry = new PolicyRegistry().register(exactPolicy, tieredPolicy, ...coresetPolicies);

// A seeded stream: keys near the current topic's centre, values carrying the topic's signature.
const rng = new Rng(11);
const centres = Array.from({ length: topics }, () => rng.fillGaussian(new Float32Array(d), 1.2));
const signatures = Array.from({ length: topics }, () => rng.fillGaussian(new Float32Array(d)));
const keys = new Float32Array(n * d);
const values = new Float32Array(n * d);
for (let t = 0; t < n; t++) {
  const topic = Math.floor((t * topics) / n);
  for (let i = 0; i < d; i++) {
    keys[t * d + i] = centres[topic]![i]! + 0.3 * rng.gaussian();
    values[t * d + i] = signatures[topic]![i]! + 0.5 * rng.gaussian();
  }
}
// Probe queries about random topics of the whole stream, asked once every token is in.
const queries = Array.from({ length: probes }, () => {
  const topic = rng.int(topics);
  const q = new Float32Array(d);
  for (let i = 0; i < d; i++) q[i] = centres[topic]![i]! + 0.3 * rng.gaussian();
  return q;
});

function run(middle: PolicyChoice): { cache: HeadCache; meanError: number } {
  const cache = registry.create({ ...tiered({ sinks, window, middle }), keyDim: d, valueDim: d, seed: 1 });
  for (let t = 0; t < n; t++) cache.append(keys.subarray(t * d, (t + 1) * d), values.subarray(t * d, (t + 1) * d));
  let sum = 0;
  const out = new Float32Array(d);
  for (const q of queries) sum += compareToExact(exact, q, cache.attend(q, out)).relative;
  return { cache, meanError: sum / probes };
}

const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: d });
for (let t = 0; t < n; t++) exact.append(keys.subarray(t * d, (t + 1) * d), values.subarray(t * d, (t + 1) * d));

// What sinks + window alone answer (StreamingLLM with the same exact slots): exact attention over
// just those tokens.
const noMiddle = new ExactCache({ policy: 'exact', keyDim: d, valueDim: d });
for (let t = 0; t < n; t++) {
  if (t < sinks || t >= n - window) noMiddle.append(keys.subarray(t * d, (t + 1) * d), values.subarray(t * d, (t + 1) * d));
}
let noMiddleError = 0;
for (const q of queries) noMiddleError += compareToExact(exact, q, noMiddle.attend(q, new Float32Array(d))).relative / probes;

const exactMiddle = run({ policy: 'exact' });
const balanced = run({ policy: 'balancekv', params: { sink: 0, window: 0, blockSize: 64, halvings: 3 } });
const middleSlots = (balanced.cache as TieredCache).middle?.stored ?? 0;
const uniform = run({ policy: 'uniform', budget: middleSlots });

console.log(`stream: n = ${n}, d = s = ${d}, ${topics} topics; tiered(sinks ${sinks}, window ${window}, middle)`);
console.log('| middle | stored | bytes | vs exact bytes | mean relative error |');
console.log('|---|---|---|---|---|');
console.log(`| none (sinks + window only) | ${noMiddle.stored} | ${noMiddle.bytes} | ${(noMiddle.bytes / exact.bytes).toFixed(3)} | ${noMiddleError.toExponential(3)} |`);
for (const [name, r] of [['exact', exactMiddle], ['balancekv (halvings 3)', balanced], [`uniform (${middleSlots} slots)`, uniform]] as const) {
  console.log(`| ${name} | ${r.cache.stored} | ${r.cache.bytes} | ${(r.cache.bytes / exact.bytes).toFixed(3)} | ${r.meanError.toExponential(3)} |`);
}

// The checks: an exact middle is exact attention; the BalanceKV hybrid holds at most a quarter
// of the exact cache's bytes, never more than its capacity, and its middle cuts the error of
// sinks + window alone by at least 5x.
const failures: string[] = [];
if (!(exactMiddle.meanError < 1e-5)) failures.push(`tiered with an exact middle should be exact, error ${exactMiddle.meanError}`);
if (!(balanced.cache.bytes <= exact.bytes / 4)) failures.push(`balancekv hybrid holds ${balanced.cache.bytes} bytes, more than a quarter of exact (${exact.bytes})`);
if (!(balanced.cache.stored <= balanced.cache.capacity)) failures.push('stored exceeds capacity');
if (!(balanced.meanError * 5 < noMiddleError)) failures.push(`balancekv hybrid error ${balanced.meanError} is not 5x below sinks + window alone (${noMiddleError})`);
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log('ok');
