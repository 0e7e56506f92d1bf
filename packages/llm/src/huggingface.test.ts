import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKvError, KvErrorCode } from '@kv/core';
import { afterAll, describe, expect, it } from 'vitest';
import { randomWeights } from '../test/helpers.js';
import { ModelFormatError } from './errors.js';
import { huggingFaceConfig, parseHuggingFace, toHuggingFace } from './huggingface.js';
import { parseLlama2c, writeLlama2c } from './llama2c.js';
import { LlamaModel } from './model.js';
import { loadModel } from './node.js';
import { writeSafetensors } from './safetensors.js';
import type { LlamaWeights } from './weights.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// A llama2.c legacy file written by hand from the tensors (not with writeLlama2c).
function llama2cBytes(w: LlamaWeights): Uint8Array {
  const c = w.config;
  const arrays: Float32Array[] = [w.tokenEmbedding];
  for (const key of ['rmsAtt', 'wq', 'wk', 'wv', 'wo', 'rmsFfn', 'w1', 'w2', 'w3'] as const) for (const l of w.layers) arrays.push(l[key]);
  arrays.push(w.rmsFinal, new Float32Array(c.seqLen * c.headDim)); // freq_cis tables: skipped by readers
  if (!c.sharedClassifier) arrays.push(w.wcls);
  const header = new Int32Array([c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.sharedClassifier ? c.vocabSize : -c.vocabSize, c.seqLen]);
  const floats = new Float32Array(arrays.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const a of arrays) {
    floats.set(a, o);
    o += a.length;
  }
  const out = new Uint8Array(28 + floats.byteLength);
  out.set(new Uint8Array(header.buffer), 0);
  out.set(new Uint8Array(floats.buffer), 28);
  return out;
}

// HF's convert_llama_weights_to_hf.py: w.view(heads, dim1/heads/2, 2, dim2).transpose(1, 2).reshape(dim1, dim2).
function hfPermute(w: Float32Array, heads: number, rows: number, cols: number): Float32Array {
  const half = rows / heads / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++)
    for (let a = 0; a < half; a++)
      for (let b = 0; b < 2; b++) {
        const src = (h * half + a) * 2 + b; // view(heads, half, 2)
        const dst = (h * 2 + b) * half + a; // transposed to (heads, 2, half)
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
  return out;
}

// The checkpoint as a Hugging Face export would write it, built by hand from the same tensors.
function hfTensors(w: LlamaWeights): Record<string, { shape: number[]; data: Float32Array }> {
  const c = w.config;
  const q = c.nHeads * c.headDim;
  const kv = c.nKvHeads * c.headDim;
  const t: Record<string, { shape: number[]; data: Float32Array }> = {
    'model.embed_tokens.weight': { shape: [c.vocabSize, c.dim], data: w.tokenEmbedding },
    'model.norm.weight': { shape: [c.dim], data: w.rmsFinal },
  };
  if (!c.sharedClassifier) t['lm_head.weight'] = { shape: [c.vocabSize, c.dim], data: w.wcls };
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}.`;
    t[`${p}self_attn.q_proj.weight`] = { shape: [q, c.dim], data: hfPermute(l.wq, c.nHeads, q, c.dim) };
    t[`${p}self_attn.k_proj.weight`] = { shape: [kv, c.dim], data: hfPermute(l.wk, c.nKvHeads, kv, c.dim) };
    t[`${p}self_attn.v_proj.weight`] = { shape: [kv, c.dim], data: l.wv };
    t[`${p}self_attn.o_proj.weight`] = { shape: [c.dim, q], data: l.wo };
    t[`${p}mlp.gate_proj.weight`] = { shape: [c.hiddenDim, c.dim], data: l.w1 };
    t[`${p}mlp.up_proj.weight`] = { shape: [c.hiddenDim, c.dim], data: l.w3 };
    t[`${p}mlp.down_proj.weight`] = { shape: [c.dim, c.hiddenDim], data: l.w2 };
    t[`${p}input_layernorm.weight`] = { shape: [c.dim], data: l.rmsAtt };
    t[`${p}post_attention_layernorm.weight`] = { shape: [c.dim], data: l.rmsFfn };
  });
  return t;
}

function hfConfig(w: LlamaWeights): Record<string, unknown> {
  const c = w.config;
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_act: 'silu',
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.seqLen,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: c.sharedClassifier,
  };
}

// Hugging Face's computation in float64, full recomputation at every position: rotate_half RoPE on
// the permuted HF tensors, repeat_kv for GQA. Independent of the decoder under test.
function hfNaiveLogits(t: Record<string, { data: Float32Array }>, cfg: Record<string, unknown>, tokens: number[]): Float64Array[] {
  const dim = cfg.hidden_size as number;
  const H = cfg.num_attention_heads as number;
  const KV = cfg.num_key_value_heads as number;
  const hd = dim / H;
  const hidden = cfg.intermediate_size as number;
  const V = cfg.vocab_size as number;
  const L = cfg.num_hidden_layers as number;
  const mv = (W: Float32Array, x: Float64Array, rows: number): Float64Array => {
    const cols = x.length;
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += W[r * cols + j]! * x[j]!;
      y[r] = s;
    }
    return y;
  };
  const norm = (x: Float64Array, w: Float32Array): Float64Array => {
    const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
    return x.map((v, i) => (v / Math.sqrt(ms + 1e-5)) * w[i]!);
  };
  const rope = (x: Float64Array, heads: number, pos: number): Float64Array => {
    const out = new Float64Array(x.length);
    const half = hd / 2;
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < half; i++) {
        const ang = pos * 10000 ** ((-2 * i) / hd);
        const a = x[h * hd + i]!;
        const b = x[h * hd + i + half]!;
        out[h * hd + i] = a * Math.cos(ang) - b * Math.sin(ang);
        out[h * hd + i + half] = b * Math.cos(ang) + a * Math.sin(ang);
      }
    return out;
  };
  const T = tokens.length;
  let xs = tokens.map((tok) => Float64Array.from(t['model.embed_tokens.weight']!.data.subarray(tok * dim, (tok + 1) * dim)));
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    const hs = xs.map((x) => norm(x, t[`${p}input_layernorm.weight`]!.data));
    const qs = hs.map((h, pos) => rope(mv(t[`${p}self_attn.q_proj.weight`]!.data, h, H * hd), H, pos));
    const ks = hs.map((h, pos) => rope(mv(t[`${p}self_attn.k_proj.weight`]!.data, h, KV * hd), KV, pos));
    const vs = hs.map((h) => mv(t[`${p}self_attn.v_proj.weight`]!.data, h, KV * hd));
    xs = xs.map((x, pos) => {
      const att = new Float64Array(H * hd);
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / (H / KV));
        const sc = Array.from({ length: pos + 1 }, (_, s) => {
          let d = 0;
          for (let j = 0; j < hd; j++) d += qs[pos]![h * hd + j]! * ks[s]![kvh * hd + j]!;
          return d / Math.sqrt(hd);
        });
        const m = Math.max(...sc);
        const e = sc.map((v) => Math.exp(v - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let s = 0; s <= pos; s++) for (let j = 0; j < hd; j++) att[h * hd + j] += (e[s]! / z) * vs[s]![kvh * hd + j]!;
      }
      const y = x.map((v, i) => v + mv(t[`${p}self_attn.o_proj.weight`]!.data, att, dim)[i]!);
      const f = norm(y, t[`${p}post_attention_layernorm.weight`]!.data);
      const g = mv(t[`${p}mlp.gate_proj.weight`]!.data, f, hidden);
      const u = mv(t[`${p}mlp.up_proj.weight`]!.data, f, hidden);
      const act = g.map((v, i) => (v / (1 + Math.exp(-v))) * u[i]!);
      const down = mv(t[`${p}mlp.down_proj.weight`]!.data, act, dim);
      return y.map((v, i) => v + down[i]!);
    });
  }
  const head = (t['lm_head.weight'] ?? t['model.embed_tokens.weight'])!.data;
  return xs.map((x) => mv(head, norm(x, t['model.norm.weight']!.data), V));
}

function runLogits(model: LlamaModel, tokens: number[]): Float32Array[] {
  const d = model.decoder(model.createCache({ policy: 'exact' }));
  return tokens.map((t) => d.step(t).slice());
}

describe('Hugging Face and llama2.c checkpoints', () => {
  const tokens = [3, 17, 0, 31, 5, 5, 9, 22, 14, 1, 30, 8];

  for (const shared of [false, true]) {
    it(`a GQA checkpoint (4 query heads, 2 KV heads, ${shared ? 'tied' : 'separate'} classifier) written by the test gives identical logits through both loaders`, async () => {
      const w = randomWeights({ sharedClassifier: shared, headDim: 6, dim: 24, nHeads: 4, nKvHeads: 2 }, shared ? 7 : 3);
      const dir = mkdtempSync(join(tmpdir(), 'kv-llm-hf-'));
      dirs.push(dir);
      const tensors = hfTensors(w);
      writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfig(w)));
      writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
      writeFileSync(join(dir, 'model.bin'), llama2cBytes(w));
      const fromHf = await loadModel(dir);
      const fromBin = await loadModel(join(dir, 'model.bin'));
      expect(fromHf.config.sharedClassifier).toBe(shared);
      expect(fromBin.config.sharedClassifier).toBe(shared);
      expect(fromHf.config.nKvHeads).toBe(2);
      const a = runLogits(fromHf, tokens);
      const b = runLogits(fromBin, tokens);
      for (let i = 0; i < tokens.length; i++) expect(Array.from(a[i]!)).toEqual(Array.from(b[i]!));
      // And both agree with Hugging Face's own rotate_half computation on the HF tensors.
      const naive = hfNaiveLogits(tensors, hfConfig(w), tokens);
      let worst = 0;
      for (let i = 0; i < tokens.length; i++) for (let j = 0; j < w.config.vocabSize; j++) worst = Math.max(worst, Math.abs(naive[i]![j]! - a[i]![j]!));
      expect(worst).toBeLessThan(1e-4);
    });
  }

  it('without the q/k permutation the HF checkpoint would give other logits (the test can fail)', () => {
    const w = randomWeights({}, 11);
    const tensors = hfTensors(w);
    for (let l = 0; l < w.config.nLayers; l++) {
      tensors[`model.layers.${l}.self_attn.q_proj.weight`]!.data = w.layers[l]!.wq;
      tensors[`model.layers.${l}.self_attn.k_proj.weight`]!.data = w.layers[l]!.wk;
    }
    const wrong = new LlamaModel(parseHuggingFace({ config: hfConfig(w), safetensors: [writeSafetensors(tensors)] }));
    const right = new LlamaModel(w);
    const a = runLogits(wrong, tokens);
    const b = runLogits(right, tokens);
    const diff = Math.max(...a.flatMap((x, i) => Array.from(x, (v, j) => Math.abs(v - b[i]![j]!))));
    expect(diff).toBeGreaterThan(1e-3);
  });

  it('toHuggingFace and writeLlama2c round-trip the weights exactly', () => {
    for (const shared of [false, true]) {
      const w = randomWeights({ sharedClassifier: shared }, 5);
      const viaHf = parseHuggingFace(toHuggingFace(w));
      const viaBin = parseLlama2c(writeLlama2c(w));
      for (const back of [viaHf, viaBin]) {
        expect(back.config).toEqual(w.config);
        expect(Array.from(back.wcls)).toEqual(Array.from(w.wcls));
        for (let l = 0; l < w.config.nLayers; l++) {
          for (const k of ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3', 'rmsAtt', 'rmsFfn'] as const) {
            expect(Array.from(back.layers[l]![k])).toEqual(Array.from(w.layers[l]![k]));
          }
        }
      }
    }
  });

  it('refuses unsupported or malformed configs and checkpoints with typed errors', () => {
    const w = randomWeights({}, 2);
    const cfg = hfConfig(w);
    const bytes = writeSafetensors(hfTensors(w));
    const bad = (c: Record<string, unknown>, code: string) => {
      try {
        parseHuggingFace({ config: c, safetensors: [bytes] });
        expect.unreachable();
      } catch (e) {
        expect(isKvError(e)).toBe(true);
        expect((e as { code: string }).code).toBe(code);
      }
    };
    bad({ ...cfg, rope_scaling: { rope_type: 'llama3', factor: 8 } }, KvErrorCode.Unsupported);
    bad({ ...cfg, model_type: 'qwen2' }, KvErrorCode.Unsupported);
    bad({ ...cfg, attention_bias: true }, KvErrorCode.Unsupported);
    bad({ ...cfg, hidden_act: 'gelu' }, KvErrorCode.Unsupported);
    bad({ ...cfg, hidden_size: 0 }, KvErrorCode.InvalidParams);
    bad({ ...cfg, intermediate_size: 41 }, KvErrorCode.InvalidParams); // shape mismatch
    const t = hfTensors(w);
    delete t['model.norm.weight'];
    expect(() => parseHuggingFace({ config: cfg, safetensors: [writeSafetensors(t)] })).toThrow(ModelFormatError);
    expect(huggingFaceConfig({ ...cfg, head_dim: undefined }, true).headDim).toBe(6);
    expect(() => parseLlama2c(new Uint8Array(10))).toThrow(ModelFormatError);
    const file = llama2cBytes(w);
    expect(() => parseLlama2c(file.subarray(0, file.length - 4 * w.wcls.length - 4))).toThrow(ModelFormatError);
    const zeroDim = file.slice();
    new DataView(zeroDim.buffer).setInt32(0, 0, true);
    expect(() => parseLlama2c(zeroDim)).toThrow(ModelFormatError);
  });
});
