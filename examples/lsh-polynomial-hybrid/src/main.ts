// An LSH-partitioned polynomial hybrid. Taylor moments (@kv/polynomial) are accurate when every
// key is close to the expansion centre: the error term grows like ρ^{g+1}e^ρ/(g+1)! with
// ρ = ‖q‖·max‖k − c‖·τ. Keys pointing in different directions are far from any single centre, so
// we route each key by its SimHash cell (@kv/lsh): keys of similar direction share a cell, and
// each cell keeps its own Taylor moments about its own centre. The parts answer with log-scaled
// kernel sums that `partitioned` (@kv/hybrid) merges exactly by log-sum-exp.
import { compareToExact, ExactCache, exactPolicy, type PolicyChoice, PolicyRegistry, Rng } from '@kv/core';
import { createPartitionedPolicy, partitioned, type PartitionedCache, type TokenRoute } from '@kv/hybrid';
import { SimHash } from '@kv/lsh';
import { polynomialPolicies } from '@kv/polynomial';

const d = 16;
const n = 8192;
const directions = 4;
const bits = 4; // 2^3 = 8 SimHash cells
const probes = 200;

// The routing rule is code, so it is registered under a name; specs stay plain JSON.
// The hash functions are drawn once from a fixed seed: routing must be deterministic. SimHash can
// put two directions into one cell (for near-orthogonal directions, probability about 2^-bits
// per pair); such a cell is then no better than one centre. With this seed each direction gets
// its own cells; other seeds may merge two (the table below shows the tokens per cell).
const simhash = new SimHash(d, bits, new Rng(1));
const bySimHash: TokenRoute = (key) => simhash.hash(key, 0);
const lshPartitioned = createPartitionedPolicy('lsh-partitioned', { simhash: bySimHash });
const registry = new PolicyRegistry().register(exactPolicy, lshPartitioned, ...polynomialPolicies);

// Keys and queries around a few random directions (norm 3.5), as in a head with several
// distinct key "topics"; values are Gaussian.
const rng = new Rng(5);
const axes = Array.from({ length: directions }, () => {
  const a = rng.fillGaussian(new Float32Array(d));
  const norm = Math.hypot(...a);
  return a.map((x) => (3.5 * x) / norm);
});
const around = (out: Float32Array): Float32Array => {
  const axis = axes[rng.int(directions)]!;
  for (let i = 0; i < d; i++) out[i] = axis[i]! + 0.05 * rng.gaussian();
  return out;
};
const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: d });
const parts = 2 ** bits;
const taylor: PolicyChoice = { policy: 'taylor', params: { degree: 2 } };
const caches = {
  'taylor, one centre': registry.create({ ...taylor, keyDim: d, valueDim: d }),
  'taylor per SimHash cell': registry.create({
    ...partitioned({ policy: 'lsh-partitioned', route: { kind: 'custom', name: 'simhash' }, parts: Array(parts).fill(taylor) }),
    keyDim: d,
    valueDim: d,
  }),
  'exact per SimHash cell': registry.create({
    ...partitioned({ policy: 'lsh-partitioned', route: { kind: 'custom', name: 'simhash' }, parts: Array(parts).fill({ policy: 'exact' }) }),
    keyDim: d,
    valueDim: d,
  }),
};
const key = new Float32Array(d);
const value = new Float32Array(d);
for (let t = 0; t < n; t++) {
  around(key);
  rng.fillGaussian(value);
  exact.append(key, value);
  for (const c of Object.values(caches)) c.append(key, value);
}
const hybrid = caches['taylor per SimHash cell'];
const query = new Float32Array(d);
const out = new Float32Array(d);
const errors = Object.fromEntries(Object.keys(caches).map((k) => [k, 0])) as Record<keyof typeof caches, number>;
for (let i = 0; i < probes; i++) {
  around(query);
  for (const [name, c] of Object.entries(caches) as [keyof typeof caches, (typeof caches)[keyof typeof caches]][]) {
    errors[name] += compareToExact(exact, query, c.attend(query, out)).relative / probes;
  }
}

console.log(`stream: n = ${n}, d = s = ${d}, keys around ${directions} directions; ${parts} SimHash cells; Taylor degree 2`);
console.log('| cache | bytes | vs exact bytes | mean relative error |');
console.log('|---|---|---|---|');
console.log(`| exact | ${exact.bytes} | 1 | 0 |`);
for (const [name, c] of Object.entries(caches) as [keyof typeof caches, (typeof caches)[keyof typeof caches]][]) {
  console.log(`| ${name} | ${c.bytes} | ${(c.bytes / exact.bytes).toFixed(3)} | ${errors[name].toExponential(3)} |`);
}

console.log(`tokens per cell: ${(hybrid as PartitionedCache).parts.map((p) => p.seen).join(' ')}`);

// The checks: routing loses nothing (exact parts give exact attention); per-cell Taylor moments
// use less memory than the exact cache and are at least 5x more accurate than one Taylor
// expansion of the same degree about a single centre.
const failures: string[] = [];
if (!(errors['exact per SimHash cell'] < 1e-5)) failures.push(`partitioned exact parts should be exact, error ${errors['exact per SimHash cell']}`);
if (!(hybrid.bytes < exact.bytes)) failures.push(`the hybrid holds ${hybrid.bytes} bytes, not less than exact (${exact.bytes})`);
if (!(errors['taylor per SimHash cell'] * 5 < errors['taylor, one centre'])) {
  failures.push(`per-cell Taylor error ${errors['taylor per SimHash cell']} is not 5x below one centre's (${errors['taylor, one centre']})`);
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log('ok');
