import { VectorCodec } from './codec.js';
import type { ResolvedPrecision } from './spec.js';

/**
 * Byte layout of one store's records.
 *
 * - A **residual record** (and every record of a float32 store) is
 *   `key f32×d | value f32×s | log-weight f32 (weighted stores)`.
 * - A **quantized record** is `key codes | value codes | key scales | value scales | log-weight`,
 *   each field 4-byte aligned; with channel-wise key groups the key scales are held once per
 *   group of G records, before them: a **group** is `key scales per channel | G records`, so a
 *   query reads each group (its scales to fold the query into, then its rows) as one ascending
 *   stream. Snapshots keep the older order, `G records | key scales` (see store-state.ts).
 *
 * Records are interleaved (a row's key and value are adjacent), so a store grows by appending
 * records at the end of its memory and never moves what it holds.
 * @internal
 */
export class RowLayout {
  readonly d: number;
  readonly s: number;
  readonly weighted: boolean;
  readonly precision: ResolvedPrecision;
  readonly keys: VectorCodec;
  readonly values: VectorCodec;
  /** Keys grouped per channel over G tokens. */
  readonly channel: boolean;
  /** Tokens per channel-wise key group. */
  readonly group: number;
  /** Quantized records are plain float32 records (no codes at all). */
  readonly plain: boolean;
  readonly kCode = 0;
  readonly vCode: number;
  readonly kScale: number;
  readonly vScale: number;
  readonly lw: number;
  /** Bytes of one quantized record. */
  readonly rec: number;
  /** Bytes of one channel-wise group (G records and the key scales). */
  readonly groupBytes: number;
  /** Byte offset of a group's first record from the group's start (after its key scales). */
  readonly groupRows: number;
  /** Bytes of one residual (float32) record. */
  readonly fRec: number;

  /**
   * @param d - Key dimension.
   * @param s - Value dimension.
   * @param precision - The store's precision.
   * @param weighted - Whether records hold a log-weight.
   */
  constructor(d: number, s: number, precision: ResolvedPrecision, weighted: boolean) {
    this.d = d;
    this.s = s;
    this.weighted = weighted;
    this.precision = precision;
    this.keys = new VectorCodec(d, precision.keys, precision, precision.keyGroups);
    this.values = new VectorCodec(s, precision.values, precision, 'token');
    this.channel = this.keys.axis === 'channel';
    this.group = precision.group;
    this.plain = precision.keys === 'f32' && precision.values === 'f32';
    this.vCode = this.keys.codeBytes;
    this.kScale = this.vCode + this.values.codeBytes;
    this.vScale = this.kScale + (this.channel ? 0 : this.keys.scaleBytes);
    this.lw = this.vScale + this.values.scaleBytes;
    this.rec = this.lw + (weighted ? 4 : 0);
    this.groupRows = this.channel ? this.keys.groupScaleBytes : 0;
    this.groupBytes = this.channel ? this.groupRows + this.group * this.rec : 0;
    this.fRec = 4 * (d + s) + (weighted ? 4 : 0);
  }

  /**
   * Bytes held per quantized row, the amortized share of its group's key scales included.
   * @returns Bytes (fractional with channel-wise groups).
   */
  quantizedRowBytes(): number {
    return this.channel ? this.groupBytes / this.group : this.rec;
  }
}
