/**
 * Where a command writes; tests pass buffers, the bin passes the process streams.
 *
 * @example
 * ```ts
 * import type { CliIO } from '@kv/eval/cli';
 * const io: CliIO = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), stderrStream: process.stderr };
 * ```
 */
export interface CliIO {
  /** Writes to standard output. */
  readonly stdout: (text: string) => void;
  /** Writes to standard error. */
  readonly stderr: (text: string) => void;
  /** The stream progress bars draw on (its `isTTY` decides whether they draw). */
  readonly stderrStream?: NodeJS.WriteStream;
}

/**
 * One `kv-eval` subcommand. A module in `src/commands/` exports one, and `src/commands/index.ts`
 * re-exports it: that line is all it takes to register a command.
 *
 * @example
 * ```ts
 * import type { CliCommand } from '@kv/eval/cli';
 * export const helloCommand: CliCommand = {
 *   name: 'hello', summary: 'Says hello.', usage: 'kv-eval hello',
 *   run: async (_args, io) => { io.stdout('hello\n'); return 0; },
 * };
 * ```
 */
export interface CliCommand {
  /** Subcommand name (`run`). */
  readonly name: string;
  /** One line for `kv-eval --help`. */
  readonly summary: string;
  /** Usage text for `kv-eval <name> --help`. */
  readonly usage: string;
  /**
   * Runs the command.
   * @param args - Arguments after the subcommand name.
   * @param io - Output streams.
   * @returns The exit code.
   */
  run(args: readonly string[], io: CliIO): Promise<number>;
}
