// AdaKV / CriticalAdaKV head pools and per-layer budget schedules on real attention, with the decode
// protocol of kv-eval but the heads of a layer fed in lockstep (append every head's k_t, v_t, then
// answer every head's q_t), as a model does: a pool only means something when its heads advance
// together, and kv-eval feeds one head after another. Budgets are kv-eval's
// ({ fraction: f, minBytes: f·4(d+s)·from } per head; a pool holds the sum of its heads'); scored at
// t = ⌊n/4⌋ every ⌊n/32⌋ by ||z − Attn|| / ||Attn||, median over query times per head, then over heads.
// Every step checks that each layer holds at most the sum of its heads' budgets (a schedule: of the
// layer's scheduled budgets), so a variant that wins by holding more bytes fails loudly.
//
// Run from the repository root:
//   node --conditions=@kv/source --import tsx packages/heuristics/bench/layers.bench.ts
// Env: WORKLOADS = comma list of `sample` (data/real-attention: head 0 of each layer), `model`
// (the tiny model on its sample text, bytes [0, 1024): 4 layers × 3 heads) and `model@<offset>`
// (the same text from byte <offset>: the tuning texts are model@1024, model@2048, model@3072;
// `model` is the held-out one), or several joined by `+` (their heads pooled into one median);
// default sample,model. FRACTIONS (default 4,8,16 for 1/4, 1/8, 1/16). ONLY = comma list of variant labels.
// The workloads are read through @kv/eval's loaders (a bench script, not part of the package).
import { budgetBytes, type Budget, ExactCache, type HeadCache, PolicyRegistry, type PolicyChoice, relativeError } from '@kv/core';
import { buildWorkload, type Workload } from '../../eval/src/index.js';
import { adaKV, type DepthShape, heuristicPolicies, layerBudgets } from '../src/index.js';

const registry = new PolicyRegistry().register(...heuristicPolicies);
const root = new URL('../../../', import.meta.url).pathname;

interface Layout {
  /** Heads grouped by layer, in head order. */
  readonly layers: { layer: number; heads: number[] }[];
}

function layout(w: Workload): Layout {
  const byLayer = new Map<number, number[]>();
  w.heads.forEach((h, i) => {
    const m = /^L(\d+)\./.exec(h.label);
    if (!m) throw new Error(`head label ${h.label} names no layer`);
    const l = Number(m[1]);
    byLayer.set(l, [...(byLayer.get(l) ?? []), i]);
  });
  return { layers: [...byLayer.entries()].sort((a, b) => a[0] - b[0]).map(([layer, heads]) => ({ layer, heads })) };
}

const median = (a: ArrayLike<number>): number => {
  const s = Float64Array.from(a).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Prepared {
  readonly w: Workload;
  readonly steps: number[];
  readonly exact: Float32Array[];
  readonly layout: Layout;
}

function prepare(w: Workload): Prepared {
  const n = w.length;
  const steps: number[] = [];
  for (let t = Math.floor(n / 4); t < n; t += Math.floor(n / 32)) steps.push(t);
  const exact = w.heads.map((h) => {
    const c = new ExactCache({ policy: 'exact', keyDim: h.keyDim, valueDim: h.valueDim, tau: w.tau });
    const out = new Float32Array(steps.length * h.valueDim);
    let i = 0;
    for (let t = 0; t <= steps[steps.length - 1]!; t++) {
      c.append(h.keys.subarray(t * h.keyDim, (t + 1) * h.keyDim), h.values.subarray(t * h.valueDim, (t + 1) * h.valueDim));
      if (t === steps[i]) c.attend(h.queries.subarray(t * h.keyDim, (t + 1) * h.keyDim), out.subarray(i++ * h.valueDim, i * h.valueDim));
    }
    return out;
  });
  return { w, steps, exact, layout: layout(w) };
}

/** How a variant gives each head its policy and budget. */
type Grouping =
  | { readonly kind: 'heads' }
  | { readonly kind: 'adakv'; readonly alpha?: number; readonly across?: 'layer' | 'model'; readonly shape?: DepthShape }
  | { readonly kind: 'schedule'; readonly shape: DepthShape };

interface Variant {
  readonly label: string;
  readonly choice: PolicyChoice;
  readonly grouping: Grouping;
}

/** Median error over heads (each the median over its query times), or throws when a group goes over its bytes. */
function run(p: Prepared, v: Variant, fraction: number): { error: number; perHead: number[]; held: number[] } {
  const { w, steps } = p;
  const d = w.keyDim;
  const s = w.valueDim;
  const average: Budget = { fraction, minBytes: fraction * 4 * (d + s) * steps[0]! };
  const nLayers = p.layout.layers.length;
  const shape = v.grouping.kind === 'heads' ? undefined : v.grouping.shape;
  const schedule = shape ? layerBudgets(average, nLayers, shape) : null;
  // Groups that share a budget and advance in lockstep: a layer's heads (or every head, for a model-wide pool).
  const groups = v.grouping.kind === 'adakv' && v.grouping.across === 'model'
    ? [{ layer: -1, heads: p.layout.layers.flatMap((l) => l.heads) }]
    : p.layout.layers;
  const perHead = new Array<number>(w.heads.length).fill(NaN);
  const held = new Array<number>(w.heads.length).fill(0);
  groups.forEach((g, gi) => {
    const budgets = g.heads.map(() => (schedule ? schedule[gi]! : average));
    const caches: HeadCache[] = g.heads.map((hi, k) => {
      const budget = budgets[k]!;
      const base = { ...v.choice, budget };
      const choice = v.grouping.kind === 'adakv'
        ? adaKV(base, { heads: g.heads.length, ...(v.grouping.alpha !== undefined ? { alpha: v.grouping.alpha } : {}) })(g.layer, k)
        : base;
      return registry.create({ ...choice, keyDim: d, valueDim: s, tau: w.tau, seed: hi });
    });
    const errs = g.heads.map(() => new Float64Array(steps.length));
    const out = new Float32Array(s);
    const last = steps[steps.length - 1]!;
    for (let t = 0, i = 0; t <= last; t++) {
      g.heads.forEach((hi, k) => {
        const h = w.heads[hi]!;
        caches[k]!.append(h.keys.subarray(t * d, (t + 1) * d), h.values.subarray(t * s, (t + 1) * s));
      });
      let bytes = 0;
      let limit = 0;
      g.heads.forEach((hi, k) => {
        const h = w.heads[hi]!;
        caches[k]!.attend(h.queries.subarray(t * d, (t + 1) * d), out);
        bytes += caches[k]!.bytes;
        limit += budgetBytes(budgets[k]!, t + 1, d, s);
        if (t === steps[i]) errs[k]![i] = relativeError(out, p.exact[hi]!.subarray(i * s, (i + 1) * s));
      });
      if (bytes > limit) throw new Error(`${v.label}: layer ${g.layer} holds ${bytes} B > ${limit} B at step ${t}`);
      if (t === steps[i]) i++;
    }
    g.heads.forEach((hi, k) => {
      perHead[hi] = median(errs[k]!);
      held[hi] = caches[k]!.stored;
    });
  });
  return { error: median(perHead), perHead, held };
}

const rope = { theta: 10000, pairing: 'interleaved' };
const ea0: PolicyChoice = { policy: 'expected-attention', params: { rope } };
const ea: PolicyChoice = { policy: 'expected-attention', params: { rope, recentRatio: 0.5 } };
// Probabilities alone are on one scale in every head (each sums to 1), as AdaKV's paper compares them.
const eaProbs: PolicyChoice = { policy: 'expected-attention', params: { rope, valueNorm: false } };
const critical = (c: PolicyChoice): PolicyChoice => ({ ...c, params: { ...c.params, critical: true } });
const int8 = (c: PolicyChoice): PolicyChoice => ({ ...c, params: { ...c.params, precision: 'int8' } });
const variants: Variant[] = [
  { label: 'window', choice: { policy: 'sliding-window' }, grouping: { kind: 'heads' } },
  { label: 'ea', choice: ea0, grouping: { kind: 'heads' } },
  { label: 'adakv(ea)', choice: ea0, grouping: { kind: 'adakv' } },
  { label: 'adakv(criticalkv(ea))', choice: critical(ea0), grouping: { kind: 'adakv' } },
  { label: 'ea no-vnorm', choice: eaProbs, grouping: { kind: 'heads' } },
  { label: 'adakv(ea no-vnorm)', choice: eaProbs, grouping: { kind: 'adakv' } },
  { label: 'linear 1→3 (ea)', choice: ea0, grouping: { kind: 'schedule', shape: { linear: { first: 1, last: 3 } } } },
  { label: 'linear 1→3 (adakv(ea))', choice: ea0, grouping: { kind: 'adakv', shape: { linear: { first: 1, last: 3 } } } },
  { label: 'ea int8', choice: int8(ea0), grouping: { kind: 'heads' } },
  { label: 'adakv(ea int8)', choice: int8(ea0), grouping: { kind: 'adakv' } },
  { label: 'ea r1/2 int8', choice: int8(ea), grouping: { kind: 'heads' } },
  { label: 'adakv(ea r1/2 int8)', choice: int8(ea), grouping: { kind: 'adakv' } },
  { label: 'ea r1/2', choice: ea, grouping: { kind: 'heads' } },
  { label: 'adakv(ea r1/2)', choice: ea, grouping: { kind: 'adakv' } },
  { label: 'criticalkv(ea r1/2)', choice: critical(ea), grouping: { kind: 'heads' } },
  { label: 'adakv(criticalkv(ea r1/2))', choice: critical(ea), grouping: { kind: 'adakv' } },
  { label: 'adakv-model(ea r1/2)', choice: ea, grouping: { kind: 'adakv', across: 'model' } },
  { label: 'tova', choice: { policy: 'tova' }, grouping: { kind: 'heads' } },
  { label: 'adakv(tova)', choice: { policy: 'tova' }, grouping: { kind: 'adakv' } },
  { label: 'h2o', choice: { policy: 'h2o' }, grouping: { kind: 'heads' } },
  { label: 'adakv(h2o)', choice: { policy: 'h2o' }, grouping: { kind: 'adakv' } },
  { label: 'pyramid(ea r1/2)', choice: ea, grouping: { kind: 'schedule', shape: { pyramid: { beta: 20 } } } },
  { label: 'linear 1→3 (ea r1/2)', choice: ea, grouping: { kind: 'schedule', shape: { linear: { first: 1, last: 3 } } } },
  { label: 'linear 3→1 (ea r1/2)', choice: ea, grouping: { kind: 'schedule', shape: { linear: { first: 3, last: 1 } } } },
  { label: 'pyramid(window)', choice: { policy: 'sliding-window' }, grouping: { kind: 'schedule', shape: { pyramid: { beta: 20 } } } },
  { label: 'linear 1→3 (window)', choice: { policy: 'sliding-window' }, grouping: { kind: 'schedule', shape: { linear: { first: 1, last: 3 } } } },
];

function load(name: string): Workload {
  if (name === 'sample') return buildWorkload({ family: 'npy', name, path: `${root}data/real-attention` }, 0);
  const m = /^model(?:@(\d+))?$/.exec(name);
  if (!m) throw new Error(`unknown workload ${name}: sample, model or model@<offset>`);
  return buildWorkload({ family: 'model', name, offset: Number(m[1] ?? 0) }, 0);
}

const fractions = (process.env['FRACTIONS'] ?? '4,8,16').split(',').map(Number);
const only = process.env['ONLY'];
const chosen = only ? variants.filter((v) => only.split(',').includes(v.label)) : variants;
// A workload `a+b+c` pools the heads of several workloads (each keeps its own layers) into one median.
for (const name of (process.env['WORKLOADS'] ?? 'sample,model').split(',')) {
  const parts = name.split('+').map((part) => prepare(load(part)));
  const heads = parts.reduce((a, p) => a + p.w.heads.length, 0);
  const shape = parts[0]!.layout.layers.map((l) => l.heads.length).join('+');
  console.log(`\n### ${name} (${heads} heads; ${shape} per layer; n = ${parts[0]!.w.length})\n`);
  console.log(`| variant | ${fractions.map((f) => `1/${f}`).join(' | ')} |`);
  console.log(`| --- | ${fractions.map(() => '---:').join(' | ')} |`);
  for (const v of chosen) {
    // A pool of one head is the head itself: say so rather than print a copy of the per-head row.
    if (v.grouping.kind === 'adakv' && v.grouping.across !== 'model' && parts.every((p) => p.layout.layers.every((l) => l.heads.length === 1))) {
      console.log(`| ${v.label} | ${fractions.map(() => 'n/a (one head per layer)').join(' | ')} |`);
      continue;
    }
    const cells = fractions.map((f) => {
      try {
        const runs = parts.map((p) => run(p, v, 1 / f));
        const error = median(runs.flatMap((r) => r.perHead));
        return process.env['ROWS'] ? `${error.toFixed(4)} (rows ${runs.map((r) => r.held.join('/')).join(' ')})` : error.toFixed(4);
      } catch (e) {
        return `failed: ${(e as Error).message}`;
      }
    });
    console.log(`| ${v.label} | ${cells.join(' | ')} |`);
  }
}
