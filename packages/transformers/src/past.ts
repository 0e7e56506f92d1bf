import { Tensor } from '@huggingface/transformers';
import { InvalidParamsError, type ModelCache, UnsupportedError } from '@kv/core';
import { type DecoderShape, pastName, presentName, type TensorLike } from './model.js';
import { type RowBlock, rowBlocks } from './rows.js';

/** How query-aware heads are driven (see {@link SessionOptions.queryProxy}). */
export interface ProxyPlan {
  /** Layers whose heads are query-aware and get key proxies. */
  readonly layers: ReadonlySet<number>;
  /** Observation window of a multi-token prefill (SnapKV's `window`). */
  readonly window: number;
}

/**
 * The compressed past of one sequence: a kv `ModelCache` (one policy cache per layer and KV
 * head) plus the float32 tensors `[1, kvHeads, rows, headDim]` rebuilt from it after every call,
 * which are what the decoder receives as `past_key_values.{layer}.key/value`.
 *
 * Protocol of a call over `count` new tokens at logical position `t`: the model attends the kept
 * rows and the new tokens (causally), with `position_ids` t … t+count−1 and an all-ones
 * `attention_mask` over rows + count; then the new rows (the last `count` rows of each
 * `present.*`) are appended to the policy caches, which evict down to their budgets.
 */
export class CompressedPast {
  /** The decoder's shape. */
  readonly shape: DecoderShape;
  /** The policy caches. */
  readonly cache: ModelCache;
  private readonly proxies: ProxyPlan | undefined;
  private keyBuffers: Float32Array[];
  private valueBuffers: Float32Array[];
  private tensors: Record<string, TensorLike> = {};
  // What each head's slice of its layer tensor holds: the position of each row (−1: unknown) and
  // the row counts of the head's stores, so that a rebuild copies only rows that changed.
  private readonly slotPositions: Int32Array[];
  private readonly storeCounts: number[][];
  private layoutRows = -1;
  private pastRows = 0;
  private largest = 0;
  private failure: Error | undefined;
  private mask = new BigInt64Array(0);
  private maskTensor: TensorLike | undefined;
  private readonly oneId: TensorLike = new Tensor('int64', new BigInt64Array(1), [1, 1]);
  private readonly onePosition: TensorLike = new Tensor('int64', new BigInt64Array(1), [1, 1]);
  private readonly keyRow: Float32Array;
  private readonly valueRow: Float32Array;
  private readonly proxyQueries: Float32Array;
  private readonly scratch: Float32Array;

  /**
   * @param shape - The decoder's shape.
   * @param cache - An empty (or restored) cache of that shape.
   * @param proxies - Query-aware layers and their prefill window, when key proxies are on.
   * @throws `InvalidParamsError` when the cache's shape is not the decoder's.
   */
  constructor(shape: DecoderShape, cache: ModelCache, proxies?: ProxyPlan) {
    if (cache.layers !== shape.layers || cache.kvHeads !== shape.kvHeads || cache.queryHeads !== shape.queryHeads || cache.keyDim !== shape.headDim || cache.valueDim !== shape.headDim) {
      throw new InvalidParamsError(
        `the cache has ${cache.layers} layers of ${cache.queryHeads}/${cache.kvHeads} heads (d=${cache.keyDim}, s=${cache.valueDim}), the model ${shape.layers} of ${shape.queryHeads}/${shape.kvHeads} (d=${shape.headDim})`,
      );
    }
    this.shape = shape;
    this.cache = cache;
    this.proxies = proxies;
    this.keyBuffers = Array.from({ length: shape.layers }, () => new Float32Array(0));
    this.valueBuffers = Array.from({ length: shape.layers }, () => new Float32Array(0));
    this.slotPositions = Array.from({ length: shape.layers * shape.kvHeads }, () => new Int32Array(0));
    this.storeCounts = Array.from({ length: shape.layers * shape.kvHeads }, () => []);
    const kvDim = shape.kvHeads * shape.headDim;
    this.keyRow = new Float32Array(kvDim);
    this.valueRow = new Float32Array(kvDim);
    this.proxyQueries = new Float32Array(shape.queryHeads * shape.headDim);
    this.scratch = new Float32Array(shape.queryHeads * shape.headDim);
    this.rebuild();
  }

  /** Whether query-aware heads get key proxies. */
  get proxied(): boolean {
    return this.proxies !== undefined;
  }

  /** Forgets every token and any earlier failure: position 0, an empty past. */
  reset(): void {
    this.cache.reset();
    this.failure = undefined;
    this.largest = 0;
    this.layoutRows = -1;
    this.rebuild();
  }

  /** Tokens absorbed so far: the logical position of the next token. */
  get position(): number {
    return this.cache.seen;
  }

  /** Rows per (layer, KV head) in the past the next call receives. */
  get rows(): number {
    return this.pastRows;
  }

  /** The most rows any call has received so far. */
  get maxRows(): number {
    return this.largest;
  }

  /** Bytes held by the policy caches. */
  get bytes(): number {
    return this.cache.bytes;
  }

  /** Bytes of the float32 past tensors handed to the model (keys and values of every layer). */
  get pastBytes(): number {
    return 8 * this.shape.layers * this.shape.kvHeads * this.pastRows * this.shape.headDim;
  }

  /** The past tensors of the next call, by graph input name (`past_key_values.{layer}.key`, ...). */
  get past(): Readonly<Record<string, TensorLike>> {
    this.throwIfFailed();
    return this.tensors;
  }

  /**
   * The graph inputs of the next call over `tokens`.
   * @param tokens - Token ids (validated by the caller).
   * @returns `input_ids`, `attention_mask`, `position_ids` and `past_key_values`.
   * @throws The error that stopped an earlier call half-way, if any.
   */
  inputs(tokens: ArrayLike<number>): Record<string, unknown> {
    const n = tokens.length;
    if (n === 1) {
      // A decode step reuses its tensors: only their contents change.
      (this.oneId.data as BigInt64Array)[0] = BigInt(tokens[0]!);
      return { input_ids: this.oneId, ...this.frame(1), past_key_values: this.tensors };
    }
    const ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = BigInt(tokens[i]!);
    return { input_ids: new Tensor('int64', ids, [1, n]), ...this.frame(n), past_key_values: this.tensors };
  }

  /**
   * The mask and positions of the next call over `count` tokens: all ones over the kept rows and
   * the new tokens, positions at the logical position on.
   * @param count - Tokens in the call.
   * @returns `attention_mask` and `position_ids`.
   * @throws The error that stopped an earlier call half-way, if any.
   */
  frame(count: number): { attention_mask: TensorLike; position_ids: TensorLike } {
    this.throwIfFailed();
    const t = this.position;
    this.largest = Math.max(this.largest, this.pastRows);
    let position_ids: TensorLike;
    if (count === 1) {
      (this.onePosition.data as BigInt64Array)[0] = BigInt(t);
      position_ids = this.onePosition;
    } else {
      const positions = new BigInt64Array(count);
      for (let i = 0; i < count; i++) positions[i] = BigInt(t + i);
      position_ids = new Tensor('int64', positions, [1, count]);
    }
    const m = this.pastRows + count;
    if (this.maskTensor?.dims[1] !== m) {
      if (this.mask.length < m) this.mask = new BigInt64Array(Math.max(m, 2 * this.mask.length)).fill(1n);
      this.maskTensor = new Tensor('int64', this.mask.subarray(0, m), [1, m]);
    }
    return { attention_mask: this.maskTensor, position_ids };
  }

  /**
   * Appends the new rows of a call's `present.*` outputs to the policy caches and rebuilds the past.
   * @param outputs - The model's outputs for a call made with {@link CompressedPast.inputs}.
   * @param count - Tokens in that call.
   * @throws `UnsupportedError` when a present is not float32 of the expected shape; when
   *   heads or layers end up holding different numbers of rows (the past is one tensor per
   *   layer and the graph builds one mask for all layers), or a policy holds anything but float32
   *   rows. The past cannot continue then, and every later call rethrows the error.
   */
  absorb(outputs: Readonly<Record<string, TensorLike>>, count: number): void {
    this.throwIfFailed();
    if (!Number.isInteger(count) || count < 1) throw new InvalidParamsError(`the outputs hold ${count} new rows, expected at least 1`);
    const { layers, kvHeads, headDim: d } = this.shape;
    const total = this.pastRows + count;
    const presents: Float32Array[] = [];
    for (let l = 0; l < layers; l++) {
      for (const kind of ['key', 'value'] as const) {
        const p = outputs[presentName(l, kind)];
        const dims = p?.dims ?? [];
        if (!p || p.type !== 'float32' || !(p.data instanceof Float32Array) || dims.length !== 4 || dims[1] !== kvHeads || dims[2] !== total || dims[3] !== d) {
          throw new UnsupportedError(
            `${presentName(l, kind)} is ${p ? `${p.type} [${dims.join(', ')}]` : 'missing'}, expected float32 [1, ${kvHeads}, ${total}, ${d}] (only float32 pasts are supported)`,
          );
        }
        presents.push(p.data);
      }
    }
    try {
      for (let l = 0; l < layers; l++) this.appendLayer(l, presents[2 * l]!, presents[2 * l + 1]!, total, count);
      this.rebuild();
    } catch (e) {
      this.failure = e as Error;
      throw e;
    }
  }

  private appendLayer(layer: number, keys: Float32Array, values: Float32Array, total: number, count: number): void {
    const { kvHeads, headDim: d } = this.shape;
    const first = total - count;
    const proxied = this.proxies?.layers.has(layer) ?? false;
    if (count === 1) {
      gatherToken(keys, first, total, kvHeads, d, this.keyRow, 0);
      gatherToken(values, first, total, kvHeads, d, this.valueRow, 0);
      this.cache.append(layer, this.keyRow, this.valueRow);
      if (proxied) this.cache.attend(layer, this.keyProxies(this.keyRow, 0), this.scratch);
      return;
    }
    const kvDim = kvHeads * d;
    const k = new Float32Array(count * kvDim);
    const v = new Float32Array(count * kvDim);
    for (let j = 0; j < count; j++) {
      gatherToken(keys, first + j, total, kvHeads, d, k, j * kvDim);
      gatherToken(values, first + j, total, kvHeads, d, v, j * kvDim);
    }
    if (!proxied) {
      this.cache.prefill(layer, k, v);
      return;
    }
    const w = Math.min(this.proxies!.window, count);
    const q = new Float32Array(w * this.proxyQueries.length);
    for (let j = 0; j < w; j++) q.set(this.keyProxies(k, (count - w + j) * kvDim), j * this.proxyQueries.length);
    this.cache.prefill(layer, k, v, w > 0 ? q : undefined);
  }

  // Each query head's proxy is its KV head's key of the same token.
  private keyProxies(keys: Float32Array, offset: number): Float32Array {
    const { queryHeads, kvHeads, headDim: d } = this.shape;
    const group = queryHeads / kvHeads;
    for (let qh = 0; qh < queryHeads; qh++) {
      const from = offset + Math.floor(qh / group) * d;
      for (let j = 0; j < d; j++) this.proxyQueries[qh * d + j] = keys[from + j]!;
    }
    return this.proxyQueries;
  }

  // Reads every head's kept rows into the layer tensors [1, kvHeads, rows, headDim]. While the
  // row count stays the same, only the rows whose slot now holds another position are copied
  // (an eviction moves one row and adds one), which keeps a step O(changed rows), not O(rows).
  private rebuild(): void {
    const { layers, kvHeads, headDim: d } = this.shape;
    const n = this.cache.head(0, 0).stored;
    const heads: RowBlock[][] = [];
    for (let l = 0; l < layers; l++) {
      for (let h = 0; h < kvHeads; h++) {
        const head = this.cache.head(l, h);
        if (head.stored !== n) {
          throw new UnsupportedError(
            `layer ${l} head ${h} holds ${head.stored} rows and layer 0 head 0 holds ${n}; every head of every layer must keep the same number (the past is one tensor per layer and the graph builds one attention mask for all layers), so per-head or per-layer budgets cannot drive a transformers.js past`,
          );
        }
        heads.push(rowBlocks(head));
      }
    }
    const size = kvHeads * n * d;
    const relayout = n !== this.layoutRows;
    const tensors: Record<string, TensorLike> = {};
    for (let l = 0; l < layers; l++) {
      let full = relayout;
      if (this.keyBuffers[l]!.length < size) {
        const grown = Math.max(size, 2 * this.keyBuffers[l]!.length);
        this.keyBuffers[l] = new Float32Array(grown);
        this.valueBuffers[l] = new Float32Array(grown);
        full = true;
      }
      for (let h = 0; h < kvHeads; h++) this.copyHead(l * kvHeads + h, heads[l * kvHeads + h]!, this.keyBuffers[l]!, this.valueBuffers[l]!, h * n, n, full);
      tensors[pastName(l, 'key')] = this.reuse(pastName(l, 'key'), this.keyBuffers[l]!, size, n);
      tensors[pastName(l, 'value')] = this.reuse(pastName(l, 'value'), this.valueBuffers[l]!, size, n);
    }
    this.tensors = tensors;
    this.pastRows = n;
    this.layoutRows = n;
  }

  private copyHead(k: number, blocks: RowBlock[], keys: Float32Array, values: Float32Array, first: number, n: number, full: boolean): void {
    const d = this.shape.headDim;
    const counts = this.storeCounts[k]!;
    if (counts.length !== blocks.length || blocks.some((b, i) => b.count !== counts[i])) full = true;
    if (this.slotPositions[k]!.length < n) {
      this.slotPositions[k] = new Int32Array(Math.max(n, 2 * this.slotPositions[k]!.length));
      full = true;
    }
    const held = this.slotPositions[k]!;
    let at = 0;
    for (const b of blocks) {
      for (let i = 0; i < b.count; i++, at++) {
        // Without positions a slot's content cannot be told apart from another's: copy it.
        const p = b.positions ? b.positions[i]! : -1;
        if (full || p < 0 || p !== held[at]) {
          const from = i * 2 * d;
          const to = (first + at) * d;
          for (let j = 0; j < d; j++) keys[to + j] = b.rows[from + j]!;
          for (let j = 0; j < d; j++) values[to + j] = b.rows[from + d + j]!;
        }
        held[at] = p;
      }
    }
    counts.length = blocks.length;
    for (let i = 0; i < blocks.length; i++) counts[i] = blocks[i]!.count;
  }

  // The tensor of the previous call when it already wraps this buffer at this size.
  private reuse(name: string, buffer: Float32Array, size: number, rows: number): TensorLike {
    const old = this.tensors[name];
    if (old && old.dims[2] === rows && (old.data as Float32Array).buffer === buffer.buffer) return old;
    return new Tensor('float32', buffer.subarray(0, size), [1, this.shape.kvHeads, rows, this.shape.headDim]);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}

// Copies token `row` of every head of a [1, heads, total, d] tensor into out (head-major).
function gatherToken(data: Float32Array, row: number, total: number, heads: number, d: number, out: Float32Array, offset: number): void {
  for (let h = 0; h < heads; h++) {
    const from = (h * total + row) * d;
    const to = offset + h * d;
    for (let j = 0; j < d; j++) out[to + j] = data[from + j]!;
  }
}
