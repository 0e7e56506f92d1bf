import type { ParamInfo } from '../contract.js';
import { InvalidParamsError } from '../errors.js';

/**
 * How one side (keys or values) of a stored row is encoded: plain `f32`, `f16`, or asymmetric
 * integer codes of 8, 4, 3 or 2 bits with a step and a minimum per group.
 *
 * @example
 * ```ts
 * import type { CodecName } from '@kv/core';
 * const keys: CodecName = 'int4';
 * ```
 */
export type CodecName = 'f32' | 'f16' | 'int8' | 'int4' | 'int3' | 'int2';

/**
 * The precision a token-keeping store holds its rows at (issue "precision as a layer"). Every
 * field is optional; {@link ResolvedPrecision} shows the defaults filled in.
 *
 * @example
 * ```ts
 * import type { PrecisionSpec } from '@kv/core';
 * const spec: PrecisionSpec = { keys: 'int4', values: 'int4', rotate: true };
 * const kivi: PrecisionSpec = { keys: 'int2', keyGroups: 'channel', residual: 32, group: 32 };
 * ```
 */
export interface PrecisionSpec {
  /** Codec of the keys (default `f32`). */
  readonly keys?: CodecName;
  /** Codec of the values (default: the keys' codec). */
  readonly values?: CodecName;
  /**
   * Quantization group size G (default 32): channels per scale for token-wise groups, tokens per
   * scale for channel-wise key groups.
   */
  readonly group?: number;
  /** The newest rows kept in float32 (KIVI's full-precision window; default 0). */
  readonly residual?: number;
  /**
   * A seeded randomized Hadamard transform of keys and queries (q·k unchanged) and of values (the
   * inverse is applied to the output), so outlier channels spread out before rounding.
   */
  readonly rotate?: boolean;
  /**
   * `uniform` levels (default) or `lloyd-max` levels fitted to the Gaussian that rotated
   * coordinates follow (TurboQuant, arXiv 2504.19874); lloyd-max needs `rotate`.
   */
  readonly codebook?: 'uniform' | 'lloyd-max';
  /**
   * `token` (default: every row's key is quantized on its own over groups of G channels, so any
   * row can be evicted, moved or overwritten) or `channel` (KIVI: each channel over groups of G
   * consecutive tokens; only for stores created with `eviction: 'fifo'`).
   */
  readonly keyGroups?: 'token' | 'channel';
  /** Storage of each group's step and minimum: `f16` (default; |x| ≤ 65504) or `f32`. */
  readonly scales?: 'f16' | 'f32';
}

/**
 * A precision: a codec name for keys and values alike, or a full {@link PrecisionSpec}.
 *
 * @example
 * ```ts
 * import type { Precision } from '@kv/core';
 * const a: Precision = 'int8';
 * const b: Precision = { keys: 'int4', values: 'int2', rotate: true };
 * ```
 */
export type Precision = CodecName | PrecisionSpec;

/**
 * A {@link PrecisionSpec} with every default filled in (what a store actually does).
 *
 * @example
 * ```ts
 * import { resolvePrecision, type ResolvedPrecision } from '@kv/core';
 * const p: ResolvedPrecision = resolvePrecision({ keys: 'int4' });
 * p.values; // 'int4'
 * ```
 */
export interface ResolvedPrecision {
  /** Codec of the keys. */
  readonly keys: CodecName;
  /** Codec of the values. */
  readonly values: CodecName;
  /** Quantization group size G. */
  readonly group: number;
  /** The newest rows kept in float32. */
  readonly residual: number;
  /** Whether keys, queries and values are rotated by the seeded Hadamard transform. */
  readonly rotate: boolean;
  /** Quantization levels. */
  readonly codebook: 'uniform' | 'lloyd-max';
  /** Key groups: per token over channels, or per channel over tokens. */
  readonly keyGroups: 'token' | 'channel';
  /** Storage of each group's step and minimum. */
  readonly scales: 'f16' | 'f32';
}

/**
 * Every codec, widest first.
 *
 * @example
 * ```ts
 * import { CODECS, codecBits } from '@kv/core';
 * CODECS.map(codecBits); // [32, 16, 8, 4, 3, 2]
 * ```
 */
export const CODECS: readonly CodecName[] = ['f32', 'f16', 'int8', 'int4', 'int3', 'int2'];

const FIELDS = ['keys', 'values', 'group', 'residual', 'rotate', 'codebook', 'keyGroups', 'scales'] as const;

/**
 * Bits per element of a codec.
 *
 * @param codec - The codec.
 * @returns 32, 16, 8, 4, 3 or 2.
 * @example
 * ```ts
 * import { codecBits } from '@kv/core';
 * codecBits('int4'); // 4
 * ```
 */
export function codecBits(codec: CodecName): number {
  switch (codec) {
    case 'f32':
      return 32;
    case 'f16':
      return 16;
    case 'int8':
      return 8;
    case 'int4':
      return 4;
    case 'int3':
      return 3;
    case 'int2':
      return 2;
  }
}

/**
 * Whether a codec stores integer codes with per-group scales.
 *
 * @param codec - The codec.
 * @returns True for int8, int4, int3, int2.
 * @example
 * ```ts
 * import { isIntegerCodec } from '@kv/core';
 * isIntegerCodec('int2'); // true
 * ```
 */
export function isIntegerCodec(codec: CodecName): boolean {
  return codec !== 'f32' && codec !== 'f16';
}

function codec(raw: unknown, where: string, field: string): CodecName {
  if (typeof raw !== 'string' || !(CODECS as readonly string[]).includes(raw)) {
    throw new InvalidParamsError(`${where}: ${field} is ${JSON.stringify(raw)}, expected one of ${CODECS.join(', ')}`);
  }
  return raw as CodecName;
}

/**
 * Reads a precision from untyped input (a policy's `params.precision`), checking every field.
 *
 * @param raw - A codec name, a {@link PrecisionSpec}, or undefined (float32).
 * @param where - Where it came from, for messages (`"h2o params.precision"`).
 * @returns The spec (a codec name `c` becomes `{ keys: c, values: c }`).
 * @throws {@link InvalidParamsError} on an unknown codec or field, a group size outside 1…4096,
 *   a negative residual, `lloyd-max` without `rotate`, or `lloyd-max` with a non-integer codec.
 * @example
 * ```ts
 * import { parsePrecision } from '@kv/core';
 * parsePrecision('int4', 'example'); // { keys: 'int4', values: 'int4' }
 * parsePrecision({ keys: 'int2', residual: 32 }, 'example');
 * ```
 */
export function parsePrecision(raw: unknown, where: string): PrecisionSpec {
  if (raw === undefined) return {};
  if (typeof raw === 'string') {
    const c = codec(raw, where, 'precision');
    return { keys: c, values: c };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidParamsError(`${where}: precision is ${JSON.stringify(raw)}, expected a codec name (${CODECS.join(', ')}) or an object`);
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(FIELDS as readonly string[]).includes(k)) {
      throw new InvalidParamsError(`${where}: precision has no field "${k}"; its fields are ${FIELDS.join(', ')}`);
    }
  }
  const out: { -readonly [K in keyof PrecisionSpec]: PrecisionSpec[K] } = {};
  if (o['keys'] !== undefined) out.keys = codec(o['keys'], where, 'precision.keys');
  if (o['values'] !== undefined) out.values = codec(o['values'], where, 'precision.values');
  if (o['group'] !== undefined) {
    const g = o['group'];
    if (typeof g !== 'number' || !Number.isInteger(g) || g < 1 || g > 4096) {
      throw new InvalidParamsError(`${where}: precision.group is ${JSON.stringify(g)}, expected an integer in 1…4096`);
    }
    out.group = g;
  }
  if (o['residual'] !== undefined) {
    const r = o['residual'];
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r > 1 << 20) {
      throw new InvalidParamsError(`${where}: precision.residual is ${JSON.stringify(r)}, expected an integer >= 0`);
    }
    out.residual = r;
  }
  if (o['rotate'] !== undefined) {
    if (typeof o['rotate'] !== 'boolean') throw new InvalidParamsError(`${where}: precision.rotate is ${JSON.stringify(o['rotate'])}, expected a boolean`);
    out.rotate = o['rotate'];
  }
  const choice = <C extends string>(field: string, choices: readonly C[]): C | undefined => {
    const v = o[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
      throw new InvalidParamsError(`${where}: precision.${field} is ${JSON.stringify(v)}, expected one of ${choices.join(', ')}`);
    }
    return v as C;
  };
  const codebook = choice('codebook', ['uniform', 'lloyd-max'] as const);
  if (codebook !== undefined) out.codebook = codebook;
  const keyGroups = choice('keyGroups', ['token', 'channel'] as const);
  if (keyGroups !== undefined) out.keyGroups = keyGroups;
  const scales = choice('scales', ['f16', 'f32'] as const);
  if (scales !== undefined) out.scales = scales;
  const resolved = resolvePrecision(out);
  if (resolved.codebook === 'lloyd-max') {
    if (!resolved.rotate) throw new InvalidParamsError(`${where}: precision.codebook 'lloyd-max' is fitted to rotated coordinates: set rotate: true`);
    if (!isIntegerCodec(resolved.keys) && !isIntegerCodec(resolved.values)) {
      throw new InvalidParamsError(`${where}: precision.codebook 'lloyd-max' needs an integer codec (int8, int4, int3, int2)`);
    }
  }
  if (resolved.keyGroups === 'channel' && !isIntegerCodec(resolved.keys)) {
    throw new InvalidParamsError(`${where}: precision.keyGroups 'channel' needs integer key codes, not ${resolved.keys}`);
  }
  return out;
}

/**
 * Fills in the defaults of a precision.
 *
 * @param precision - A codec name, a spec, or undefined (float32 rows).
 * @returns The resolved precision.
 * @example
 * ```ts
 * import { resolvePrecision } from '@kv/core';
 * resolvePrecision('int8').group; // 32
 * ```
 */
export function resolvePrecision(precision: Precision | undefined): ResolvedPrecision {
  const p: PrecisionSpec = typeof precision === 'string' ? { keys: precision, values: precision } : (precision ?? {});
  const keys = p.keys ?? 'f32';
  return {
    keys,
    values: p.values ?? keys,
    group: p.group ?? 32,
    residual: p.residual ?? 0,
    rotate: p.rotate ?? false,
    codebook: p.codebook ?? 'uniform',
    keyGroups: p.keyGroups ?? 'token',
    scales: p.scales ?? 'f16',
  };
}

/**
 * A short label of a precision for `describe()` and tables: `f32`, `int4`, `k:int4/v:int2 rot`.
 *
 * @param precision - A resolved precision.
 * @returns The label.
 * @example
 * ```ts
 * import { precisionLabel, resolvePrecision } from '@kv/core';
 * precisionLabel(resolvePrecision({ keys: 'int4', rotate: true })); // 'int4 rot'
 * ```
 */
export function precisionLabel(precision: ResolvedPrecision): string {
  const p = precision;
  let s = p.keys === p.values ? p.keys : `k:${p.keys}/v:${p.values}`;
  if (p.keyGroups === 'channel') s += ' kchan';
  if (isIntegerCodec(p.keys) || isIntegerCodec(p.values)) s += ` g${p.group}`;
  if (p.residual > 0) s += ` r${p.residual}`;
  if (p.rotate) s += ' rot';
  if (p.codebook === 'lloyd-max') s += ' lm';
  if (p.scales === 'f32' && (isIntegerCodec(p.keys) || isIntegerCodec(p.values))) s += ' s32';
  return s.replace(/ g32(?= |$)/, '');
}

/**
 * The `precision` parameter every token-keeping policy declares (add it to the policy's
 * `params` list and pass `parsePrecision(spec.params?.precision, …)` to its {@link SlotStore}).
 *
 * @example
 * ```ts
 * import { precisionParam, type ParamInfo } from '@kv/core';
 * const params: ParamInfo[] = [precisionParam];
 * ```
 */
export const precisionParam: ParamInfo = {
  name: 'precision',
  type: 'object',
  default: 'f32',
  description:
    "storage precision of kept rows: a codec ('f32', 'f16', 'int8', 'int4', 'int3', 'int2') or { keys, values, group, residual, rotate, codebook, keyGroups, scales }",
};
