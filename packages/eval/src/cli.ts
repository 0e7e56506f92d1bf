import { isKvError } from '@kv/core';
import type { CliCommand, CliIO } from './commands/command.js';
import * as table from './commands/index.js';

/**
 * Every `kv-eval` command, from `src/commands/index.ts`, sorted by name.
 *
 * @example
 * ```ts
 * import { cliCommands } from '@kv/eval';
 * cliCommands.map((c) => c.name); // ['bounds', 'demo', 'list', 'run', …]
 * ```
 */
export const cliCommands: readonly CliCommand[] = Object.values(table as Record<string, CliCommand>).sort((a, b) => a.name.localeCompare(b.name));

function help(): string {
  const width = Math.max(...cliCommands.map((c) => c.name.length));
  return [
    'kv-eval: compare KV-cache compression policies on workloads and traces',
    '',
    'Usage: kv-eval <command> [options]   (kv-eval <command> --help for its options)',
    '',
    ...cliCommands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
  ].join('\n');
}

/**
 * Runs the `kv-eval` command line.
 *
 * @param argv - Arguments after the program name.
 * @param io - Output streams (default: the process's).
 * @returns The exit code: 0 on success, 1 on a bad input (typed error, message on stderr), 2 on a bad command.
 * @example
 * ```ts
 * import { main } from '@kv/eval';
 * process.exitCode = await main(['bounds', '--n', '1024', '--d', '64', '--eps', '0.1', '--r', '4']);
 * ```
 */
export async function main(
  argv: readonly string[],
  io: CliIO = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), stderrStream: process.stderr },
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(help());
    return name === undefined ? 2 : 0;
  }
  const command = cliCommands.find((c) => c.name === name);
  if (!command) {
    io.stderr(`kv-eval: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.summary}\n\n${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (isKvError(e) || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      io.stderr(`kv-eval ${name}: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}
