/**
 * A one-line progress bar on stderr. It draws only on a TTY (or when forced), and only once the
 * run has lasted `delayMs` (default one second), so short runs and pipes stay clean.
 *
 * @example
 * ```ts
 * import { ProgressBar } from '@kv/eval';
 * const bar = new ProgressBar({ label: 'runs' });
 * bar.update(3, 10);
 * bar.done();
 * ```
 */
export class ProgressBar {
  private readonly stream: NodeJS.WriteStream;
  private readonly enabled: boolean;
  private readonly delayMs: number;
  private readonly label: string;
  private readonly started = Date.now();
  private drawn = false;
  private lastDraw = 0;

  /**
   * @param options - `force` draws even when stderr is not a TTY; `delayMs` before the first draw;
   *   `stream` defaults to `process.stderr`.
   */
  constructor(options: { force?: boolean; delayMs?: number; label?: string; stream?: NodeJS.WriteStream } = {}) {
    this.stream = options.stream ?? process.stderr;
    this.enabled = options.force === true || this.stream.isTTY === true;
    this.delayMs = options.delayMs ?? 1000;
    this.label = options.label ?? 'runs';
  }

  /**
   * Redraws the bar.
   * @param done - Finished items.
   * @param total - All items.
   */
  update(done: number, total: number): void {
    const elapsed = Date.now() - this.started;
    if (!this.enabled || elapsed < this.delayMs) return;
    // At most ten redraws a second (pipes and logs would otherwise get one line per job).
    if (done < total && this.drawn && elapsed - this.lastDraw < 100) return;
    this.lastDraw = elapsed;
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const eta = done > 0 ? ((elapsed / done) * (total - done)) / 1000 : NaN;
    const text = `\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${(elapsed / 1000).toFixed(1)}s${Number.isFinite(eta) ? ` eta ${eta.toFixed(1)}s` : ''}`;
    this.stream.write(text);
    this.drawn = true;
  }

  /** Ends the line if anything was drawn. */
  done(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
