import { createRequire } from 'node:module';
import { isKvError } from '@kv/core';
import { closest } from './commands/args.js';
import type { CliCommand, CliIO } from './commands/command.js';
import * as table from './commands/index.js';
import { EXIT_BAD_INPUT, EXIT_USAGE } from './commands/run.js';

/**
 * Every `kv-eval` command, from `src/commands/index.ts`, sorted by name.
 *
 * @example
 * ```ts
 * import { cliCommands } from '@kv/eval/cli';
 * cliCommands.map((c) => c.name); // ['bounds', 'demo', 'list', 'llm', 'run']
 * ```
 */
export const cliCommands: readonly CliCommand[] = Object.values(table as Record<string, CliCommand>).sort((a, b) => a.name.localeCompare(b.name));

/**
 * The version of `@kv/eval` (from its package.json, which sits one folder above `src/` and `dist/`).
 *
 * @example
 * ```ts
 * import { version } from '@kv/eval/cli';
 * console.log(version); // "0.1.0"
 * ```
 */
export const version: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

function help(): string {
  const width = Math.max(...cliCommands.map((c) => c.name.length));
  return [
    `kv-eval ${version}: compare KV-cache compression policies at equal memory on real attention, synthetic workloads and traces`,
    '',
    'Usage: kv-eval <command> [options]   (kv-eval <command> --help for its options)',
    '       kv-eval --version',
    '',
    ...cliCommands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Exit status: 0 success; 1 bad input (one line on stderr); 2 unknown command; 3 some runs failed.',
    '',
  ].join('\n');
}

/**
 * Runs the `kv-eval` command line. Bad input of any kind ends with one line on stderr, never a
 * stack trace (set `KV_DEBUG=1` to see the stack of an unexpected error).
 *
 * @param argv - Arguments after the program name.
 * @param io - Output streams (default: the process's).
 * @returns The exit code: 0 on success, 1 on a bad input, 2 on an unknown command, 3 when some
 *   runs of an evaluation failed, 70 on an internal error.
 * @example
 * ```ts
 * import { main } from '@kv/eval/cli';
 * process.exitCode = await main(['bounds', '--n', '1024', '--d', '64', '--eps', '0.1', '--r', '4']);
 * ```
 */
export async function main(
  argv: readonly string[],
  io: CliIO = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), stderrStream: process.stderr },
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === '-V' || name === 'version') {
    io.stdout(`${version}\n`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(help());
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = cliCommands.find((c) => c.name === name);
  if (!command) {
    const suggestion = closest(name.replace(/^-+/, ''), cliCommands.map((c) => c.name));
    io.stderr(`kv-eval: unknown command "${name}"${suggestion ? `; did you mean "${suggestion}"?` : ''}\n\n${help()}`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.summary}\n\n${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (isKvError(e)) {
      io.stderr(`kv-eval ${name}: ${(e as Error).message}\n`);
      return EXIT_BAD_INPUT;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.stderr(`kv-eval ${name}: internal error: ${err.name}: ${err.message.split('\n')[0]}${process.env['KV_DEBUG'] ? `\n${err.stack ?? ''}` : ' (set KV_DEBUG=1 for the stack trace)'}\n`);
    return 70;
  }
}
