import { dotUnit } from '../kernels/dot.js';
import { type KernelSums, mergeSums } from '../sums.js';
import type { HadamardRotation } from './hadamard.js';
import type { RowPools } from './pools.js';

/**
 * Scratch and the prepared query of one store, for the JavaScript (Float64) attention loops.
 * @internal
 */
export interface JsSumsScratch {
  /** The query as doubles, rotated when the store rotates. */
  readonly q: Float64Array;
  /** Σ of q over each token-wise key group. */
  readonly qsum: Float64Array;
  /** The query folded into a channel-wise group's steps. */
  readonly qs: Float64Array;
  /** One block of logits (at least max(block, G) entries). */
  readonly logits: Float64Array;
  readonly partial: KernelSums;
  readonly block: number;
}

// The three kinds of rows: a float32 record (the residual, or a float32 store), a quantized record
// with token-wise groups, a record of a channel-wise group (its key folded with `bias`).
const F32 = 0;
const TOKEN = 1;
const CHANNEL = 2;

function logitOf(p: RowPools, x: JsSumsScratch, kind: number, addr: number, tau: number, bias: number): number {
  const L = p.layout;
  const m = p.mem;
  let dot: number;
  let lw = 0;
  if (kind === F32) {
    dot = dotUnit(L.d, m.f32, addr >> 2, x.q, 0);
    if (L.weighted) lw = m.f32[(addr >> 2) + L.d + L.s]!;
  } else {
    dot = kind === TOKEN ? L.keys.dot(m, addr + L.kCode, addr + L.kScale, x.q, x.qsum) : L.keys.codeDot(m.u8, addr + L.kCode, x.qs) + bias;
    if (L.weighted) lw = m.f32[(addr + L.lw) >> 2]!;
  }
  return tau * dot + lw;
}

function addValue(p: RowPools, kind: number, addr: number, w: number, acc: Float64Array): void {
  const L = p.layout;
  if (kind === F32) {
    const f32 = p.mem.f32;
    const s = L.s;
    const row = (addr >> 2) + L.d;
    const mm = s - (s % 4);
    let j = 0;
    for (; j < mm; j += 4) {
      acc[j] += w * f32[row + j]!;
      acc[j + 1] += w * f32[row + j + 1]!;
      acc[j + 2] += w * f32[row + j + 2]!;
      acc[j + 3] += w * f32[row + j + 3]!;
    }
    for (; j < s; j++) acc[j] += w * f32[row + j]!;
    return;
  }
  L.values.axpy(p.mem, addr + L.vCode, addr + L.vScale, w, acc);
}

// Sums of `len` rows given by their addresses, merged into `out`.
function blockInto(p: RowPools, x: JsSumsScratch, kind: number, addrs: Int32Array, len: number, tau: number, bias: number, out: KernelSums): void {
  const logits = x.logits;
  let m = -Infinity;
  for (let i = 0; i < len; i++) {
    const l = logitOf(p, x, kind, addrs[i]!, tau, bias);
    logits[i] = l;
    if (l > m) m = l;
  }
  const part = x.partial;
  const acc = part.n;
  acc.fill(0);
  let z = 0;
  for (let i = 0; i < len; i++) {
    const w = Math.exp(logits[i]! - m);
    z += w;
    addValue(p, kind, addrs[i]!, w, acc);
  }
  part.m = m;
  part.z = z;
  mergeSums(out, part);
}

/**
 * Kernel sums over every live row of a store, in Float64 with an online log-sum-exp over blocks,
 * straight from the stored codes (each row's key dot product is taken on its codes and scales;
 * nothing is dequantized into a buffer).
 * @param p - The store's pools.
 * @param x - Prepared query and scratch.
 * @param tau - Logit scale.
 * @param addrs - Scratch for one block of row addresses.
 * @param out - Receives the sums (cleared first).
 * @internal
 */
export function jsSums(p: RowPools, x: JsSumsScratch, tau: number, addrs: Int32Array, out: KernelSums): void {
  out.m = -Infinity;
  out.z = 0;
  out.n.fill(0);
  const L = p.layout;
  const B = x.block;
  const mainKind = L.plain ? F32 : TOKEN;
  if (!p.mapped || !L.channel) {
    const rows = p.mapped ? p.nQ : p.count;
    for (let start = 0; start < rows; start += B) {
      const len = Math.min(B, rows - start);
      for (let i = 0; i < len; i++) addrs[i] = p.qAddr(start + i);
      blockInto(p, x, mainKind, addrs, len, tau, 0, out);
    }
  } else {
    const G = L.group;
    const order = p.groupOrder.data;
    const physQ = p.physQ.data;
    for (let i = 0; i < p.usedGroups; i++) {
      const g = order[i]!;
      const bias = L.keys.foldQuery(p.mem, p.groupScaleAddr(g * G), x.q, x.qs);
      let len = 0;
      for (let r = 0; r < G; r++) if (physQ[g * G + r]! >= 0) addrs[len++] = p.qAddr(g * G + r);
      blockInto(p, x, CHANNEL, addrs, len, tau, bias, out);
    }
  }
  if (p.mapped) {
    for (let start = 0; start < p.nF; start += B) {
      const len = Math.min(B, p.nF - start);
      for (let i = 0; i < len; i++) addrs[i] = p.fAddr((p.fHead + start + i) % p.fCap);
      blockInto(p, x, F32, addrs, len, tau, 0, out);
    }
  }
}

/**
 * Kernel sums and each slot's softmax probability, in Float64 (two passes: logits and their
 * maximum, then weights and values).
 * @param p - The store's pools.
 * @param x - Prepared query and scratch.
 * @param tau - Logit scale.
 * @param out - Receives the sums.
 * @param probs - Receives each live slot's probability.
 * @internal
 */
export function jsSumsWithProbs(p: RowPools, x: JsSumsScratch, tau: number, out: KernelSums, probs: Float64Array): void {
  const L = p.layout;
  const n = p.count;
  const slots = p.slots.data;
  let m = -Infinity;
  let bias = 0;
  let lastGroup = -1;
  // Logits by slot; a channel-wise row's group bias is folded once per group.
  for (let slot = 0; slot < n; slot++) {
    const at = p.mapped ? slots[slot]! : slot;
    let l: number;
    if (at < 0) l = logitOf(p, x, F32, p.fAddr(-1 - at), tau, 0);
    else if (L.channel) {
      const g = (at / L.group) | 0;
      if (g !== lastGroup) {
        bias = L.keys.foldQuery(p.mem, p.groupScaleAddr(at), x.q, x.qs);
        lastGroup = g;
      }
      l = logitOf(p, x, CHANNEL, p.qAddr(at), tau, bias);
    } else l = logitOf(p, x, L.plain ? F32 : TOKEN, p.qAddr(at), tau, 0);
    probs[slot] = l;
    if (l > m) m = l;
  }
  const acc = out.n;
  acc.fill(0);
  let z = 0;
  for (let slot = 0; slot < n; slot++) {
    const at = p.mapped ? slots[slot]! : slot;
    const w = Math.exp(probs[slot]! - m);
    probs[slot] = w;
    z += w;
    if (at < 0) addValue(p, F32, p.fAddr(-1 - at), w, acc);
    else addValue(p, L.plain ? F32 : TOKEN, p.qAddr(at), w, acc);
  }
  const inv = 1 / z;
  for (let i = 0; i < n; i++) probs[i] *= inv;
  out.m = m;
  out.z = z;
}

/**
 * Fills the prepared query of a scratch: `q` as doubles, rotated, and its per-group sums.
 * @param x - The scratch.
 * @param query - The query (length d).
 * @param rotation - The store's key rotation, if any.
 * @param groups - Token-wise key groups.
 * @param G - Group size.
 * @internal
 */
export function prepareQuery(x: JsSumsScratch, query: Float64Array, rotation: HadamardRotation | null, groups: number, G: number): void {
  const q = x.q;
  const d = q.length;
  for (let j = 0; j < d; j++) q[j] = query[j]!;
  rotation?.apply(q);
  for (let g = 0; g < groups; g++) {
    let a = 0;
    for (let j = g * G; j < Math.min(d, g * G + G); j++) a += q[j]!;
    x.qsum[g] = a;
  }
}
