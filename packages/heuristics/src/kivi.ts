import { integerParam, InvalidParamsError, type PolicyDefinition, type PolicySpec, type PrecisionSpec } from '@kv/core';
import { ageScorer } from './eviction/age.js';
import { EvictionCache } from './eviction/eviction-cache.js';

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
 * The precision KIVI stores its tokens at: keys per channel over groups of `group` tokens, values
 * per token over groups of `group` channels, both `bits`-bit asymmetric integers, the newest
 * `residual` tokens in float32 until a group fills.
 *
 * @param bits - 2, 4 or 8.
 * @param group - Group size G.
 * @param residual - Newest tokens kept in float32.
 * @returns The precision spec (core's precision layer).
 * @example
 * ```ts
 * import { kiviPrecision } from '@kv/heuristics';
 * kiviPrecision(2, 32, 32); // { keys: 'int2', values: 'int2', keyGroups: 'channel', group: 32, residual: 32 }
 * ```
 */
export function kiviPrecision(bits: KiviBits, group: number, residual: number): PrecisionSpec {
  const codec = bits === 2 ? 'int2' : bits === 4 ? 'int4' : 'int8';
  return { keys: codec, values: codec, keyGroups: 'channel', group, residual };
}

/**
 * KIVI: every token, quantized to 2, 4 or 8 bits with KIVI's grouping (keys per channel over
 * groups of G tokens, values per token over groups of G channels, the newest tokens in float32),
 * as a preset of core's precision layer on a sliding window: without a budget it holds every
 * token; with one (any form) it keeps as many of the newest tokens as fit at that precision.
 *
 * @remarks
 * The codes, scales (float16, as the paper's fp16 cache) and the float32 residual live in core's
 * `SlotStore`, which answers attention on the codes (its kernels, its error bounds: each element
 * within half a quantization step of its group's range). A budget too small for the residual
 * and one group keeps a float32 window (the store's residual) until it grows. 2-bit and 4-bit
 * caches are never exact; 8-bit is close.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { kiviPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(kiviPolicy)
 *   .create({ policy: 'kivi', keyDim: 128, valueDim: 128, budget: { fraction: 1 / 8 }, params: { bits: 4, group: 16, residual: 8 } });
 * ```
 * @see Liu et al., KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV Cache (arXiv 2402.02750).
 */
export class Kivi extends EvictionCache {
  /** Bits per code. */
  readonly bits: KiviBits;
  /** Group size G: tokens per key group, channels per value group. */
  readonly group: number;
  /** Tokens kept in full precision until their group fills. */
  readonly residual: number;

  /**
   * @param spec - A validated spec; params `bits` (2, 4 or 8; default 2), `group` (default 32),
   *   `residual` (default 32); optional budget of any form.
   * @throws An `InvalidParamsError` on a bad parameter.
   */
  constructor(spec: PolicySpec) {
    const bits = integerParam(spec.params, 'bits', { default: 2 });
    if (bits !== 2 && bits !== 4 && bits !== 8) throw new InvalidParamsError(`parameter "bits" is ${bits}, expected 2, 4 or 8`);
    const group = integerParam(spec.params, 'group', { default: 32, min: 1, max: 4096 });
    const residual = integerParam(spec.params, 'residual', { default: 32, min: 0 });
    super(spec, ageScorer(), { precision: kiviPrecision(bits, group, residual) });
    this.bits = bits;
    this.group = group;
    this.residual = residual;
  }
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
  summary: 'KIVI quantization (2/4/8-bit; keys per channel, values per token, groups of 32, newest 32 in fp32) on a window that fits the budget.',
  params: [
    { name: 'bits', type: 'integer', default: 2, description: 'Bits per code: 2, 4 or 8.' },
    { name: 'group', type: 'integer', default: 32, description: 'Group size: tokens per key group, channels per value group.' },
    { name: 'residual', type: 'integer', default: 32, description: 'Newest tokens kept in float32 until their group fills.' },
  ],
  budget: 'optional',
  create: (spec) => new Kivi(spec),
};
