import { spaceBounds } from '../bounds.js';
import { ConfigError } from '../errors.js';
import { fmt, fmtBytes } from '../report/format.js';
import { parseFlags } from './args.js';
import type { CliCommand } from './command.js';

function num(name: string, v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new ConfigError(`--${name} is "${v}", expected a number`);
  return x;
}

const USAGE = 'kv-eval bounds --n <tokens> --d <key dim> [--s <value dim, default d>] --eps <ε[,ε…]> (--r <radius> | --rho <r²τ>) [--tau <τ, default 1/√d>] [--json]';

/**
 * `kv-eval bounds`: the space each theorem promises and the lower bounds, at (n, d, s, ε, r).
 *
 * @example
 * ```sh
 * kv-eval bounds --n 4096 --d 64 --s 64 --eps 0.1,0.01 --r 8
 * ```
 */
export const boundsCommand: CliCommand = {
  name: 'bounds',
  summary: 'Print the space of each theorem (BalanceKV, Taylor, hybrid) and the lower bounds at (n, d, s, ε, r).',
  usage: USAGE,
  async run(args, io) {
    const { values } = parseFlags('bounds', args, {
      n: { type: 'string' },
      d: { type: 'string' },
      s: { type: 'string' },
      eps: { type: 'string' },
      r: { type: 'string' },
      rho: { type: 'string' },
      tau: { type: 'string' },
      json: { type: 'boolean' },
    });
    const missing = [
      ...(['n', 'd', 'eps'] as const).filter((k) => values[k] === undefined).map((k) => `--${k}`),
      ...(values.r === undefined && values.rho === undefined ? ['--r (or --rho)'] : []),
    ];
    if (missing.length > 0) throw new ConfigError(`missing ${missing.join(', ')}; usage: ${USAGE}`);
    if (values.r !== undefined && values.rho !== undefined) throw new ConfigError('give --r or --rho, not both');
    const n = num('n', values.n!);
    const d = num('d', values.d!);
    const s = values.s !== undefined ? num('s', values.s) : d;
    const tau = values.tau !== undefined ? num('tau', values.tau) : 1 / Math.sqrt(d);
    const r = values.r !== undefined ? num('r', values.r) : Math.sqrt(num('rho', values.rho!) / tau);
    const epsilons = values.eps!.split(',').filter(Boolean).map((e) => num('eps', e));
    if (epsilons.length === 0) throw new ConfigError('--eps is empty; give one or more ε, e.g. --eps 0.1,0.01');
    const all = epsilons.map((epsilon) => ({ epsilon, bounds: spaceBounds({ n, d, s, epsilon, r, tau }) }));
    if (values.json) {
      io.stdout(`${JSON.stringify({ n, d, s, r, tau, rho: r * r * tau, results: all }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`);
      return 0;
    }
    const exactBytes = 4 * n * (d + s);
    const lines = [
      `Space bounds at n=${n}, d=${d}, s=${s}, r=${fmt(r)}, τ=${fmt(tau)}, ρ=r²τ=${fmt(r * r * tau)} (words are 32-bit; * = constant unverified, taken as 1).`,
      `The exact cache holds ${fmtBytes(exactBytes)}; a bound above it is written ×N exact (vacuous at this n: storing every token costs less).`,
      '',
    ];
    for (const { epsilon, bounds } of all) {
      lines.push(`## ε = ${epsilon}`, '', '| bound | kind | formula | words | bytes | tokens | note |', '| --- | --- | --- | --- | --- | --- | --- |');
      for (const b of bounds) {
        const size = b.bytes > exactBytes ? `×${fmt(b.bytes / exactBytes)} exact` : fmtBytes(b.bytes);
        lines.push(`| ${b.name}${b.constantVerified ? '' : ' *'} | ${b.kind} | ${b.formula.replace(/\|/g, '\\|')} | ${fmt(b.words)} | ${size} | ${fmt(b.tokens)} | ${b.note} |`);
      }
      lines.push('');
    }
    io.stdout(lines.join('\n'));
    return 0;
  },
};
