import type { Precision } from './spec.js';

/**
 * Options of a {@link SlotStore}.
 *
 * @example
 * ```ts
 * import { SlotStore, type SlotStoreOptions } from '@kv/core';
 * const options: SlotStoreOptions = { maxSlots: 256, precision: { keys: 'int4', rotate: true }, seed: 7 };
 * const store = new SlotStore(64, 64, options);
 * ```
 */
export interface SlotStoreOptions {
  /** Hard slot limit (default unbounded); see also {@link SlotStore.limit}. */
  readonly maxSlots?: number;
  /** A sizing hint: rows to make room for at the first push (default 16). */
  readonly initialSlots?: number;
  /** Keep a log-weight (logit bias) per row. */
  readonly weighted?: boolean;
  /** Keep each row's logical position (default true; 4 bytes per row). */
  readonly positions?: boolean;
  /** Storage precision of the rows (default float32). */
  readonly precision?: Precision;
  /** Seed of the rotation (with `precision.rotate`). */
  readonly seed?: number;
  /**
   * How the owner evicts: `'any'` (default) or `'fifo'` (oldest-first, possibly after a prefix of
   * fewer than G sinks that stay). Channel-wise key groups need `'fifo'`.
   */
  readonly eviction?: 'any' | 'fifo';
}
