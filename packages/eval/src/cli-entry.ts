// The `@kv/eval/cli` subpath: the kv-eval command line as a library (the bin runs `main`).
export { closest, editDistance } from './commands/args.js';
export { cliCommands, main, version } from './cli.js';
export type { CliCommand, CliIO } from './commands/command.js';
export { EXIT_BAD_INPUT, EXIT_OK, EXIT_RUNS_FAILED, EXIT_USAGE, reportOutcome, runAndReport, type RunAndReportOptions } from './commands/run.js';
