import type { FloatArray, Rng } from '@kv/core';
import { BucketIndex, bucketIndexBytes } from './bucket-index.js';
import { createFamily, type FamilyOptions, type LshFamily } from './family.js';

/**
 * L independent hash tables over one set of items: table t hashes with its own function of the
 * family and groups items by cell in a {@link BucketIndex}. Items are small integers (slots);
 * their vectors live elsewhere (a `SlotStore`), so the tables only hold ids.
 *
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { LshTables } from '@kv/lsh';
 * const tables = new LshTables(4, 2, { kind: 'simhash', hashes: 3 }, new Rng(0), 16);
 * tables.insert(0, new Float32Array([1, 0, 0, 0]), 0);
 * tables.hashQuery(new Float32Array([1, 0.1, 0, 0]));
 * tables.head(0); // 0 when the query shares table 0's cell
 * ```
 */
export class LshTables {
  /** Number of tables L. */
  readonly tables: number;
  /** The drawn function of each table. */
  readonly families: readonly LshFamily[];
  /** The bucket index of each table. */
  readonly indexes: readonly BucketIndex[];
  /** Cell of the last hashed query in each table. */
  readonly queryCells: Int32Array;

  /**
   * @param dim - Vector dimension.
   * @param tables - Number of tables L (≥ 1).
   * @param family - Family kind and shape (one independent draw per table).
   * @param rng - Source of the draws.
   * @param maxItems - Items to preallocate for (a hard limit unless `growable`).
   * @param growable - Whether the indexes may grow past `maxItems`.
   * @throws `InvalidParamsError` for bad family shapes.
   */
  constructor(
    dim: number,
    tables: number,
    family: FamilyOptions,
    rng: Rng,
    maxItems: number,
    growable = false,
  ) {
    this.tables = tables;
    const families: LshFamily[] = [];
    const indexes: BucketIndex[] = [];
    for (let t = 0; t < tables; t++) {
      const f = createFamily(dim, family, rng);
      families.push(f);
      indexes.push(new BucketIndex(maxItems, growable, growable ? Infinity : f.buckets));
    }
    this.families = families;
    this.indexes = indexes;
    this.queryCells = new Int32Array(tables);
  }

  /**
   * Hashes a vector into every table under item id `item`.
   * @param item - Item id (not currently inserted).
   * @param vector - Storage holding the vector.
   * @param offset - Index of its first element.
   */
  insert(item: number, vector: FloatArray, offset: number): void {
    for (let t = 0; t < this.tables; t++) this.indexes[t]!.insert(item, this.families[t]!.hash(vector, offset));
  }

  /**
   * Removes an item from every table.
   * @param item - Item id.
   */
  remove(item: number): void {
    for (let t = 0; t < this.tables; t++) this.indexes[t]!.remove(item);
  }

  /**
   * Renames an item in every table (see {@link BucketIndex.move}).
   * @param from - Current id.
   * @param to - New id (not inserted).
   */
  move(from: number, to: number): void {
    for (let t = 0; t < this.tables; t++) this.indexes[t]!.move(from, to);
  }

  /** Empties every table (keeps the functions and allocations). */
  clear(): void {
    for (let t = 0; t < this.tables; t++) this.indexes[t]!.clear();
  }

  /**
   * Hashes a query into {@link LshTables.queryCells}.
   * @param query - The query vector.
   */
  hashQuery(query: FloatArray): void {
    for (let t = 0; t < this.tables; t++) this.queryCells[t] = this.families[t]!.hash(query, 0);
  }

  /**
   * First item of the query's cell in table t (follow `indexes[t].next`).
   * @param t - Table.
   * @returns An item, or −1 for an empty cell.
   */
  head(t: number): number {
    return this.indexes[t]!.head(this.queryCells[t]!);
  }

  /**
   * Items in the query's cell in table t.
   * @param t - Table.
   * @returns The cell size.
   */
  cellSize(t: number): number {
    return this.indexes[t]!.bucketSize(this.queryCells[t]!);
  }

  /**
   * The typed arrays held (functions and indexes).
   * @param includeFamilies - Whether to include the functions (false when they are shared and
   *   counted elsewhere).
   * @returns The arrays.
   */
  buffers(includeFamilies = true): ArrayBufferView[] {
    const out: ArrayBufferView[] = [this.queryCells];
    for (let t = 0; t < this.tables; t++) {
      if (includeFamilies) out.push(...this.families[t]!.buffers());
      out.push(...this.indexes[t]!.buffers());
    }
    return out;
  }
}

/**
 * Bytes of L bounded bucket indexes for `maxItems` items plus the query-cell scratch (the
 * functions excluded), for budget planning.
 *
 * @param tables - L.
 * @param maxItems - Items per index.
 * @param cells - Cells of the family (bounds the bucket map).
 * @returns The bytes.
 * @example
 * ```ts
 * import { tableIndexBytes } from '@kv/lsh';
 * tableIndexBytes(4, 100, 256);
 * ```
 */
export function tableIndexBytes(tables: number, maxItems: number, cells = Infinity): number {
  return tables * bucketIndexBytes(maxItems, cells) + 4 * tables;
}
