import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cliCommands, main } from './cli.js';
import { ProgressBar } from './progress.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-eval-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixture = fileURLToPath(new URL('./test-fixtures/policies.ts', import.meta.url));

function capture(): { io: { stdout: (s: string) => void; stderr: (s: string) => void }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: (s) => void (out += s), stderr: (s) => void (err += s) }, out: () => out, err: () => err };
}

describe('kv-eval CLI', () => {
  it('registers its commands through the command table', () => {
    expect(cliCommands.map((c) => c.name)).toEqual(expect.arrayContaining(['bounds', 'demo', 'list', 'run']));
  });

  it('run writes every output file and prints the markdown table', async () => {
    const c = capture();
    const code = await main(
      ['run', '--registry', fixture, '--name', 'Smoke Test', '--workloads', 'gaussian,index', '--n', '64', '--d', '8', '--budgets', '1/4,1/8', '--workers', '1', '--out', dir],
      c.io,
    );
    expect(code).toBe(0);
    const out = join(dir, 'smoke-test');
    const files = readdirSync(out).sort();
    expect(files).toEqual(
      ['bounds-gaussian.svg', 'bounds-index.svg', 'pareto-gaussian.svg', 'pareto-index.svg', 'report.html', 'results.csv', 'results.json', 'results.md', 'stream-gaussian.svg', 'stream-index.svg'].sort(),
    );
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    expect(c.out()).toBe(md);
    expect(md).toMatch(/\| index \| test-window \| 1\/8 \|/);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: { ok: boolean }[]; bounds: unknown[] };
    // 2 workloads × (exact + 2 policies × 2 budgets)
    expect(json.results.length).toBe(10);
    expect(json.results.every((r) => r.ok)).toBe(true);
    expect(json.bounds.length).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n').length).toBe(11);
    for (const f of files.filter((x) => x.endsWith('.svg'))) expect(readFileSync(join(out, f), 'utf8')).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.match(/<svg/g)?.length).toBe(6);
    expect(html).not.toMatch(/<script|src="http/);
    expect(c.err()).toMatch(/10 runs \(0 failed\)/);
  });

  it('run reads a YAML config', async () => {
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, 'name: yaml-run\npolicies: [exact, test-uniform]\nbudgets: [16]\nworkloads:\n  - {family: outlier-channels, n: 48, d: 8}\nseeds: [0, 1]\n');
    const c = capture();
    expect(await main(['run', cfg, '--registry', fixture, '--out', dir, '--workers', '1', '--quiet'], c.io)).toBe(0);
    expect(c.out()).toBe('');
    const json = JSON.parse(readFileSync(join(dir, 'yaml-run', 'results.json'), 'utf8')) as { results: { seed: number }[] };
    expect(json.results.map((r) => r.seed)).toEqual([0, 0, 1, 1]);
  });

  it('list and bounds print, help works, bad input exits non-zero with a message', async () => {
    const l = capture();
    expect(await main(['list', '--registry', fixture], l.io)).toBe(0);
    expect(l.out()).toMatch(/\*\*test-window\*\* \(budget: required\)/);
    expect(l.out()).toMatch(/\*\*index\*\*/);
    const lj = capture();
    expect(await main(['list', '--json'], lj.io)).toBe(0);
    expect((JSON.parse(lj.out()) as { policies: { name: string }[] }).policies.map((p) => p.name)).toContain('exact');
    const b = capture();
    expect(await main(['bounds', '--n', '1000', '--d', '16', '--s', '8', '--eps', '0.1,0.01', '--rho', '1'], b.io)).toBe(0);
    expect(b.out()).toMatch(/## ε = 0.01/);
    expect(b.out()).toMatch(/\| Taylor moments \| upper \|.*\| 43605 \|/); // C(20,4)·9 at ε = 0.1
    const h = capture();
    expect(await main(['--help'], h.io)).toBe(0);
    expect(h.out()).toMatch(/bounds/);
    const bad = capture();
    expect(await main(['nope'], bad.io)).toBe(2);
    expect(bad.err()).toMatch(/unknown command "nope"/);
    const badBudget = capture();
    expect(await main(['run', '--registry', fixture, '--budgets', '3/2', '--out', dir], badBudget.io)).toBe(1);
    expect(badBudget.err()).toMatch(/budgets\[0\]/);
    const badFlag = capture();
    expect(await main(['bounds', '--n', '10', '--d', '4', '--eps', 'x', '--r', '1'], badFlag.io)).toBe(1);
    expect(await main(['bounds', '--bogus'], capture().io)).toBe(1);
    expect(existsSync(join(dir, 'kv-eval'))).toBe(false);
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
