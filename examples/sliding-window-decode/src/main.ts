// A decode loop for one attention layer of a toy model whose KV cache is a sliding window:
// each step appends the new token's key and value, then attends with its query. The exact
// cache runs beside it so we can print how far the window's answers drift and what it saves.
import { compareToExact, compressionRatio, ExactCache, exactPolicy, ModelCache, PolicyRegistry, Rng } from '@kv/core';
import { heuristicPolicies } from '@kv/heuristics';

const layers = 2;
const kvHeads = 2;
const queryHeads = 4;
const d = 32;
const steps = 512;
const window = 64;

const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
const shape = { layers, kvHeads, queryHeads, keyDim: d, valueDim: d, registry };
const windowed = new ModelCache({ ...shape, policy: { policy: 'sliding-window', budget: window } });
const exact = new ModelCache({ ...shape, policy: { policy: 'exact' } });

const rng = new Rng(7);
const keys = new Float32Array(kvHeads * d);
const values = new Float32Array(kvHeads * d);
const queries = new Float32Array(queryHeads * d);
const out = new Float32Array(queryHeads * d);
let worst = 0;
for (let t = 0; t < steps; t++) {
  for (let layer = 0; layer < layers; layer++) {
    rng.fillGaussian(keys, 0.5);
    rng.fillGaussian(values);
    rng.fillGaussian(queries, 0.5);
    windowed.append(layer, keys, values);
    exact.append(layer, keys, values);
    windowed.attend(layer, queries, out);
  }
}
// Error of the last step, head by head, against the exact cache fed the same stream.
for (let qh = 0; qh < queryHeads; qh++) {
  const q = queries.subarray(qh * d, (qh + 1) * d);
  const head = windowed.kvHeadOf(qh);
  const approx = windowed.head(layers - 1, head).attend(q, new Float32Array(d));
  const exactHead = exact.head(layers - 1, head);
  if (!(exactHead instanceof ExactCache)) throw new Error('expected the exact cache');
  worst = Math.max(worst, compareToExact(exactHead, q, approx).relative);
}
const head = windowed.head(0, 0);
console.log(`steps: ${steps}, window: ${window}`);
console.log(`stored per head: ${head.stored} of ${head.seen} tokens, positions ${Math.min(...head.positions!())}..${Math.max(...head.positions!())}`);
console.log(`memory: ${windowed.bytes} bytes vs ${exact.bytes} exact; compression ${compressionRatio(head).toFixed(1)}x`);
console.log(`worst relative error of the last step: ${worst.toFixed(3)}`);
// The check: every head holds exactly the last `window` positions, in fp32 rows of d + s floats.
for (let layer = 0; layer < layers; layer++) {
  for (let h = 0; h < kvHeads; h++) {
    const c = windowed.head(layer, h);
    const kept = Array.from(c.positions!()).sort((a, b) => a - b);
    const expected = Array.from({ length: window }, (_, i) => steps - window + i);
    if (c.seen !== steps || JSON.stringify(kept) !== JSON.stringify(expected)) {
      console.error(`layer ${layer} head ${h}: the window did not keep exactly positions ${steps - window}..${steps - 1}`);
      process.exit(1);
    }
  }
}
console.log('ok');
