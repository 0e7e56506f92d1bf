import { exactPolicy, type HeadCache, ModelCache, nrm2, type PolicyChoice, PolicyRegistry } from '@kv/core';
import { heuristicPolicies } from '@kv/heuristics';
import type { LlamaModel } from '@kv/llm';
import { type CausalLM, CompressedSession, type TensorLike } from '../src/index.js';
import { DelayedAppendCache } from './delayed-append.js';
import { validationBytes } from './helpers.js';

/** kv-eval llm's default slice: the first 1024 bytes of the validation text, every byte streamed, scored from position 0. */
export const text = validationBytes(1024);
/** Core's exact policy and the heuristics. */
export const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);

/** −ln p(next) under the logits. */
export function nats(logits: Float32Array, next: number): number {
  let m = -Infinity;
  for (const x of logits) m = Math.max(m, x);
  let z = 0;
  for (const x of logits) z += Math.exp(x - m);
  return m + Math.log(z) - logits[next]!;
}

const sorted = (c: HeadCache): number[] => Array.from(c.positions!()).sort((a, b) => a - b);

/** What one side-by-side run measured. */
export interface Lockstep {
  /** Bits per byte of the session, of @kv/llm with each head driven as the session drives it, and of plain @kv/llm at B + 1. */
  session: number;
  delayed: number;
  plainNext: number;
  /** Largest past any call received. */
  largest: number;
  /** First step whose attended rows differ between the engines (-1: none), and the key norms that decided it. */
  firstSplit: number;
  splitGap: number;
  /** Largest logit difference before the first split. */
  logitGap: number;
}

/**
 * Runs a session and kv's own decoder side by side on the text: @kv/llm with each head wrapped in
 * a DelayedAppendCache (it then attends what the session attends) and, when `plainNext`, plain
 * @kv/llm at budget + 1.
 */
export async function lockstep(model: CausalLM, llama: LlamaModel, choice: PolicyChoice, budget: number, plainNext = false): Promise<Lockstep> {
  const c = llama.config;
  const shape = { layers: c.nLayers, kvHeads: c.nKvHeads, queryHeads: c.nHeads, keyDim: c.headDim, valueDim: c.headDim };
  const delayed: DelayedAppendCache[] = [];
  const decoder = llama.decoder(
    new ModelCache({ ...shape, caches: () => delayed[delayed.push(new DelayedAppendCache(registry.create({ ...choice, ...shape, budget }))) - 1]! }),
  );
  const plain = plainNext ? llama.decoder(new ModelCache({ ...shape, policy: { ...choice, budget: budget + 1 }, registry })) : undefined;
  // Key norms by (head, position) as the graph computed them, and the past of every call.
  const norms = new Float64Array(c.nLayers * c.nKvHeads * text.length);
  let largest = 0;
  const spy: CausalLM = {
    config: model.config,
    sessions: model.sessions,
    forward: async (inputs) => {
      for (const t of Object.values(inputs['past_key_values'] as Record<string, TensorLike>)) largest = Math.max(largest, t.dims[2]!);
      const out = await model.forward(inputs);
      const pos = Number((inputs['position_ids'] as TensorLike).data instanceof BigInt64Array ? ((inputs['position_ids'] as TensorLike).data as BigInt64Array)[0] : 0);
      for (let l = 0; l < c.nLayers; l++) {
        const p = out[`present.${l}.key`]!;
        const rows = p.dims[2]!;
        for (let h = 0; h < c.nKvHeads; h++) {
          const row = (p.data as Float32Array).subarray((h * rows + rows - 1) * c.headDim, (h * rows + rows) * c.headDim);
          norms[(l * c.nKvHeads + h) * text.length + pos] = nrm2(c.headDim, row, 1, 0);
        }
      }
      return out;
    },
  };
  const s = await CompressedSession.create(spy, { policy: choice, budget, registry });
  const r: Lockstep = { session: 0, delayed: 0, plainNext: 0, largest: 0, firstSplit: -1, splitGap: 0, logitGap: 0 };
  for (let i = 0; i + 1 < text.length; i++) {
    // Rows the session attends at step i: its kept rows before the call, plus token i.
    const before = r.firstSplit < 0 ? Array.from({ length: delayed.length }, (_, k) => sorted(s.cache.head(Math.floor(k / c.nKvHeads), k % c.nKvHeads))) : [];
    const a = await s.step(text[i]!);
    const b = decoder.step(text[i]!);
    r.session += nats(a, text[i + 1]!);
    r.delayed += nats(b, text[i + 1]!);
    if (plain) r.plainNext += nats(plain.step(text[i]!), text[i + 1]!);
    if (r.firstSplit >= 0) continue;
    for (let k = 0; k < delayed.length && r.firstSplit < 0; k++) {
      const theirs = sorted(delayed[k]!.inner);
      if (theirs.join() === before[k]!.join()) continue;
      // The first disagreement: how close were the key norms of the rows one engine kept and the other did not?
      r.firstSplit = i;
      const ours = new Set(before[k]);
      const onlyOurs = before[k]!.filter((p) => !theirs.includes(p));
      const onlyTheirs = theirs.filter((p) => !ours.has(p));
      const norm = (p: number) => norms[k * text.length + p]!;
      for (const p of onlyOurs) for (const q of onlyTheirs) r.splitGap = Math.max(r.splitGap, Math.abs(norm(p) - norm(q)) / Math.max(norm(p), norm(q)));
    }
    if (r.firstSplit < 0) for (let j = 0; j < a.length; j++) r.logitGap = Math.max(r.logitGap, Math.abs(a[j]! - b[j]!));
  }
  const bits = (n: number) => n / Math.LN2 / (text.length - 1);
  return { ...r, session: bits(r.session), delayed: bits(r.delayed), plainNext: bits(r.plainNext), largest };
}

