import { existsSync } from 'node:fs';
import { demoConfig, demoSamplePath } from '../demo.js';
import { ConfigError } from '../errors.js';
import { parseFlags } from './args.js';
import type { CliCommand } from './command.js';
import { runAndReport } from './run.js';

/**
 * `kv-eval demo`: runs {@link demoConfig} (what the repository's `pnpm demo` calls) and prints the
 * rankings; the full report goes to the output folder.
 *
 * @example
 * ```sh
 * kv-eval demo --out /tmp/kv-demo
 * ```
 */
export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'Rank every policy at 1/4, 1/8 and 1/16 of the float32 bytes on real attention, then on synthetic families.',
  usage: [
    'kv-eval demo [--out <dir, default kv-eval-results>] [--workers N|auto] [--progress] [--full] [--quiet]',
    '  Runs every registered policy at 1/4, 1/8 and 1/16 of the float32 bytes on the committed',
    '  real-attention sample (data/real-attention), then on gaussian, heavy-hitters and the INDEX hard',
    '  instance; prints the rankings (--full: the whole report) and writes everything to --out.',
    '',
    'Exit status: 0 every run finished; 1 bad input; 3 some runs failed (named on stderr).',
  ].join('\n'),
  async run(args, io) {
    const { values } = parseFlags('demo', args, { out: { type: 'string' }, workers: { type: 'string' }, progress: { type: 'boolean' }, quiet: { type: 'boolean' }, full: { type: 'boolean' } });
    let workers: number | 'auto' | undefined;
    if (values.workers !== undefined) {
      workers = values.workers === 'auto' ? 'auto' : Number(values.workers);
      if (workers !== 'auto' && !(Number.isInteger(workers) && workers >= 1)) throw new ConfigError(`--workers is "${values.workers}", expected "auto" or an integer >= 1`);
    }
    if (!existsSync(demoSamplePath())) io.stderr(`kv-eval demo: the real-attention sample ${demoSamplePath()} is missing (it lives in the repository); running the synthetic families only\n`);
    return runAndReport(demoConfig, io, {
      ...(values.out !== undefined ? { out: values.out } : {}),
      ...(workers !== undefined ? { workers } : {}),
      progress: values.progress === true,
      quiet: values.quiet === true,
      summary: values.full !== true,
    });
  },
};
