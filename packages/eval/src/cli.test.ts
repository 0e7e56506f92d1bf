import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cliCommands, main, version } from './cli.js';
import { closest } from './commands/args.js';
import { ProgressBar } from './progress.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-eval-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixture = fileURLToPath(new URL('./test-fixtures/policies.ts', import.meta.url));
const breaking = join(dir, 'breaking-registry.mjs');
writeFileSync(
  breaking,
  `import { createRegistry as base } from ${JSON.stringify(fixture)};
export function createRegistry() {
  return base().register({ name: 'test-broken', summary: 'always fails', params: [], budget: 'optional', create: () => { throw new RangeError('cannot build'); } });
}
`,
);

function capture(): { io: { stdout: (s: string) => void; stderr: (s: string) => void }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: (s) => void (out += s), stderr: (s) => void (err += s) }, out: () => out, err: () => err };
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = capture();
  const code = await main(args, c.io);
  return { code, out: c.out(), err: c.err() };
}

describe('kv-eval CLI', () => {
  it('registers its commands through the command table', () => {
    expect(cliCommands.map((c) => c.name)).toEqual(['bounds', 'demo', 'list', 'llm', 'run']);
  });

  it('run writes every output file; the report opens with the rankings, every row follows', async () => {
    const r = await run(['run', '--registry', fixture, '--name', 'Smoke Test', '--workloads', 'gaussian,index', '--n', '64', '--d', '8', '--budgets', '1/4,1/8', '--workers', '1', '--out', dir]);
    expect(r.code).toBe(0);
    const out = join(dir, 'smoke-test');
    const files = readdirSync(out).sort();
    expect(files).toEqual(
      ['bounds-gaussian.svg', 'bounds-index.svg', 'heads.csv', 'pareto-gaussian.svg', 'pareto-index.svg', 'report.html', 'results.csv', 'results.json', 'results.md', 'stream-gaussian.svg', 'stream-index.svg'].sort(),
    );
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    // stdout is the report without the plot links.
    expect(r.out).toBe(md.replace(/!\[[^\]]*\]\([^)]*\)\n\n/g, ''));
    const ranking = md.indexOf('### gaussian at 1/4');
    expect(ranking).toBeGreaterThan(0);
    expect(md.indexOf('## Every run')).toBeGreaterThan(ranking);
    expect(md).toMatch(/\| [12] \| test-window \| [\d.e-]+ \| [\d.e-]+ – [\d.e-]+ \| [\d.]+ (B|KiB) \| (0\.9\d\d|1\.00)× \|/);
    expect(md).toMatch(/!\[Error vs memory on gaussian\]\(pareto-gaussian.svg\)/);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: { ok: boolean }[]; bounds: unknown[] };
    // 2 workloads × (exact + 2 policies × 2 budgets)
    expect(json.results.length).toBe(10);
    expect(json.results.every((x) => x.ok)).toBe(true);
    expect(json.bounds.length).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n').length).toBe(11);
    for (const f of files.filter((x) => x.endsWith('.svg'))) expect(readFileSync(join(out, f), 'utf8')).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.match(/<svg/g)?.length).toBe(6);
    expect(html.indexOf('<svg')).toBeLessThan(html.indexOf('<h2>Every run</h2>'));
    expect(html).not.toMatch(/<script|src="http/);
    expect(r.err).toMatch(/10 runs \(0 failed\) in \d+\.\d s/);
    // one run time: the report's and stderr's
    const seconds = /in (\d+\.\d) s on/.exec(md)![1];
    expect(r.err).toContain(`in ${seconds} s;`);
  });

  it('run reads a YAML config', async () => {
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, 'name: yaml-run\npolicies: [exact, test-uniform]\nbudgets: [16]\nworkloads:\n  - {family: outlier-channels, n: 48, d: 8}\nseeds: [0, 1]\n');
    const r = await run(['run', cfg, '--registry', fixture, '--out', dir, '--workers', '1', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    const json = JSON.parse(readFileSync(join(dir, 'yaml-run', 'results.json'), 'utf8')) as { results: { seed: number }[] };
    expect(json.results.map((x) => x.seed)).toEqual([0, 0, 1, 1]);
  });

  it('run exits 3 when a run failed, names it on stderr, and lists it apart in the report', async () => {
    const r = await run(['run', '--registry', breaking, '--name', 'with-failure', '--policies', 'test-window,test-broken', '--workloads', 'gaussian', '--n', '64', '--d', '4', '--budgets', '1/4', '--workers', '1', '--out', dir, '--quiet']);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/2 runs \(1 failed\)/);
    expect(r.err).toMatch(/failed runs:\n {2}gaussian · test-broken @ 1\/4 \(seed 0\): RangeError: cannot build \(creating head h0\)/);
    const md = readFileSync(join(dir, 'with-failure', 'results.md'), 'utf8');
    expect(md).toMatch(/Failed at 1\/4: test-broken/);
    const failed = md.slice(md.indexOf('## Failed runs'));
    expect(failed).toMatch(/\| gaussian \| test-broken \| 1\/4 \| 0 \| .*cannot build/);
    // never inside a number column of the tables of every run
    const everyRun = md.slice(md.indexOf('## Every run'), md.indexOf('## Failed runs'));
    expect(everyRun).not.toMatch(/test-broken|cannot build/);
    const csv = readFileSync(join(dir, 'with-failure', 'results.csv'), 'utf8').trim().split('\n');
    const row = csv.find((l) => l.includes('test-broken'))!;
    expect(row).toMatch(/,false,.*cannot build.*,(,){10}/);
  });

  it('list and bounds print, help and version work', async () => {
    const l = await run(['list', '--registry', fixture]);
    expect(l.code).toBe(0);
    expect(l.out).toMatch(/\*\*test-window\*\* \(budget: required\)/);
    expect(l.out).toMatch(/\*\*index\*\*/);
    expect(l.out).toMatch(/\*\*model\*\*/);
    const b = await run(['bounds', '--n', '1000', '--d', '16', '--s', '8', '--eps', '0.1,0.01', '--rho', '1']);
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/## ε = 0.01/);
    // C(20,4)·9 words at ε = 0.1 = 43605 words = 170 KiB > the exact 93.8 KiB: written ×N exact.
    expect(b.out).toMatch(/\| Taylor moments \| upper \|.*\| 43605 \| ×1\.82 exact \|/);
    expect(b.out).toMatch(/a bound above it is written ×N exact/);
    expect(b.out).not.toMatch(/e\+\d+ B/);
    const h = await run(['--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/bounds/);
    expect(h.out).toMatch(/Exit status/);
    const v = await run(['--version']);
    expect(v).toEqual({ code: 0, out: `${version}\n`, err: '' });
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('run --help documents the config file: every field, its type and default', async () => {
    const h = await run(['run', '--help']);
    expect(h.code).toBe(0);
    for (const field of ['name', 'policies', 'exclude', 'params', 'precision', 'budgets', 'workloads', 'seeds', 'queries', 'workers']) expect(h.out).toMatch(new RegExp(`\\n {2}${field} +\\S`));
    expect(h.out).toMatch(/a bare "gaussian" is \{family: gaussian, n: 512, d: 64, s: 64, rho: 4\}/);
    expect(h.out).toMatch(/default \["1\/4", "1\/8"\]/);
    expect(h.out).toMatch(/model: the attention of a Llama model/);
    expect(h.out).toMatch(/Exit status: 0 every run finished; 1 bad input \(nothing ran\); 3 some runs failed/);
  });

  it('bad input gets one line on stderr, never a stack trace', async () => {
    const cases: [string[], number, RegExp][] = [
      [['nope'], 2, /unknown command "nope"/],
      [['rnu'], 2, /unknown command "rnu"; did you mean "run"\?/],
      [['run', '--polcies', 'exact'], 1, /^kv-eval run: unknown flag --polcies; did you mean --policies\? \(kv-eval run --help lists them\)\n$/],
      [['run', '--budgets'], 1, /^kv-eval run: --budgets needs a value/],
      [['bounds', '--bogus'], 1, /^kv-eval bounds: unknown flag --bogus \(kv-eval bounds --help lists them\)\n$/],
      [['bounds'], 1, /^kv-eval bounds: missing --n, --d, --eps, --r \(or --rho\); usage: kv-eval bounds --n/],
      [['bounds', '--n', '10', '--d', '4', '--eps', '0.1'], 1, /^kv-eval bounds: missing --r \(or --rho\)/],
      [['bounds', '--n', '10', '--d', '4', '--eps', 'x', '--r', '1'], 1, /--eps is "x", expected a number/],
      [['list', 'extra'], 1, /unexpected argument "extra"/],
      [['run', '--registry', fixture, '--budgets', '3/2', '--out', dir], 1, /budgets\[0\]/],
      [['run', '--registry', join(dir, 'missing.mjs'), '--out', dir], 1, /^kv-eval run: --registry .*missing\.mjs: cannot load the module \(no such file\)\n$/],
      [['run', join(dir, 'no-such.yaml')], 1, /^kv-eval run: cannot read .*no-such\.yaml/],
      [['demo', '--workers', 'x'], 1, /--workers is "x"/],
      [['llm', '--bogus'], 1, /unknown flag --bogus/],
    ];
    for (const [args, code, message] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.err, args.join(' ')).toMatch(message);
      expect(r.err, args.join(' ')).not.toMatch(/\n\s+at /);
    }
    const yaml = join(dir, 'bad.yaml');
    writeFileSync(yaml, 'budgets: "1/4"\n');
    const b = await run(['run', yaml, '--registry', fixture, '--out', dir]);
    expect(b).toMatchObject({ code: 1, err: 'kv-eval run: budgets is "1/4", expected a non-empty list of budgets, each "1/4", "25%" or 0.25 (a fraction of the float32 bytes seen), "64 KiB" or {bytes: 65536} (bytes per head), an integer or {tokens: 64} (tokens), {fraction: 0.25} or {ratio: 0.25} (of the tokens seen)\n' });
    writeFileSync(yaml, 'exclude: exact\n');
    expect((await run(['run', yaml, '--registry', fixture, '--out', dir])).err).toBe('kv-eval run: exclude is "exact", expected a list of policy names\n');
    const trace = join(dir, 'null-heads');
    mkdirSync(trace, { recursive: true });
    writeFileSync(join(trace, 'manifest.json'), JSON.stringify({ format: 'kv-trace/1', heads: [null] }));
    writeFileSync(yaml, `workloads: [{family: npy, path: ${trace}}]\n`);
    const nullHeads = await run(['run', yaml, '--registry', fixture, '--out', dir]);
    expect(nullHeads.code).toBe(1);
    expect(nullHeads.err).toMatch(/^kv-eval run: .*manifest\.json: heads\[0\] is null, expected \{layer, head, q, k, v\}\n$/);
    expect(existsSync(join(dir, 'kv-eval'))).toBe(false);
  });

  it('did-you-mean suggests only close names', () => {
    expect(closest('polcies', ['policies', 'exclude'])).toBe('policies');
    expect(closest('wrkers', ['workers', 'out'])).toBe('workers');
    expect(closest('zzz', ['policies', 'exclude'])).toBeUndefined();
  });

  it('progress bar draws only when forced or on a TTY, after its delay', () => {
    let text = '';
    const stream = { isTTY: false, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
    const quiet = new ProgressBar({ stream, delayMs: 0 });
    quiet.update(1, 2);
    quiet.done();
    expect(text).toBe('');
    const late = new ProgressBar({ stream, delayMs: 60_000, force: true });
    late.update(1, 2);
    expect(text).toBe('');
    const forced = new ProgressBar({ stream, delayMs: 0, force: true });
    forced.update(1, 2);
    forced.done();
    expect(text).toMatch(/^\rruns \[#{15}\.{15}\] 1\/2 .*\n$/);
  });
});
