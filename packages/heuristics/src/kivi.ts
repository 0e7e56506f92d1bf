import {
  BaseHeadCache,
  budgetBytes,
  type ByteCost,
  type CacheState,
  dotUnit,
  getKernelBackend,
  integerParam,
  InvalidParamsError,
  type KernelSums,
  type PolicyDefinition,
  type PolicySpec,
  type StateArray,
  type StateReader,
} from '@kv/core';
import { KiviArena } from './kernels/kivi-wasm.js';

/**
 * Bit widths supported by {@link Kivi}.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { type Kivi, type KiviBits, kiviPolicy } from '@kv/heuristics';
 * const bits: KiviBits = 4;
 * const cache = new PolicyRegistry().register(kiviPolicy)
 *   .create({ policy: 'kivi', keyDim: 8, valueDim: 8, params: { bits } }) as Kivi;
 * cache.bits; // 4
 * ```
 */
export type KiviBits = 2 | 4 | 8;

/**
 * A dequantized copy of a {@link Kivi} cache's tokens, oldest first (for tests and inspection).
 *
 * @example
 * ```ts
 * import { Kivi, type KiviSnapshot } from '@kv/heuristics';
 * const cache = new Kivi({ policy: 'kivi', keyDim: 4, valueDim: 4, params: { bits: 2, group: 4, residual: 4 } });
 * for (let t = 0; t < 16; t++) cache.append(new Float32Array([t, 1, 2, 3]), new Float32Array(4).fill(t));
 * const snap: KiviSnapshot = cache.reconstruct();
 * snap.quantized; // the first rows of snap.keys are dequantized codes, the rest exact
 * ```
 */
export interface KiviSnapshot {
  /** Logical positions of the tokens held. */
  readonly positions: Int32Array;
  /** Row-major keys as the cache sees them (dequantized, then the full-precision residual). */
  readonly keys: Float32Array;
  /** Row-major values as the cache sees them. */
  readonly values: Float32Array;
  /** How many of the rows (the first ones) come from quantized storage. */
  readonly quantized: number;
}

/**
 * KIVI-style quantized cache: asymmetric (min/scale) integer quantization at 2, 4 or 8 bits,
 * keys per channel over groups of G tokens, values per token over groups of G channels, and the
 * most recent tokens in full precision.
 *
 * @remarks
 * Layout (all real typed arrays, so `bytes` is the memory held): codes packed `8 / bits` per byte
 * in `Uint8Array`s (token-major rows of ⌈d·bits/8⌉ and ⌈s·bits/8⌉ bytes); key scale and zero
 * point (the minimum) as Float32 per (group, channel); value scale and zero per (token, channel
 * group). Per element x in a group with range [lo, hi], the code is
 * `round((x − lo) / step)` with `step = (hi − lo) / (2^bits − 1)`, so the dequantized
 * `lo + code·step` is within **half a step** of x (plus Float32 rounding of the stored scale, a
 * relative 2⁻²⁴ of the range). A token is quantized when it leaves the full-precision residual:
 * the residual holds between `residual + 1` and `residual + group` tokens once the stream is that
 * long (a group of G leaves at once, since keys are quantized over G tokens), so the last
 * `residual` tokens are always exact.
 *
 * Attention is answered on the codes without dequantizing: the query is folded into each key
 * group's scales (`<q, lo + c·step> = Σ q_j·step_j·c_j + <q, lo>`), values are accumulated as
 * `w·step·c + w·lo`, with an online log-sum-exp, so any logit size is safe.
 *
 * Kernels: where WebAssembly SIMD is available and `@kv/core`'s kernel backend is `'wasm'` (the
 * default, see `setKernelBackend`), the codes and scales live in a WebAssembly memory of the cache
 * and the key logits and value accumulation run in f64x2 lanes (a byte → codes table for 2 and 4
 * bits); otherwise, and after `setKernelBackend('js')`, the JavaScript loops run (on the same
 * arrays). Both compute the same Float64 sums in different orders: they agree to rounding, each
 * logit within γ_{2d+4}·τ·Σ_j |q_j|·(|lo_j| + levels·step_j) of the exact value (γ_k ≈ k·2⁻⁵³), and
 * the value sums within γ_{n+4} of theirs (tested with fast-check). Groups that do not start on a
 * byte boundary (G not a multiple of 8/bits) accumulate values in JavaScript on both paths.
 *
 * Budget: none (every token is kept, memory grows), or any budget (tokens, `{ratio}`,
 * `{bytes}`, `{fraction}`): after every append the cache fits its bytes by dropping the oldest
 * quantized group (a window over quantized groups behind the float32 residual); when no group is
 * left and the budget holds fewer float32 rows than the residual plus one group, the oldest
 * float32 rows go (a sliding window, until the budget grows enough to quantize). So any budget
 * works; `describe()` counts the groups and rows dropped. `bytes` counts the live codes, scales,
 * zero points and residual rows (`state()` copies the groups when they wrap around the ring).
 * 2-bit and 4-bit caches are never exact; 8-bit
 * is close (see the package README for the measured error).
 *
 * @example
 * ```ts
 * import { PolicyRegistry, compressionRatio } from '@kv/core';
 * import { kiviPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(kiviPolicy)
 *   .create({ policy: 'kivi', keyDim: 128, valueDim: 128, params: { bits: 2 } });
 * // after many appends, compressionRatio(cache) ≈ 8 (vs fp32)
 * ```
 * @see Liu et al., KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV Cache (arXiv 2402.02750).
 */
export class Kivi extends BaseHeadCache {
  /** Bits per code. */
  readonly bits: KiviBits;
  /** Group size G: tokens per key group, channels per value group. */
  readonly group: number;
  /** Tokens always kept in full precision. */
  readonly residual: number;
  private readonly rowBytes: number;
  private readonly residualBytes: number;
  private readonly bytesPerGroup: number;
  private readonly levels: number;
  private readonly keyRowBytes: number;
  private readonly valueRowBytes: number;
  private readonly valueGroups: number;
  private readonly residualRows: number;
  private readonly aligned: boolean;
  private keyCodes = new Uint8Array(0);
  private valueCodes = new Uint8Array(0);
  private keyScale = new Float32Array(0);
  private keyZero = new Float32Array(0);
  private valueScale = new Float32Array(0);
  private valueZero = new Float32Array(0);
  private allocGroups = 0;
  private head = 0;
  private groups = 0;
  private resKeys = new Float32Array(0);
  private resValues = new Float32Array(0);
  private resCount = 0;
  private readonly groupCap: number;
  private droppedGroups = 0;
  private droppedRows = 0;
  // Where the codes, scales and scratch live when the WebAssembly kernels run (null: plain arrays).
  private arena: KiviArena | null = null;
  // Fixed-size scratch (not state, not counted in bytes, like SlotStore's block scratch); views of
  // the arena once there is one.
  private qs: Float64Array;
  private acc: Float64Array;
  private zacc: Float64Array;
  private logits: Float64Array;

  /**
   * @param spec - A validated spec; params `bits` (2, 4 or 8; default 2), `group` (default 32),
   *   `residual` (default 32); optional budget of any form.
   * @throws An {@link InvalidParamsError} on a bad parameter.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const bits = integerParam(spec.params, 'bits', { default: 2 });
    if (bits !== 2 && bits !== 4 && bits !== 8) {
      throw new InvalidParamsError(`parameter "bits" is ${bits}, expected 2, 4 or 8`);
    }
    this.bits = bits;
    this.group = integerParam(spec.params, 'group', { default: 32, min: 1 });
    this.residual = integerParam(spec.params, 'residual', { default: 32, min: 0 });
    const d = this.keyDim;
    const s = this.valueDim;
    const perByte = 8 / bits;
    this.levels = (1 << bits) - 1;
    this.keyRowBytes = Math.ceil(d / perByte);
    this.valueRowBytes = Math.ceil(s / perByte);
    this.valueGroups = Math.ceil(s / this.group);
    this.residualRows = this.residual + this.group;
    this.aligned = this.group % perByte === 0;
    this.qs = new Float64Array(this.keyRowBytes * perByte);
    this.acc = new Float64Array(this.valueRowBytes * perByte);
    this.zacc = new Float64Array(this.valueGroups);
    this.logits = new Float64Array(this.residualRows);
    this.rowBytes = 4 * (d + s);
    this.residualBytes = this.residualRows * this.rowBytes;
    this.bytesPerGroup = this.groupBytes();
    const b = spec.budget;
    // A fixed budget bounds the groups ever held, so the arrays are never sized past it.
    this.groupCap = b === undefined || (typeof b === 'object' && ('ratio' in b || 'fraction' in b))
      ? Infinity
      : Math.max(0, Math.floor(budgetBytes(b, 0, d, s) / this.bytesPerGroup));
  }

  /** Token-equivalents held: ⌈bytes / (4·(d + s))⌉. */
  get stored(): number {
    return Math.ceil(this.bytes / this.rowBytes);
  }

  /** Token-equivalents the budget allows now: ⌈budget bytes / (4·(d + s))⌉ (Infinity without one). */
  override get capacity(): number {
    return Math.ceil(this.budgetBytesAt(this.seen) / this.rowBytes);
  }

  /** Codes, scales and zero points of the quantized groups, and the full-precision residual. */
  override get bytes(): number {
    return this.groups * this.bytesPerGroup + this.resCount * this.rowBytes;
  }

  protected override byteCost(): ByteCost {
    // Rows are quantized a group at a time: the cost of a row is its share of a group.
    return { fixed: this.residualBytes, perRow: this.bytesPerGroup / this.group };
  }

  /** Tokens held in quantized form. */
  get quantizedTokens(): number {
    return this.groups * this.group;
  }

  /** Tokens held in full precision. */
  get residualTokens(): number {
    return this.resCount;
  }

  protected saveState(): CacheState {
    const G = this.group;
    const d = this.keyDim;
    const vg = this.valueGroups;
    const g = this.groups;
    // The live groups in age order: views when they do not wrap around the ring, copies otherwise.
    const live = <T extends StateArray>(a: T, per: number): T => {
      if (this.head + g <= this.allocGroups) return a.subarray(this.head * per, (this.head + g) * per) as T;
      const out = new (a.constructor as new (n: number) => T)(g * per);
      for (let i = 0; i < g; i++) {
        const from = (this.head + i) % this.allocGroups;
        out.set(a.subarray(from * per, (from + 1) * per), i * per);
      }
      return out;
    };
    return {
      scalars: { groups: g, residualRows: this.resCount },
      arrays: {
        keyCodes: live(this.keyCodes, G * this.keyRowBytes),
        valueCodes: live(this.valueCodes, G * this.valueRowBytes),
        keyScale: live(this.keyScale, d),
        keyZero: live(this.keyZero, d),
        valueScale: live(this.valueScale, G * vg),
        valueZero: live(this.valueZero, G * vg),
        residualKeys: this.resKeys.subarray(0, this.resCount * d),
        residualValues: this.resValues.subarray(0, this.resCount * this.valueDim),
      },
    };
  }

  protected restoreState(r: StateReader): void {
    const G = this.group;
    const d = this.keyDim;
    const vg = this.valueGroups;
    const g = r.integer('groups', 0, Math.min(this.groupCap, 2 ** 31 - 1));
    const rc = r.integer('residualRows', 0, this.residualRows);
    const arrays = {
      keyCodes: r.array('keyCodes', Uint8Array, g * G * this.keyRowBytes),
      valueCodes: r.array('valueCodes', Uint8Array, g * G * this.valueRowBytes),
      keyScale: r.array('keyScale', Float32Array, g * d),
      keyZero: r.array('keyZero', Float32Array, g * d),
      valueScale: r.array('valueScale', Float32Array, g * G * vg),
      valueZero: r.array('valueZero', Float32Array, g * G * vg),
      residualKeys: r.array('residualKeys', Float32Array, rc * d),
      residualValues: r.array('residualValues', Float32Array, rc * this.valueDim),
    };
    if (g > 0) this.reserveGroups(g);
    this.keyCodes.set(arrays.keyCodes);
    this.valueCodes.set(arrays.valueCodes);
    this.keyScale.set(arrays.keyScale);
    this.keyZero.set(arrays.keyZero);
    this.valueScale.set(arrays.valueScale);
    this.valueZero.set(arrays.valueZero);
    this.groups = g;
    this.reserveResidual(rc);
    this.resKeys.set(arrays.residualKeys);
    this.resValues.set(arrays.residualValues);
    this.resCount = rc;
  }

  protected override describeSummary(): string {
    return `kivi: ${this.quantizedTokens} tokens at ${this.bits} bits (groups of ${this.group}) + ${this.resCount} in float32`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { kernel: this.arena !== null ? 'wasm' : 'js', bits: this.bits, group: this.group, residual: this.residual, quantizedTokens: this.quantizedTokens, residualTokens: this.resCount, droppedGroups: this.droppedGroups, droppedRows: this.droppedRows };
  }

  /**
   * Positions of the tokens held: a contiguous range ending at `seen − 1`.
   * @returns A fresh array, oldest first.
   */
  positions(): Int32Array {
    const n = this.quantizedTokens + this.resCount;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.seen - n + i;
    return out;
  }

  /**
   * Dequantizes everything held (allocates; for tests and inspection, not for hot paths).
   * @returns The positions, keys and values as the cache sees them.
   */
  reconstruct(): KiviSnapshot {
    const d = this.keyDim;
    const s = this.valueDim;
    const G = this.group;
    const q = this.quantizedTokens;
    const n = q + this.resCount;
    const keys = new Float32Array(n * d);
    const values = new Float32Array(n * s);
    for (let i = 0; i < this.groups; i++) {
      const gs = (this.head + i) % this.allocGroups;
      for (let t = 0; t < G; t++) {
        const row = gs * G + t;
        const outRow = i * G + t;
        for (let j = 0; j < d; j++) {
          keys[outRow * d + j] = this.code(this.keyCodes, row * this.keyRowBytes, j) * this.keyScale[gs * d + j]! + this.keyZero[gs * d + j]!;
        }
        for (let j = 0; j < s; j++) {
          const c = row * this.valueGroups + Math.floor(j / G);
          values[outRow * s + j] = this.code(this.valueCodes, row * this.valueRowBytes, j) * this.valueScale[c]! + this.valueZero[c]!;
        }
      }
    }
    keys.set(this.resKeys.subarray(0, this.resCount * d), q * d);
    values.set(this.resValues.subarray(0, this.resCount * s), q * s);
    return { positions: this.positions(), keys, values, quantized: q };
  }

  /**
   * Stores a token in the residual, first quantizing the oldest G residual tokens when it is full.
   * @param key - Validated key.
   * @param value - Validated value.
   */
  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    if (this.resCount === this.residualRows) this.flush();
    this.reserveResidual(this.resCount + 1);
    this.resKeys.set(key, this.resCount * this.keyDim);
    this.resValues.set(value, this.resCount * this.valueDim);
    this.resCount++;
    // Fit the budget: the oldest quantized groups go first, then (when no group is left, so the
    // budget holds fewer float32 rows than a group needs) the oldest float32 rows.
    const limit = this.budgetBytesAt(position + 1);
    while (this.bytes > limit) {
      if (this.groups > 0) {
        this.head = (this.head + 1) % this.allocGroups;
        this.groups--;
        this.droppedGroups++;
      } else {
        this.resKeys.copyWithin(0, this.keyDim, this.resCount * this.keyDim);
        this.resValues.copyWithin(0, this.valueDim, this.resCount * this.valueDim);
        this.resCount--;
        this.droppedRows++;
      }
    }
  }

  /**
   * Attention over the codes and the residual with an online log-sum-exp.
   * @param query - Validated query.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const d = this.keyDim;
    const s = this.valueDim;
    const G = this.group;
    const tau = this.tau;
    const bits = this.bits;
    const qs = this.qs;
    const acc = this.acc;
    const zacc = this.zacc;
    const logits = this.logits;
    const kcodes = this.keyCodes;
    const vcodes = this.valueCodes;
    const kscale = this.keyScale;
    const kzero = this.keyZero;
    const vscale = this.valueScale;
    const vzero = this.valueZero;
    const krb = this.keyRowBytes;
    const vrb = this.valueRowBytes;
    const vg = this.valueGroups;
    const perByte = 8 / bits;
    // Bytes of one value group's codes (a group starts on a byte boundary when aligned).
    const gb = G / perByte;
    const aligned = this.aligned;
    // Tokens are taken four at a time: each code byte and query weight is loaded once for four
    // rows, and each accumulator is read and written once per four tokens.
    const G4 = G - (G & 3);
    // The arena's views serve both paths; its kernels run only while core's backend is wasm.
    const wasm = this.arena !== null && getKernelBackend() === 'wasm' ? this.arena : null;
    acc.fill(0);
    zacc.fill(0);
    let M = -Infinity;
    let Z = 0;
    for (let i = 0; i < this.groups; i++) {
      const gs = (this.head + i) % this.allocGroups;
      const po = gs * d;
      let bias = 0;
      for (let j = 0; j < d; j++) {
        qs[j] = query[j]! * kscale[po + j]!;
        bias += query[j]! * kzero[po + j]!;
      }
      const base = gs * G;
      let t = 0;
      if (wasm !== null) {
        wasm.keyDots(base, G);
        t = G;
      }
      for (; t < G4; t += 4) {
        const o = (base + t) * krb;
        if (bits === 2) dots2(kcodes, o, krb, qs, logits, t);
        else if (bits === 4) dots4(kcodes, o, krb, qs, logits, t);
        else dots8(kcodes, o, krb, qs, logits, t);
      }
      for (; t < G; t++) {
        const o = (base + t) * krb;
        logits[t] = bits === 2 ? dot2(kcodes, o, qs, krb) : bits === 4 ? dot4(kcodes, o, qs, krb) : dot8(kcodes, o, qs, krb);
      }
      let m = -Infinity;
      for (t = 0; t < G; t++) {
        const l = tau * (logits[t]! + bias);
        logits[t] = l;
        if (l > m) m = l;
      }
      if (m > M) {
        const f = Math.exp(M - m);
        Z *= f;
        for (let j = 0; j < acc.length; j++) acc[j] *= f;
        for (let c = 0; c < vg; c++) zacc[c] *= f;
        M = m;
      }
      for (t = 0; t < G; t++) {
        const w = Math.exp(logits[t]! - M);
        logits[t] = w;
        Z += w;
      }
      t = 0;
      if (wasm !== null && aligned) {
        wasm.valueAccum(base, G);
        t = G;
      }
      if (aligned) {
        for (; t < G4; t += 4) {
          const row = base + t;
          if (bits === 2) values2(acc, zacc, vcodes, row * vrb, vrb, vscale, vzero, row * vg, vg, gb, logits, t);
          else if (bits === 4) values4(acc, zacc, vcodes, row * vrb, vrb, vscale, vzero, row * vg, vg, gb, logits, t);
          else values8(acc, zacc, vcodes, row * vrb, vrb, vscale, vzero, row * vg, vg, gb, logits, t);
        }
      }
      for (; t < G; t++) {
        const w = logits[t]!;
        const row = base + t;
        const o = row * vrb;
        for (let c = 0; c < vg; c++) {
          const a = w * vscale[row * vg + c]!;
          zacc[c] += w * vzero[row * vg + c]!;
          const j0 = c * G;
          const j1 = Math.min(s, j0 + G);
          if (!aligned) {
            for (let j = j0; j < j1; j++) acc[j] += a * this.code(vcodes, o, j);
          } else if (bits === 2) {
            axpy2(acc, vcodes, o, a, j0 / perByte, Math.ceil(j1 / perByte));
          } else if (bits === 4) {
            axpy4(acc, vcodes, o, a, j0 / perByte, Math.ceil(j1 / perByte));
          } else {
            axpy8(acc, vcodes, o, a, j0, j1);
          }
        }
      }
    }
    // The zero points add w·lo to every channel of a value group: spread once, not per element.
    for (let c = 0; c < vg; c++) {
      const z = zacc[c]!;
      for (let j = c * G, j1 = Math.min(s, j + G); j < j1; j++) acc[j] += z;
    }
    const rc = this.resCount;
    if (rc > 0) {
      let m = -Infinity;
      for (let t = 0; t < rc; t++) {
        const l = tau * dotUnit(d, this.resKeys, t * d, query, 0);
        logits[t] = l;
        if (l > m) m = l;
      }
      if (m > M) {
        const f = Math.exp(M - m);
        Z *= f;
        for (let j = 0; j < acc.length; j++) acc[j] *= f;
        M = m;
      }
      const vals = this.resValues;
      for (let t = 0; t < rc; t++) {
        const w = Math.exp(logits[t]! - M);
        Z += w;
        const row = t * s;
        for (let j = 0; j < s; j++) acc[j] += w * vals[row + j]!;
      }
    }
    out.m = M;
    out.z = Z;
    const n = out.n;
    for (let j = 0; j < s; j++) n[j] = acc[j]!;
    return out;
  }

  /** Releases every array: the cache is as if newly created (0 bytes). */
  protected onReset(): void {
    this.keyCodes = new Uint8Array(0);
    this.valueCodes = new Uint8Array(0);
    this.keyScale = new Float32Array(0);
    this.keyZero = new Float32Array(0);
    this.valueScale = new Float32Array(0);
    this.valueZero = new Float32Array(0);
    this.allocGroups = 0;
    this.head = 0;
    this.groups = 0;
    this.resKeys = new Float32Array(0);
    this.resValues = new Float32Array(0);
    this.resCount = 0;
    this.droppedGroups = 0;
    this.droppedRows = 0;
    if (this.arena !== null) this.dropArena();
  }

  // Back to plain arrays (the scratch is the arena's until then).
  private dropArena(): void {
    this.arena = null;
    this.qs = new Float64Array(this.qs.length);
    this.acc = new Float64Array(this.acc.length);
    this.zacc = new Float64Array(this.zacc.length);
    this.logits = new Float64Array(this.logits.length);
  }

  private groupBytes(): number {
    const G = this.group;
    return G * this.keyRowBytes + G * this.valueRowBytes + 8 * this.keyDim + 8 * G * this.valueGroups;
  }

  private code(codes: Uint8Array, rowOffset: number, j: number): number {
    const bit = j * this.bits;
    return (codes[rowOffset + (bit >> 3)]! >> (bit & 7)) & this.levels;
  }

  private reserveResidual(rows: number): void {
    const have = this.resKeys.length / this.keyDim;
    if (rows <= have) return;
    const next = Math.min(this.residualRows, Math.max(rows, 2 * have, 16));
    const k = new Float32Array(next * this.keyDim);
    k.set(this.resKeys);
    const v = new Float32Array(next * this.valueDim);
    v.set(this.resValues);
    this.resKeys = k;
    this.resValues = v;
  }

  private reserveGroups(next: number): void {
    const G = this.group;
    const d = this.keyDim;
    const vg = this.valueGroups;
    const kc = new Uint8Array(next * G * this.keyRowBytes);
    const vc = new Uint8Array(next * G * this.valueRowBytes);
    const ks = new Float32Array(next * d);
    const kz = new Float32Array(next * d);
    const vs = new Float32Array(next * G * vg);
    const vz = new Float32Array(next * G * vg);
    // Copy in ring order so the oldest group lands in slot 0.
    for (let i = 0; i < this.groups; i++) {
      const from = (this.head + i) % this.allocGroups;
      kc.set(this.keyCodes.subarray(from * G * this.keyRowBytes, (from + 1) * G * this.keyRowBytes), i * G * this.keyRowBytes);
      vc.set(this.valueCodes.subarray(from * G * this.valueRowBytes, (from + 1) * G * this.valueRowBytes), i * G * this.valueRowBytes);
      ks.set(this.keyScale.subarray(from * d, (from + 1) * d), i * d);
      kz.set(this.keyZero.subarray(from * d, (from + 1) * d), i * d);
      vs.set(this.valueScale.subarray(from * G * vg, (from + 1) * G * vg), i * G * vg);
      vz.set(this.valueZero.subarray(from * G * vg, (from + 1) * G * vg), i * G * vg);
    }
    this.allocGroups = next;
    this.head = 0;
    // Codes move into a WebAssembly memory when the first groups are allocated under the wasm
    // backend; they stay there (the views work with both paths).
    if (this.arena === null && getKernelBackend() === 'wasm') {
      this.arena = KiviArena.create({
        bits: this.bits,
        keyDim: d,
        group: G,
        keyRowBytes: this.keyRowBytes,
        valueRowBytes: this.valueRowBytes,
        valueGroups: vg,
        logitRows: this.residualRows,
      });
    }
    const arena = this.arena;
    if (arena !== null && arena.resize(next)) {
      arena.keyCodes.set(kc);
      arena.valueCodes.set(vc);
      arena.keyScale.set(ks);
      arena.keyZero.set(kz);
      arena.valueScale.set(vs);
      arena.valueZero.set(vz);
      this.keyCodes = arena.keyCodes;
      this.valueCodes = arena.valueCodes;
      this.keyScale = arena.keyScale;
      this.keyZero = arena.keyZero;
      this.valueScale = arena.valueScale;
      this.valueZero = arena.valueZero;
      this.qs = arena.qs;
      this.acc = arena.acc;
      this.zacc = arena.zacc;
      this.logits = arena.logits;
      return;
    }
    // The memory cannot grow: plain arrays and the JS path from now on.
    if (arena !== null) this.dropArena();
    this.keyCodes = kc;
    this.valueCodes = vc;
    this.keyScale = ks;
    this.keyZero = kz;
    this.valueScale = vs;
    this.valueZero = vz;
  }

  /**
   * Quantizes the oldest G residual tokens into a new group; the arrays grow by doubling up to
   * what a fixed budget can ever hold, and past that the oldest group is overwritten.
   */
  private flush(): void {
    const G = this.group;
    const d = this.keyDim;
    const s = this.valueDim;
    if (this.groups === this.allocGroups) {
      const next = Math.min(this.groupCap, Math.max(1, 2 * this.allocGroups));
      if (next > this.allocGroups) this.reserveGroups(next);
    }
    if (this.allocGroups === 0) {
      // Not even one group fits the budget: the oldest G rows leave unquantized.
      this.dropResidual(G);
      this.droppedRows += G;
      return;
    }
    if (this.groups === this.allocGroups) {
      this.head = (this.head + 1) % this.allocGroups;
      this.groups--;
      this.droppedGroups++;
    }
    const gs = (this.head + this.groups) % this.allocGroups;
    this.groups++;
    const keys = this.resKeys;
    const values = this.resValues;
    const levels = this.levels;
    const kc = this.keyCodes;
    kc.fill(0, gs * G * this.keyRowBytes, (gs + 1) * G * this.keyRowBytes);
    for (let j = 0; j < d; j++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let t = 0; t < G; t++) {
        const x = keys[t * d + j]!;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      const zero = Math.fround(lo);
      const step = Math.fround((hi - lo) / levels);
      this.keyZero[gs * d + j] = zero;
      this.keyScale[gs * d + j] = step;
      const bit = j * this.bits;
      for (let t = 0; t < G; t++) {
        const c = quantize(keys[t * d + j]!, zero, step, levels);
        kc[(gs * G + t) * this.keyRowBytes + (bit >> 3)] |= c << (bit & 7);
      }
    }
    const vc = this.valueCodes;
    vc.fill(0, gs * G * this.valueRowBytes, (gs + 1) * G * this.valueRowBytes);
    for (let t = 0; t < G; t++) {
      const row = gs * G + t;
      for (let c = 0; c < this.valueGroups; c++) {
        const j0 = c * G;
        const j1 = Math.min(s, j0 + G);
        let lo = Infinity;
        let hi = -Infinity;
        for (let j = j0; j < j1; j++) {
          const x = values[t * s + j]!;
          if (x < lo) lo = x;
          if (x > hi) hi = x;
        }
        const zero = Math.fround(lo);
        const step = Math.fround((hi - lo) / levels);
        this.valueZero[row * this.valueGroups + c] = zero;
        this.valueScale[row * this.valueGroups + c] = step;
        for (let j = j0; j < j1; j++) {
          const code = quantize(values[t * s + j]!, zero, step, levels);
          const bit = j * this.bits;
          vc[row * this.valueRowBytes + (bit >> 3)] |= code << (bit & 7);
        }
      }
    }
    this.dropResidual(G);
  }

  private dropResidual(rows: number): void {
    this.resKeys.copyWithin(0, rows * this.keyDim, this.resCount * this.keyDim);
    this.resValues.copyWithin(0, rows * this.valueDim, this.resCount * this.valueDim);
    this.resCount -= rows;
  }
}

// Four consecutive rows at once (row stride rb): out[t..t+3] = Σ_j qs_j·code_j of each row, so
// every query weight is loaded once per four rows.
function dots2(codes: Uint8Array, o: number, rb: number, qs: Float64Array, out: Float64Array, t: number): void {
  const o1 = o + rb;
  const o2 = o1 + rb;
  const o3 = o2 + rb;
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  for (let p = 0, j = 0; p < rb; p++, j += 4) {
    const q0 = qs[j]!;
    const q1 = qs[j + 1]!;
    const q2 = qs[j + 2]!;
    const q3 = qs[j + 3]!;
    const x0 = codes[o + p]!;
    const x1 = codes[o1 + p]!;
    const x2 = codes[o2 + p]!;
    const x3 = codes[o3 + p]!;
    a0 += q0 * (x0 & 3) + q1 * ((x0 >> 2) & 3) + q2 * ((x0 >> 4) & 3) + q3 * (x0 >> 6);
    a1 += q0 * (x1 & 3) + q1 * ((x1 >> 2) & 3) + q2 * ((x1 >> 4) & 3) + q3 * (x1 >> 6);
    a2 += q0 * (x2 & 3) + q1 * ((x2 >> 2) & 3) + q2 * ((x2 >> 4) & 3) + q3 * (x2 >> 6);
    a3 += q0 * (x3 & 3) + q1 * ((x3 >> 2) & 3) + q2 * ((x3 >> 4) & 3) + q3 * (x3 >> 6);
  }
  out[t] = a0;
  out[t + 1] = a1;
  out[t + 2] = a2;
  out[t + 3] = a3;
}

function dots4(codes: Uint8Array, o: number, rb: number, qs: Float64Array, out: Float64Array, t: number): void {
  const o1 = o + rb;
  const o2 = o1 + rb;
  const o3 = o2 + rb;
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  for (let p = 0, j = 0; p < rb; p++, j += 2) {
    const q0 = qs[j]!;
    const q1 = qs[j + 1]!;
    const x0 = codes[o + p]!;
    const x1 = codes[o1 + p]!;
    const x2 = codes[o2 + p]!;
    const x3 = codes[o3 + p]!;
    a0 += q0 * (x0 & 15) + q1 * (x0 >> 4);
    a1 += q0 * (x1 & 15) + q1 * (x1 >> 4);
    a2 += q0 * (x2 & 15) + q1 * (x2 >> 4);
    a3 += q0 * (x3 & 15) + q1 * (x3 >> 4);
  }
  out[t] = a0;
  out[t + 1] = a1;
  out[t + 2] = a2;
  out[t + 3] = a3;
}

function dots8(codes: Uint8Array, o: number, rb: number, qs: Float64Array, out: Float64Array, t: number): void {
  const o1 = o + rb;
  const o2 = o1 + rb;
  const o3 = o2 + rb;
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  for (let p = 0; p < rb; p++) {
    const q = qs[p]!;
    a0 += q * codes[o + p]!;
    a1 += q * codes[o1 + p]!;
    a2 += q * codes[o2 + p]!;
    a3 += q * codes[o3 + p]!;
  }
  out[t] = a0;
  out[t + 1] = a1;
  out[t + 2] = a2;
  out[t + 3] = a3;
}

// Four consecutive value rows at once (row stride rb, scale/zero stride vg), with weights
// w[t..t+3]: acc[j] += Σ_r w_r·step_rc·code_rj and zacc[c] += Σ_r w_r·lo_rc, so every accumulator
// is read and written once per four tokens. Value group c covers bytes [c·gb, (c+1)·gb) of a row
// (aligned groups); the last group may be shorter.
function values2(
  acc: Float64Array,
  zacc: Float64Array,
  codes: Uint8Array,
  o: number,
  rb: number,
  scale: Float32Array,
  zero: Float32Array,
  so: number,
  vg: number,
  gb: number,
  w: Float64Array,
  t: number,
): void {
  const w0 = w[t]!;
  const w1 = w[t + 1]!;
  const w2 = w[t + 2]!;
  const w3 = w[t + 3]!;
  const o1 = o + rb;
  const o2 = o1 + rb;
  const o3 = o2 + rb;
  for (let c = 0, p = 0; c < vg; c++) {
    const s0 = so + c;
    const a0 = w0 * scale[s0]!;
    const a1 = w1 * scale[s0 + vg]!;
    const a2 = w2 * scale[s0 + 2 * vg]!;
    const a3 = w3 * scale[s0 + 3 * vg]!;
    zacc[c] += w0 * zero[s0]! + w1 * zero[s0 + vg]! + w2 * zero[s0 + 2 * vg]! + w3 * zero[s0 + 3 * vg]!;
    const pe = Math.min(p + gb, rb);
    for (let j = p * 4; p < pe; p++, j += 4) {
      const x0 = codes[o + p]!;
      const x1 = codes[o1 + p]!;
      const x2 = codes[o2 + p]!;
      const x3 = codes[o3 + p]!;
      acc[j] += a0 * (x0 & 3) + a1 * (x1 & 3) + a2 * (x2 & 3) + a3 * (x3 & 3);
      acc[j + 1] += a0 * ((x0 >> 2) & 3) + a1 * ((x1 >> 2) & 3) + a2 * ((x2 >> 2) & 3) + a3 * ((x3 >> 2) & 3);
      acc[j + 2] += a0 * ((x0 >> 4) & 3) + a1 * ((x1 >> 4) & 3) + a2 * ((x2 >> 4) & 3) + a3 * ((x3 >> 4) & 3);
      acc[j + 3] += a0 * (x0 >> 6) + a1 * (x1 >> 6) + a2 * (x2 >> 6) + a3 * (x3 >> 6);
    }
  }
}

function values4(
  acc: Float64Array,
  zacc: Float64Array,
  codes: Uint8Array,
  o: number,
  rb: number,
  scale: Float32Array,
  zero: Float32Array,
  so: number,
  vg: number,
  gb: number,
  w: Float64Array,
  t: number,
): void {
  const w0 = w[t]!;
  const w1 = w[t + 1]!;
  const w2 = w[t + 2]!;
  const w3 = w[t + 3]!;
  const o1 = o + rb;
  const o2 = o1 + rb;
  const o3 = o2 + rb;
  for (let c = 0, p = 0; c < vg; c++) {
    const s0 = so + c;
    const a0 = w0 * scale[s0]!;
    const a1 = w1 * scale[s0 + vg]!;
    const a2 = w2 * scale[s0 + 2 * vg]!;
    const a3 = w3 * scale[s0 + 3 * vg]!;
    zacc[c] += w0 * zero[s0]! + w1 * zero[s0 + vg]! + w2 * zero[s0 + 2 * vg]! + w3 * zero[s0 + 3 * vg]!;
    const pe = Math.min(p + gb, rb);
    for (let j = p * 2; p < pe; p++, j += 2) {
      const x0 = codes[o + p]!;
      const x1 = codes[o1 + p]!;
      const x2 = codes[o2 + p]!;
      const x3 = codes[o3 + p]!;
      acc[j] += a0 * (x0 & 15) + a1 * (x1 & 15) + a2 * (x2 & 15) + a3 * (x3 & 15);
      acc[j + 1] += a0 * (x0 >> 4) + a1 * (x1 >> 4) + a2 * (x2 >> 4) + a3 * (x3 >> 4);
    }
  }
}

function values8(
  acc: Float64Array,
  zacc: Float64Array,
  codes: Uint8Array,
  o: number,
  rb: number,
  scale: Float32Array,
  zero: Float32Array,
  so: number,
  vg: number,
  gb: number,
  w: Float64Array,
  t: number,
): void {
  const w0 = w[t]!;
  const w1 = w[t + 1]!;
  const w2 = w[t + 2]!;
  const w3 = w[t + 3]!;
  const o1 = o + rb;
  const o2 = o1 + rb;
  const o3 = o2 + rb;
  for (let c = 0, p = 0; c < vg; c++) {
    const s0 = so + c;
    const a0 = w0 * scale[s0]!;
    const a1 = w1 * scale[s0 + vg]!;
    const a2 = w2 * scale[s0 + 2 * vg]!;
    const a3 = w3 * scale[s0 + 3 * vg]!;
    zacc[c] += w0 * zero[s0]! + w1 * zero[s0 + vg]! + w2 * zero[s0 + 2 * vg]! + w3 * zero[s0 + 3 * vg]!;
    const pe = Math.min(p + gb, rb);
    for (; p < pe; p++) {
      acc[p] += a0 * codes[o + p]! + a1 * codes[o1 + p]! + a2 * codes[o2 + p]! + a3 * codes[o3 + p]!;
    }
  }
}

// Σ_j qs_j·code_j over one packed row; two accumulators break the add chain. qs is zero past d,
// so the padding codes of the last byte contribute nothing.
function dot2(codes: Uint8Array, o: number, qs: Float64Array, bytes: number): number {
  let a = 0;
  let b = 0;
  for (let p = 0, j = 0; p < bytes; p++, j += 4) {
    const x = codes[o + p]!;
    a += qs[j]! * (x & 3) + qs[j + 1]! * ((x >> 2) & 3);
    b += qs[j + 2]! * ((x >> 4) & 3) + qs[j + 3]! * (x >> 6);
  }
  return a + b;
}

function dot4(codes: Uint8Array, o: number, qs: Float64Array, bytes: number): number {
  let a = 0;
  let b = 0;
  for (let p = 0, j = 0; p < bytes; p++, j += 2) {
    const x = codes[o + p]!;
    a += qs[j]! * (x & 15);
    b += qs[j + 1]! * (x >> 4);
  }
  return a + b;
}

function dot8(codes: Uint8Array, o: number, qs: Float64Array, bytes: number): number {
  let a = 0;
  let b = 0;
  const even = bytes - (bytes & 1);
  for (let p = 0; p < even; p += 2) {
    a += qs[p]! * codes[o + p]!;
    b += qs[p + 1]! * codes[o + p + 1]!;
  }
  if (even < bytes) a += qs[even]! * codes[o + even]!;
  return a + b;
}

// acc[j] += a·code_j for the codes in bytes [p0, p1) of a row (channel j = 4p + k). Writes past
// the value dimension land in the padded tail of acc and are never read.
function axpy2(acc: Float64Array, codes: Uint8Array, o: number, a: number, p0: number, p1: number): void {
  for (let p = p0, j = p0 * 4; p < p1; p++, j += 4) {
    const x = codes[o + p]!;
    acc[j] += a * (x & 3);
    acc[j + 1] += a * ((x >> 2) & 3);
    acc[j + 2] += a * ((x >> 4) & 3);
    acc[j + 3] += a * (x >> 6);
  }
}

function axpy4(acc: Float64Array, codes: Uint8Array, o: number, a: number, p0: number, p1: number): void {
  for (let p = p0, j = p0 * 2; p < p1; p++, j += 2) {
    const x = codes[o + p]!;
    acc[j] += a * (x & 15);
    acc[j + 1] += a * (x >> 4);
  }
}

function axpy8(acc: Float64Array, codes: Uint8Array, o: number, a: number, j0: number, j1: number): void {
  for (let j = j0; j < j1; j++) acc[j] += a * codes[o + j]!;
}

function quantize(x: number, zero: number, step: number, levels: number): number {
  if (!(step > 0)) return 0;
  const c = Math.round((x - zero) / step);
  return c < 0 ? 0 : c > levels ? levels : c;
}

/**
 * Registry entry of {@link Kivi} (`"kivi"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { kiviPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(kiviPolicy);
 * ```
 */
export const kiviPolicy: PolicyDefinition = {
  name: 'kivi',
  summary: 'KIVI quantization (2/4/8-bit; keys per channel, values per token, groups of 32, recent 32 in fp32).',
  params: [
    { name: 'bits', type: 'integer', default: 2, description: 'Bits per code: 2, 4 or 8.' },
    { name: 'group', type: 'integer', default: 32, description: 'Group size: tokens per key group, channels per value group.' },
    { name: 'residual', type: 'integer', default: 32, description: 'Most recent tokens always kept in full precision.' },
  ],
  budget: 'optional',
  create: (spec) => new Kivi(spec),
};
