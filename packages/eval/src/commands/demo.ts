import { parseArgs } from 'node:util';
import { demoConfig } from '../demo.js';
import type { CliCommand } from './command.js';
import { runAndReport } from './run.js';

/**
 * `kv-eval demo`: runs {@link demoConfig} (what the repository's `pnpm demo` calls).
 *
 * @example
 * ```sh
 * kv-eval demo --out /tmp/kv-demo
 * ```
 */
export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'Run the built-in comparison: all policies at 1/4 and 1/8 on gaussian, heavy-hitters and the INDEX hard instance.',
  usage: 'kv-eval demo [--out <dir, default kv-eval-results>] [--workers N|auto] [--progress] [--quiet]',
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: { out: { type: 'string' }, workers: { type: 'string' }, progress: { type: 'boolean' }, quiet: { type: 'boolean' } },
    });
    const workers = values.workers === undefined ? undefined : values.workers === 'auto' ? 'auto' : Number(values.workers);
    return runAndReport(demoConfig, io, {
      ...(values.out !== undefined ? { out: values.out } : {}),
      ...(workers !== undefined && (workers === 'auto' || (Number.isInteger(workers) && workers >= 1)) ? { workers } : {}),
      progress: values.progress === true,
      quiet: values.quiet === true,
    });
  },
};
