import { Rng } from '@kv/core';
import type { LlamaConfig, LlamaWeights } from '@kv/llm';
import type { CausalLM, TensorLike } from '../src/index.js';

// A grouped-query Llama decoder with the graph interface of a Hugging Face ONNX export
// (input_ids, attention_mask, position_ids, past_key_values.* in; logits, present.* out), written
// in plain loops from the weights kv's decoder uses, for models we do not have as ONNX: 4 query
// heads read 2 KV heads. It checks its inputs the way ONNX Runtime fails on them.

/** Small random weights of a GQA model (llama2.c conventions: RoPE on adjacent pairs). */
export function gqaWeights(seed = 3): LlamaWeights {
  const config: LlamaConfig = { dim: 32, hiddenDim: 48, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 8, vocabSize: 128, seqLen: 512, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false };
  const rng = new Rng(seed);
  const rand = (n: number, s = 0.3) => Float32Array.from({ length: n }, () => rng.gaussian() * s);
  const norm = (n: number) => Float32Array.from({ length: n }, () => 1 + 0.2 * rng.gaussian());
  const q = config.nHeads * config.headDim;
  const kv = config.nKvHeads * config.headDim;
  const layers = Array.from({ length: config.nLayers }, () => ({
    rmsAtt: norm(config.dim), wq: rand(q * config.dim), wk: rand(kv * config.dim), wv: rand(kv * config.dim), wo: rand(config.dim * q),
    rmsFfn: norm(config.dim), w1: rand(config.hiddenDim * config.dim), w2: rand(config.dim * config.hiddenDim), w3: rand(config.hiddenDim * config.dim),
  }));
  return { config, tokenEmbedding: rand(config.vocabSize * config.dim, 1), layers, rmsFinal: norm(config.dim), wcls: rand(config.vocabSize * config.dim) };
}

function matvec(w: Float32Array, x: Float32Array, rows: number, cols: number): Float32Array {
  const y = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let c = 0; c < cols; c++) acc += w[r * cols + c]! * x[c]!;
    y[r] = acc;
  }
  return y;
}

function rmsNorm(x: Float32Array, w: Float32Array, eps: number): Float32Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => w[i]! * (scale * v));
}

function rope(vec: Float32Array, pos: number, headDim: number, theta: number): void {
  for (let j = 0; j < vec.length; j += 2) {
    const i = (j % headDim) >> 1;
    const a = pos * theta ** ((-2 * i) / headDim);
    const [x, y] = [vec[j]!, vec[j + 1]!];
    vec[j] = x * Math.cos(a) - y * Math.sin(a);
    vec[j + 1] = x * Math.sin(a) + y * Math.cos(a);
  }
}

/** The decoder as a transformers.js-shaped model. */
export function gqaModel(w: LlamaWeights): CausalLM {
  const c = w.config;
  const d = c.headDim;
  const group = c.nHeads / c.nKvHeads;
  const inputNames = ['input_ids', 'attention_mask', 'position_ids', ...Array.from({ length: c.nLayers }, (_, l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`]).flat()];
  const outputNames = ['logits', ...Array.from({ length: c.nLayers }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat()];
  const config = { num_hidden_layers: c.nLayers, num_attention_heads: c.nHeads, num_key_value_heads: c.nKvHeads, head_dim: d, hidden_size: c.dim, vocab_size: c.vocabSize };
  return {
    config,
    sessions: { model: { inputNames, outputNames } },
    async forward(inputs) {
      const ids = (inputs['input_ids'] as TensorLike).data as BigInt64Array;
      const positions = (inputs['position_ids'] as TensorLike).data as BigInt64Array;
      const mask = inputs['attention_mask'] as TensorLike;
      const past = inputs['past_key_values'] as Record<string, TensorLike>;
      const n = ids.length;
      const P = past['past_key_values.0.key']!.dims[2]!;
      if (mask.dims[1] !== P + n || !(mask.data as BigInt64Array).every((m) => m === 1n)) throw new Error(`attention_mask [${mask.dims.join(', ')}] does not cover ${P} past + ${n} new rows with ones`);
      const keys: Float32Array[] = [];
      const values: Float32Array[] = [];
      for (let l = 0; l < c.nLayers; l++) {
        for (const kind of ['key', 'value'] as const) {
          const t = past[`past_key_values.${l}.${kind}`]!;
          if (t.dims[1] !== c.nKvHeads || t.dims[2] !== P || t.dims[3] !== d) throw new Error(`past ${l} ${kind} is [${t.dims.join(', ')}]`);
          // [1, kvHeads, P + n, d], the past first.
          const out = new Float32Array(c.nKvHeads * (P + n) * d);
          for (let h = 0; h < c.nKvHeads; h++) out.set((t.data as Float32Array).subarray(h * P * d, (h + 1) * P * d), h * (P + n) * d);
          (kind === 'key' ? keys : values).push(out);
        }
      }
      const logits = new Float32Array(n * c.vocabSize);
      for (let j = 0; j < n; j++) {
        const pos = Number(positions[j]!);
        let x = w.tokenEmbedding.slice(Number(ids[j]!) * c.dim, (Number(ids[j]!) + 1) * c.dim);
        for (let l = 0; l < c.nLayers; l++) {
          const lw = w.layers[l]!;
          const xb = rmsNorm(x, lw.rmsAtt, c.normEps);
          const q = matvec(lw.wq, xb, c.nHeads * d, c.dim);
          const k = matvec(lw.wk, xb, c.nKvHeads * d, c.dim);
          const v = matvec(lw.wv, xb, c.nKvHeads * d, c.dim);
          rope(q, pos, d, c.ropeTheta);
          rope(k, pos, d, c.ropeTheta);
          const rows = P + n;
          for (let h = 0; h < c.nKvHeads; h++) {
            keys[l]!.set(k.subarray(h * d, (h + 1) * d), (h * rows + P + j) * d);
            values[l]!.set(v.subarray(h * d, (h + 1) * d), (h * rows + P + j) * d);
          }
          const att = new Float32Array(c.nHeads * d);
          for (let qh = 0; qh < c.nHeads; qh++) {
            const h = Math.floor(qh / group);
            const scores = new Float64Array(P + j + 1);
            for (let r = 0; r <= P + j; r++) {
              let s = 0;
              for (let e = 0; e < d; e++) s += q[qh * d + e]! * keys[l]![(h * rows + r) * d + e]!;
              scores[r] = s / Math.sqrt(d);
            }
            const m = Math.max(...scores);
            let z = 0;
            for (let r = 0; r < scores.length; r++) z += (scores[r] = Math.exp(scores[r]! - m));
            for (let r = 0; r < scores.length; r++) for (let e = 0; e < d; e++) att[qh * d + e] += (scores[r]! / z) * values[l]![(h * rows + r) * d + e]!;
          }
          const o = matvec(lw.wo, att, c.dim, c.nHeads * d);
          x = x.map((v2, i) => v2 + o[i]!);
          const xb2 = rmsNorm(x, lw.rmsFfn, c.normEps);
          const g = matvec(lw.w1, xb2, c.hiddenDim, c.dim);
          const u = matvec(lw.w3, xb2, c.hiddenDim, c.dim);
          const hidden = g.map((a, i) => (a / (1 + Math.exp(-a))) * u[i]!);
          const f = matvec(lw.w2, hidden, c.dim, c.hiddenDim);
          x = x.map((v2, i) => v2 + f[i]!);
        }
        logits.set(matvec(w.wcls, rmsNorm(x, w.rmsFinal, c.normEps), c.vocabSize, c.dim), j * c.vocabSize);
      }
      const out: Record<string, TensorLike> = { logits: { type: 'float32', dims: [1, n, c.vocabSize], data: logits } };
      for (let l = 0; l < c.nLayers; l++) {
        out[`present.${l}.key`] = { type: 'float32', dims: [1, c.nKvHeads, P + n, d], data: keys[l]! };
        out[`present.${l}.value`] = { type: 'float32', dims: [1, c.nKvHeads, P + n, d], data: values[l]! };
      }
      return out;
    },
  };
}
