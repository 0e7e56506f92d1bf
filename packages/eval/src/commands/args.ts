import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../errors.js';

/**
 * Edit distance between two strings (insertions, deletions, substitutions, transpositions).
 * @param a - First string.
 * @param b - Second string.
 * @returns The distance.
 * @example
 * ```ts
 * import { editDistance } from '@kv/eval/cli';
 * editDistance('polcies', 'policies'); // 1
 * ```
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The closest candidate to a mistyped word, if any is close enough to be what was meant.
 * @param word - What was typed.
 * @param candidates - What exists.
 * @returns The suggestion, or undefined.
 * @example
 * ```ts
 * import { closest } from '@kv/eval/cli';
 * closest('rnu', ['run', 'list']); // "run"
 * ```
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word, c);
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** The values parseArgs returns for a set of flags. */
export type FlagValues<T extends Options> = {
  [K in keyof T]?: T[K] extends { type: 'boolean' } ? boolean : T[K] extends { multiple: true } ? string[] : string;
};

/**
 * `node:util`'s parseArgs with one-line errors: an unknown flag names the closest known one
 * ("did you mean"), a flag missing its value and an unexpected argument say so plainly.
 *
 * @param command - The command, for messages (`run`).
 * @param args - The arguments after the command.
 * @param options - The flags.
 * @param allowPositionals - Whether positional arguments are accepted.
 * @returns The parsed values and positionals.
 * @throws {@link ConfigError} on a bad flag.
 */
export function parseFlags<T extends Options>(command: string, args: readonly string[], options: T, allowPositionals = false): { values: FlagValues<T>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: [...args], options, allowPositionals, strict: true });
    return { values: parsed.values as FlagValues<T>, positionals: parsed.positionals };
  } catch (e) {
    const code = (e as { code?: string }).code;
    const message = (e as Error).message;
    const help = `(kv-eval ${command} --help lists them)`;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const flag = /'(-{1,2}[^']+)'/.exec(message)?.[1] ?? message;
      const suggestion = closest(flag.replace(/^-+/, '').split('=')[0]!, Object.keys(options));
      throw new ConfigError(`unknown flag ${flag}${suggestion ? `; did you mean --${suggestion}?` : ''} ${help}`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const flag = /'(--[a-z-]+)/.exec(message)?.[1];
      throw new ConfigError(flag ? `${flag} needs a value ${help}` : `${message} ${help}`);
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const arg = /'([^']*)'/.exec(message)?.[1] ?? '';
      throw new ConfigError(`unexpected argument "${arg}" ${help}`);
    }
    throw e;
  }
}
