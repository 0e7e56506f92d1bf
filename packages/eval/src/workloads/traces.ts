import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readSafetensors, writeSafetensors } from '@kv/llm';
import { TraceFormatError } from '../errors.js';
import { readNpy, writeNpy } from './npy.js';
import { streamRadius } from './synthetic.js';
import type { HeadStream, TraceWorkloadSpec, Workload } from './types.js';

/**
 * One head of a trace manifest: the layer and head indices and the `.npy` files (relative to the
 * manifest) holding Q and K as [n, d] and V as [n, s].
 *
 * @example
 * ```ts
 * import type { TraceManifestHead } from '@kv/eval';
 * const h: TraceManifestHead = { layer: 0, head: 0, q: 'L0.H0.q.npy', k: 'L0.H0.k.npy', v: 'L0.H0.v.npy' };
 * ```
 */
export interface TraceManifestHead {
  /** Layer index. */
  readonly layer: number;
  /** Head index (query head; with GQA several heads may share the k/v files). */
  readonly head: number;
  /** Queries file, [n, d]. */
  readonly q: string;
  /** Keys file, [n, d] (post-RoPE, as the cache stores them). */
  readonly k: string;
  /** Values file, [n, s]. */
  readonly v: string;
}

/**
 * The `manifest.json` of a folder trace.
 *
 * @example
 * ```json
 * { "format": "kv-trace/1", "model": "TinyLlama", "tau": 0.125,
 *   "heads": [{ "layer": 0, "head": 0, "q": "L0.H0.q.npy", "k": "L0.H0.k.npy", "v": "L0.H0.v.npy" }] }
 * ```
 */
export interface TraceManifest {
  /** Always `kv-trace/1`. */
  readonly format: 'kv-trace/1';
  /** Free-form source description. */
  readonly model?: string;
  /** Logit scale the model used (default 1/√d). */
  readonly tau?: number;
  /** The heads. */
  readonly heads: readonly TraceManifestHead[];
}

const TRACE_FORMAT = 'kv-trace/1';

function matrix(name: string, shape: readonly number[], data: Float32Array, cols?: number): { rows: number; cols: number; data: Float32Array } {
  if (shape.length !== 2) throw new TraceFormatError(`${name}: shape ${JSON.stringify(shape)}, expected [n, dim]`);
  const [rows, c] = shape as [number, number];
  if (cols !== undefined && c !== cols) throw new TraceFormatError(`${name}: has ${c} columns, expected ${cols}`);
  return { rows, cols: c, data };
}

function assembleHead(label: string, q: { rows: number; cols: number; data: Float32Array }, k: { rows: number; cols: number; data: Float32Array }, v: { rows: number; cols: number; data: Float32Array }, limit?: number): HeadStream {
  if (q.cols !== k.cols) throw new TraceFormatError(`${label}: q has ${q.cols} columns and k ${k.cols}, expected equal`);
  if (q.rows !== k.rows || k.rows !== v.rows) {
    throw new TraceFormatError(`${label}: q, k, v have ${q.rows}, ${k.rows}, ${v.rows} rows, expected equal`);
  }
  const n = limit === undefined ? q.rows : Math.min(limit, q.rows);
  if (n < 1) throw new TraceFormatError(`${label}: the trace has no step`);
  return {
    label,
    length: n,
    keyDim: q.cols,
    valueDim: v.cols,
    queries: q.data.subarray(0, n * q.cols),
    keys: k.data.subarray(0, n * k.cols),
    values: v.data.subarray(0, n * v.cols),
  };
}

// `defaultName` is the folder of a folder trace (its manifest is always `manifest.json`, so the
// manifest's name would tell traces apart by nothing) and the file stem of a safetensors trace.
function finish(spec: TraceWorkloadSpec, family: 'npy' | 'safetensors', heads: HeadStream[], tau: number | undefined, source: string, defaultName: string, model?: string): Workload {
  if (heads.length === 0) throw new TraceFormatError(`${source}: no head`);
  const d = heads[0]!.keyDim;
  const s = heads[0]!.valueDim;
  for (const h of heads) {
    if (h.keyDim !== d || h.valueDim !== s) {
      throw new TraceFormatError(`${source}: head ${h.label} has d=${h.keyDim}, s=${h.valueDim}, expected d=${d}, s=${s} as the first head`);
    }
    for (const a of [h.queries, h.keys, h.values]) {
      for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) throw new TraceFormatError(`${source}: head ${h.label} holds a non-finite value at ${i}`);
    }
  }
  const t = spec.tau ?? tau ?? 1 / Math.sqrt(d);
  if (!(Number.isFinite(t) && t > 0)) throw new TraceFormatError(`${source}: tau is ${t}, expected a number > 0`);
  const radius = Math.max(...heads.map(streamRadius));
  return {
    name: spec.name ?? (defaultName.length > 0 ? defaultName : family),
    family,
    description: typeof model === 'string' && model.length > 0 ? `trace of ${model}` : `trace ${source}`,
    heads,
    length: Math.max(...heads.map((h) => h.length)),
    keyDim: d,
    valueDim: s,
    radius,
    tau: t,
    rho: radius * radius * t,
    hard: false,
  };
}

/**
 * Loads a folder trace: `manifest.json` plus one `.npy` per head and tensor (see {@link TraceManifest}).
 *
 * @param spec - Folder (or the manifest file itself; a relative path is resolved against the
 *   current directory), optional step and head limits.
 * @returns The workload, one stream per manifest head, named after the folder unless `spec.name` is given.
 * @throws {@link TraceFormatError} for a missing or malformed manifest or array.
 * @example
 * ```ts
 * import { loadNpyTrace } from '@kv/eval';
 * const w = loadNpyTrace({ family: 'npy', path: './trace', maxHeads: 2 });
 * ```
 */
export function loadNpyTrace(spec: TraceWorkloadSpec): Workload {
  let dir = resolve(spec.path);
  let manifestPath = join(dir, 'manifest.json');
  try {
    if (statSync(dir).isFile()) {
      manifestPath = dir;
      dir = resolve(dir, '..');
    }
  } catch {
    throw new TraceFormatError(`${spec.path}: no such folder`);
  }
  let manifest: TraceManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as TraceManifest;
  } catch (e) {
    throw new TraceFormatError(`${manifestPath}: ${(e as Error).message}`);
  }
  if (manifest?.format !== TRACE_FORMAT || !Array.isArray(manifest.heads)) {
    throw new TraceFormatError(`${manifestPath}: expected {"format": "${TRACE_FORMAT}", "heads": [...]}`);
  }
  const chosen = manifest.heads.slice(0, spec.maxHeads ?? manifest.heads.length);
  const cache = new Map<string, ReturnType<typeof readNpy>>();
  const read = (file: unknown): ReturnType<typeof readNpy> => {
    if (typeof file !== 'string') throw new TraceFormatError(`${manifestPath}: a head names the file ${JSON.stringify(file)}, expected a file name`);
    let m = cache.get(file);
    if (!m) {
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(join(dir, file));
      } catch (e) {
        throw new TraceFormatError(`${file}: ${(e as Error).message}`);
      }
      m = readNpy(bytes, file);
      cache.set(file, m);
    }
    return m;
  };
  const heads = chosen.map((h: unknown, i) => {
    if (typeof h !== 'object' || h === null || Array.isArray(h)) {
      throw new TraceFormatError(`${manifestPath}: heads[${i}] is ${JSON.stringify(h)}, expected {layer, head, q, k, v}`);
    }
    const entry = h as Record<string, unknown>;
    for (const f of ['layer', 'head'] as const) {
      if (!Number.isSafeInteger(entry[f]) || (entry[f] as number) < 0) {
        throw new TraceFormatError(`${manifestPath}: heads[${i}].${f} is ${JSON.stringify(entry[f])}, expected an integer >= 0`);
      }
    }
    const label = `L${entry['layer'] as number}.H${entry['head'] as number}`;
    const [qf, kf, vf] = [entry['q'], entry['k'], entry['v']] as string[];
    const q = read(qf);
    const k = read(kf);
    const v = read(vf);
    return assembleHead(label, matrix(qf!, q.shape, q.data), matrix(kf!, k.shape, k.data), matrix(vf!, v.shape, v.data), spec.n);
  });
  return finish(spec, 'npy', heads, manifest.tau, manifestPath, basename(dir), manifest.model);
}

const TENSOR_NAME = /^layer(\d+)\.head(\d+)\.(q|k|v)$/;

/**
 * Loads a `.safetensors` trace whose tensors are named `layer{L}.head{H}.{q,k,v}` ([n, d], [n, d],
 * [n, s]; any float dtype), with an optional `tau` entry in the metadata. Parsing is `@kv/llm`'s
 * `readSafetensors`.
 *
 * @param spec - File path (a relative path is resolved against the current directory), optional
 *   step and head limits.
 * @returns The workload, one stream per (layer, head), in layer-then-head order, named after the
 *   file without `.safetensors` unless `spec.name` is given.
 * @throws {@link TraceFormatError} for an unreadable file, a missing q/k/v or mismatched shapes.
 * @example
 * ```ts
 * import { loadSafetensorsTrace } from '@kv/eval';
 * const w = loadSafetensorsTrace({ family: 'safetensors', path: './trace.safetensors' });
 * ```
 */
export function loadSafetensorsTrace(spec: TraceWorkloadSpec): Workload {
  let file: ReturnType<typeof readSafetensors>;
  try {
    file = readSafetensors(readFileSync(spec.path));
  } catch (e) {
    throw new TraceFormatError(`${spec.path}: ${(e as Error).message}`);
  }
  const groups = new Map<string, { layer: number; head: number; parts: Partial<Record<'q' | 'k' | 'v', { shape: number[]; data: Float32Array }>> }>();
  for (const [name, t] of file.tensors) {
    const m = TENSOR_NAME.exec(name);
    if (!m) continue;
    const key = `${m[1]}.${m[2]}`;
    const g = groups.get(key) ?? { layer: Number(m[1]), head: Number(m[2]), parts: {} };
    g.parts[m[3] as 'q' | 'k' | 'v'] = t;
    groups.set(key, g);
  }
  const ordered = [...groups.values()].sort((a, b) => a.layer - b.layer || a.head - b.head).slice(0, spec.maxHeads ?? groups.size);
  const heads = ordered.map((g) => {
    const label = `L${g.layer}.H${g.head}`;
    const part = (p: 'q' | 'k' | 'v') => {
      const t = g.parts[p];
      if (!t) throw new TraceFormatError(`${spec.path}: layer${g.layer}.head${g.head}.${p} is missing`);
      return matrix(`layer${g.layer}.head${g.head}.${p}`, t.shape, t.data);
    };
    return assembleHead(label, part('q'), part('k'), part('v'), spec.n);
  });
  const tauText = file.metadata['tau'];
  return finish(spec, 'safetensors', heads, tauText === undefined ? undefined : Number(tauText), spec.path, basename(spec.path).replace(/\.safetensors$/i, ''));
}

/**
 * Writes head streams as a folder trace (`manifest.json` + `.npy` files), the format
 * {@link loadNpyTrace} reads; useful to freeze a synthetic workload or a model run.
 *
 * @param dir - Destination folder (created).
 * @param heads - Streams with their layer and head indices.
 * @param tau - Optional logit scale to record.
 * @param options - `dtype` of the arrays (`f4`, default, or `f2` at half the size) and a `model`
 *   description for the manifest.
 * @returns The manifest written.
 * @throws {@link TraceFormatError} when a stream's arrays do not match its length.
 * @example
 * ```ts
 * import { buildWorkload, writeNpyTrace } from '@kv/eval';
 * const w = buildWorkload({ family: 'gaussian', n: 16, d: 8 }, 0);
 * writeNpyTrace('/tmp/trace', [{ layer: 0, head: 0, stream: w.heads[0]! }], undefined, { dtype: 'f2' });
 * ```
 */
export function writeNpyTrace(
  dir: string,
  heads: readonly { layer: number; head: number; stream: HeadStream }[],
  tau?: number,
  options: { readonly dtype?: 'f4' | 'f2'; readonly model?: string } = {},
): TraceManifest {
  mkdirSync(dir, { recursive: true });
  const dtype = options.dtype ?? 'f4';
  const entries: TraceManifestHead[] = heads.map(({ layer, head, stream }) => {
    const base = `L${layer}.H${head}`;
    writeFileSync(join(dir, `${base}.q.npy`), writeNpy(stream.queries, [stream.length, stream.keyDim], dtype));
    writeFileSync(join(dir, `${base}.k.npy`), writeNpy(stream.keys, [stream.length, stream.keyDim], dtype));
    writeFileSync(join(dir, `${base}.v.npy`), writeNpy(stream.values, [stream.length, stream.valueDim], dtype));
    return { layer, head, q: `${base}.q.npy`, k: `${base}.k.npy`, v: `${base}.v.npy` };
  });
  const manifest: TraceManifest = {
    format: TRACE_FORMAT,
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(tau !== undefined ? { tau } : {}),
    heads: entries,
  };
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/**
 * Writes head streams as one `.safetensors` trace (the format {@link loadSafetensorsTrace} reads),
 * with `@kv/llm`'s `writeSafetensors`.
 *
 * @param file - Destination file.
 * @param heads - Streams with their layer and head indices.
 * @param tau - Optional logit scale stored in the metadata.
 * @throws `ModelFormatError` (from `@kv/llm`) when a stream's arrays do not match its length
 *   (`UnsupportedDtypeError`, which the writer throws for other dtypes, cannot occur: every array is
 *   float32).
 * @example
 * ```ts
 * import { buildWorkload, writeSafetensorsTrace } from '@kv/eval';
 * const w = buildWorkload({ family: 'gaussian', n: 16, d: 8 }, 0);
 * writeSafetensorsTrace('/tmp/trace.safetensors', [{ layer: 0, head: 0, stream: w.heads[0]! }]);
 * ```
 */
export function writeSafetensorsTrace(file: string, heads: readonly { layer: number; head: number; stream: HeadStream }[], tau?: number): void {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const { layer, head, stream } of heads) {
    tensors[`layer${layer}.head${head}.q`] = { shape: [stream.length, stream.keyDim], data: stream.queries };
    tensors[`layer${layer}.head${head}.k`] = { shape: [stream.length, stream.keyDim], data: stream.keys };
    tensors[`layer${layer}.head${head}.v`] = { shape: [stream.length, stream.valueDim], data: stream.values };
  }
  const metadata: Record<string, string> = { format: TRACE_FORMAT };
  if (tau !== undefined) metadata['tau'] = String(tau);
  writeFileSync(file, writeSafetensors(tensors, metadata));
}
