import { ModelFormatError } from './errors.js';
import { type LlamaLayerWeights, type LlamaWeights, validateWeights } from './weights.js';

const HEADER_BYTES = 28;

/**
 * Options of {@link parseLlama2c}: the two constants the legacy format does not store.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { parseLlama2c, type Llama2cOptions } from '@kv/llm';
 * const CHECKPOINT_PATH = 'models/exported-llama3.bin';
 * // A checkpoint exported from a model trained with other constants than llama2.c's.
 * const options: Llama2cOptions = { normEps: 1e-6, ropeTheta: 500000 };
 * const weights = parseLlama2c(readFileSync(CHECKPOINT_PATH), options);
 * ```
 */
export interface Llama2cOptions {
  /** RMSNorm ε (llama2.c hard-codes 1e-5). */
  readonly normEps?: number;
  /** RoPE base θ (llama2.c hard-codes 10000). */
  readonly ropeTheta?: number;
}

/**
 * Reads a llama2.c "legacy" (v0) checkpoint: 7 little-endian int32 (`dim, hidden_dim, n_layers,
 * n_heads, n_kv_heads, vocab_size, seq_len`), then float32 arrays in the order token embedding,
 * rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_cis_real, freq_cis_imag and, when
 * `vocab_size` is negative, a separate classifier `wcls` of (|vocab_size|, dim).
 *
 * @param buffer - The whole file.
 * @param options - ε and θ, which the format does not store.
 * @returns Weights in llama2.c conventions (copies; `buffer` may be released).
 * @throws {@link ModelFormatError} when the header is not positive, `dim` is not a multiple of
 *   `n_heads`, or the file is shorter than the header implies.
 * @throws {InvalidParamsError} when ε or θ is bad or the weights disagree with the header.
 * @example
 * ```ts
 * import { LlamaModel, parseLlama2c } from '@kv/llm';
 * const MODEL_URL = '/models/tinyllama-bytes.bin'; // e.g. served next to a web page
 * const arrayBuffer = await (await fetch(MODEL_URL)).arrayBuffer();
 * const model = new LlamaModel(parseLlama2c(arrayBuffer));
 * ```
 * @remarks The freq_cis tables are skipped (RoPE is recomputed, as current `run.c` does). Bytes after
 * the last array are ignored, as `run.c` ignores them.
 * @see https://github.com/karpathy/llama2.c
 */
export function parseLlama2c(buffer: ArrayBuffer | Uint8Array, options: Llama2cOptions = {}): LlamaWeights {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  if (bytes.byteLength < HEADER_BYTES) throw new ModelFormatError(`llama2.c checkpoint has ${bytes.byteLength} bytes, expected a 28-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = Array.from({ length: 7 }, (_, i) => view.getInt32(4 * i, true));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = h as [number, number, number, number, number, number, number];
  const vocabSize = Math.abs(rawVocab);
  for (const [name, v] of [['dim', dim], ['hidden_dim', hiddenDim], ['n_layers', nLayers], ['n_heads', nHeads], ['n_kv_heads', nKvHeads], ['vocab_size', vocabSize], ['seq_len', seqLen]] as const) {
    if (!(v >= 1)) throw new ModelFormatError(`llama2.c header field ${name} is ${v}, expected >= 1`);
  }
  if (dim % nHeads !== 0) throw new ModelFormatError(`dim (${dim}) is not a multiple of n_heads (${nHeads})`);
  const headDim = dim / nHeads;
  const kvDim = nKvHeads * headDim;
  const shared = rawVocab > 0;
  const needed =
    vocabSize * dim +
    nLayers * (2 * dim + 2 * dim * dim + 2 * kvDim * dim + 3 * hiddenDim * dim) +
    dim +
    seqLen * headDim + // freq_cis_real and freq_cis_imag: seqLen · headDim/2 each
    (shared ? 0 : vocabSize * dim);
  const floats = Math.floor((bytes.byteLength - HEADER_BYTES) / 4);
  if (floats < needed) {
    throw new ModelFormatError(`llama2.c checkpoint has ${floats} floats after the header, expected ${needed} for header [${h.join(', ')}]`);
  }
  let pos = HEADER_BYTES;
  // Read through a DataView so the file may start at any byte offset and the host's byte order
  // does not matter; one copy per array.
  const take = (n: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++, pos += 4) out[i] = view.getFloat32(pos, true);
    return out;
  };
  const stack = (rows: number): Float32Array[] => {
    const all = take(nLayers * rows);
    return Array.from({ length: nLayers }, (_, l) => all.slice(l * rows, (l + 1) * rows));
  };
  const tokenEmbedding = take(vocabSize * dim);
  const rmsAtt = stack(dim);
  const wq = stack(dim * dim);
  const wk = stack(kvDim * dim);
  const wv = stack(kvDim * dim);
  const wo = stack(dim * dim);
  const rmsFfn = stack(dim);
  const w1 = stack(hiddenDim * dim);
  const w2 = stack(dim * hiddenDim);
  const w3 = stack(hiddenDim * dim);
  const rmsFinal = take(dim);
  pos += seqLen * headDim * 4;
  const wcls = shared ? tokenEmbedding : take(vocabSize * dim);
  const layers: LlamaLayerWeights[] = Array.from({ length: nLayers }, (_, l) => ({
    rmsAtt: rmsAtt[l]!,
    wq: wq[l]!,
    wk: wk[l]!,
    wv: wv[l]!,
    wo: wo[l]!,
    rmsFfn: rmsFfn[l]!,
    w1: w1[l]!,
    w2: w2[l]!,
    w3: w3[l]!,
  }));
  return validateWeights({
    config: {
      dim,
      hiddenDim,
      nLayers,
      nHeads,
      nKvHeads,
      headDim,
      vocabSize,
      seqLen,
      normEps: options.normEps ?? 1e-5,
      ropeTheta: options.ropeTheta ?? 10000,
      sharedClassifier: shared,
    },
    tokenEmbedding,
    layers,
    rmsFinal,
    wcls,
  });
}

/**
 * Writes weights as a llama2.c legacy (v0) checkpoint, the inverse of {@link parseLlama2c}.
 *
 * @param w - Weights in llama2.c conventions with `headDim = dim / nHeads`.
 * @returns The file bytes, with freq_cis tables computed for `seqLen` and a negative vocab size
 *   plus a `wcls` array when the classifier is not shared.
 * @throws {@link ModelFormatError} when `headDim · nHeads ≠ dim` (the format cannot say so).
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { parseLlama2c, writeLlama2c } from '@kv/llm';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const weights = parseLlama2c(readFileSync(MODEL_PATH));
 * const copy = parseLlama2c(writeLlama2c(weights)); // the same weights
 * ```
 * @remarks ε and θ are not stored by the format; the reader assumes 1e-5 and 10000 unless told.
 */
export function writeLlama2c(w: LlamaWeights): Uint8Array {
  const c = w.config;
  if (c.headDim * c.nHeads !== c.dim) throw new ModelFormatError(`llama2.c needs headDim·nHeads = dim, got ${c.headDim}·${c.nHeads} ≠ ${c.dim}`);
  const half = c.headDim / 2;
  const cos = new Float32Array(c.seqLen * half);
  const sin = new Float32Array(c.seqLen * half);
  for (let p = 0; p < c.seqLen; p++) {
    for (let i = 0; i < half; i++) {
      const a = p * c.ropeTheta ** ((-2 * i) / c.headDim);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  const parts: Float32Array[] = [w.tokenEmbedding];
  for (const key of ['rmsAtt', 'wq', 'wk', 'wv', 'wo', 'rmsFfn', 'w1', 'w2', 'w3'] as const) {
    for (const l of w.layers) parts.push(l[key]);
  }
  parts.push(w.rmsFinal, cos, sin);
  if (!c.sharedClassifier) parts.push(w.wcls);
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(HEADER_BYTES + 4 * total);
  const view = new DataView(out.buffer);
  [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.sharedClassifier ? c.vocabSize : -c.vocabSize, c.seqLen].forEach((v, i) =>
    view.setInt32(4 * i, v, true),
  );
  let pos = HEADER_BYTES;
  for (const p of parts) for (let i = 0; i < p.length; i++, pos += 4) view.setFloat32(pos, p[i]!, true);
  return out;
}
