import { parseArgs } from 'node:util';
import { spaceBounds } from '../bounds.js';
import { ConfigError } from '../errors.js';
import { fmt, fmtBytes } from '../report/format.js';
import type { CliCommand } from './command.js';

function num(name: string, v: string | undefined, fallback?: number): number {
  if (v === undefined) {
    if (fallback === undefined) throw new ConfigError(`--${name} is required`);
    return fallback;
  }
  const x = Number(v);
  if (!Number.isFinite(x)) throw new ConfigError(`--${name} is "${v}", expected a number`);
  return x;
}

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
  usage: 'kv-eval bounds --n <tokens> --d <key dim> [--s <value dim, default d>] --eps <ε[,ε…]> (--r <radius> | --rho <r²τ>) [--tau <τ>] [--json]',
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        n: { type: 'string' },
        d: { type: 'string' },
        s: { type: 'string' },
        eps: { type: 'string' },
        r: { type: 'string' },
        rho: { type: 'string' },
        tau: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
    const n = num('n', values.n);
    const d = num('d', values.d);
    const s = num('s', values.s, d);
    const tau = num('tau', values.tau, 1 / Math.sqrt(d));
    const r = values.r !== undefined ? num('r', values.r) : Math.sqrt(num('rho', values.rho) / tau);
    const epsilons = (values.eps ?? '').split(',').filter(Boolean).map((e) => num('eps', e));
    if (epsilons.length === 0) throw new ConfigError('--eps is required');
    const all = epsilons.map((epsilon) => ({ epsilon, bounds: spaceBounds({ n, d, s, epsilon, r, tau }) }));
    if (values.json) {
      io.stdout(`${JSON.stringify({ n, d, s, r, tau, rho: r * r * tau, results: all }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`);
      return 0;
    }
    const lines = [`Space bounds at n=${n}, d=${d}, s=${s}, r=${fmt(r)}, τ=${fmt(tau)}, ρ=r²τ=${fmt(r * r * tau)} (words are 32-bit; * = constant unverified, taken as 1)`, ''];
    for (const { epsilon, bounds } of all) {
      lines.push(`## ε = ${epsilon}`, '', '| bound | kind | formula | words | bytes | tokens | note |', '| --- | --- | --- | --- | --- | --- | --- |');
      for (const b of bounds) {
        lines.push(
          `| ${b.name}${b.constantVerified ? '' : ' *'} | ${b.kind} | ${b.formula.replace(/\|/g, '\\|')} | ${fmt(b.words)} | ${fmtBytes(b.bytes)} | ${fmt(b.tokens)} | ${b.note}${b.vacuous ? '; above exact' : ''} |`,
        );
      }
      lines.push('');
    }
    io.stdout(lines.join('\n'));
    return 0;
  },
};
