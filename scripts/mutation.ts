/**
 * Semantic mutation testing: applies hand-written mutants (source-text replacements that break
 * an algorithm on purpose) one at a time, runs the owning package's tests, and reports which
 * mutants the tests kill and which test killed each. Slow (one test run per mutant), so it runs
 * outside CI: `pnpm test:mutation [--package coreset,lsh] [--mutant id,...] [--json out.json] [--markdown out.md]`.
 * `--render a.json,b.json --markdown out.md` runs nothing: it writes the report of earlier `--json`
 * outcomes (e.g. one run per package), later files overriding earlier ones for the same mutant.
 *
 * Why not Stryker: its TypeScript + vitest runner instruments every expression of a package (thousands
 * of mutants, hours on this machine per package) and does not resolve the workspace's `@kv/source`
 * condition without a custom build; a short list of mutants that each break one stated guarantee
 * tells more about the tests of a theory package.
 *
 * ## Mutant files
 * Each package lists its mutants in `packages/<pkg>/mutants.json`: an array of
 * ```json
 * {
 *   "id": "softmax-balance/random-signs",          // unique within the package
 *   "file": "src/softmax-balance.ts",             // relative to the package
 *   "find": "rng.uniform() < 0.5 - y / (2 * c)",  // exact text; must occur exactly `occurrence` times or once
 *   "replace": "rng.uniform() < 0.5",             // what it becomes
 *   "breaks": "the walk becomes random signs",    // the guarantee this breaks, for the report
 *   "occurrence": 1,                              // optional: which occurrence (1-based) when the text repeats
 *   "tests": ["src/softmax-balance.test.ts"]      // optional: test files to run (default: the package's)
 * }
 * ```
 * A mutant whose `find` text is missing is reported as stale (the source moved on: update the
 * list) and counts as neither killed nor survived. A mutant is killed when a test fails (or the run
 * times out); it survives when every test passes.
 *
 * Files are restored after every mutant, also on Ctrl-C or SIGTERM (the test run's process group is
 * killed first). The original of the file under mutation is also copied to
 * `node_modules/.cache/kv-mutation/` (outside what git tracks): a copy left there means a previous
 * run was killed hard, and the next run restores it first. Do not commit while a run is going.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

interface Mutant {
  readonly id: string;
  readonly file: string;
  readonly find: string;
  readonly replace: string;
  readonly breaks: string;
  readonly occurrence?: number;
  readonly tests?: readonly string[];
}

interface Outcome {
  readonly pkg: string;
  readonly id: string;
  readonly breaks: string;
  readonly status: 'killed' | 'survived' | 'stale' | 'timeout';
  readonly killers: readonly string[];
  readonly seconds: number;
}

const root = resolve(new URL('..', import.meta.url).pathname);
const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const packages = (option('package') ?? 'coreset,lsh,polynomial,hybrid').split(',').filter(Boolean);
const only = option('mutant')?.split(',');
const jsonOut = option('json');
const markdownOut = option('markdown');
const render = option('render')?.split(',');
const timeoutMs = Number(option('timeout') ?? 600) * 1000;

const BACKUPS = join(root, 'node_modules', '.cache', 'kv-mutation');
let active: { path: string; original: string; backup: string } | null = null;
let child: ChildProcess | null = null;

function restore(): void {
  if (!active) return;
  writeFileSync(active.path, active.original);
  if (existsSync(active.backup)) unlinkSync(active.backup);
  active = null;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (child?.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    restore();
    process.exit(130);
  });
}

// A backup is `<name>.json` holding { path, original }; one left behind is restored.
function recoverBackups(): void {
  if (!existsSync(BACKUPS)) return;
  for (const name of readdirSync(BACKUPS)) {
    const { path, original } = JSON.parse(readFileSync(join(BACKUPS, name), 'utf8')) as { path: string; original: string };
    writeFileSync(path, original);
    unlinkSync(join(BACKUPS, name));
    console.log(`restored ${path} from an interrupted run`);
  }
}

function nth(text: string, find: string, occurrence: number): number {
  let at = -1;
  for (let k = 0; k < occurrence; k++) {
    at = text.indexOf(find, at + 1);
    if (at < 0) return -1;
  }
  return at;
}

function count(text: string, find: string): number {
  let n = 0;
  for (let at = text.indexOf(find); at >= 0; at = text.indexOf(find, at + 1)) n++;
  return n;
}

// The JSON report the root vitest config always writes (its reporter option wins over the CLI's).
const REPORT = join(root, '.ci', 'out', 'test-results.json');

// Runs the package's tests in a process group of their own (so a timeout or a signal can stop
// every worker); returns the failing tests' full names from the JSON report.
async function runTests(pkg: string, tests: readonly string[] | undefined): Promise<{ failed: string[]; timedOut: boolean; ok: boolean }> {
  const out = REPORT;
  if (existsSync(out)) rmSync(out);
  let timedOut = false;
  await new Promise<void>((done) => {
    const c = spawn('npx', ['vitest', 'run', '--project', pkg, ...(tests ?? [])], {
      cwd: root,
      stdio: 'ignore',
      detached: true,
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    child = c;
    const timer = setTimeout(() => {
      timedOut = true;
      if (c.pid) process.kill(-c.pid, 'SIGKILL');
    }, timeoutMs);
    c.on('exit', () => {
      clearTimeout(timer);
      child = null;
      done();
    });
  });
  if (!existsSync(out)) return { failed: timedOut ? [] : ['(no report: the test run crashed)'], timedOut, ok: false };
  const report = JSON.parse(readFileSync(out, 'utf8')) as {
    success: boolean;
    testResults: { name: string; message?: string; assertionResults: { fullName: string; status: string }[] }[];
  };
  const failed: string[] = [];
  for (const file of report.testResults) {
    const rel = file.name.replace(`${root}/packages/${pkg}/`, '');
    const bad = file.assertionResults.filter((a) => a.status === 'failed');
    for (const a of bad) failed.push(`${rel} > ${a.fullName}`);
    if (bad.length === 0 && file.message) failed.push(`${rel} (failed to load: ${file.message.split('\n')[0]})`);
  }
  return { failed, timedOut, ok: report.success };
}

// The report: score per package and overall, then every mutant with what it breaks and the first
// test that failed under it.
function markdown(all: readonly Outcome[]): string {
  const cell = (s: string): string => s.replaceAll('|', '\\|');
  const score = (xs: readonly Outcome[]): string => {
    const judged = xs.filter((o) => o.status !== 'stale');
    const killed = judged.filter((o) => o.status !== 'survived').length;
    return `${killed}/${judged.length} killed (${judged.length ? ((100 * killed) / judged.length).toFixed(1) : '–'}%)${xs.length > judged.length ? `, ${xs.length - judged.length} stale` : ''}`;
  };
  const pkgs = [...new Set(all.map((o) => o.pkg))];
  const lines = ['# Mutation score', '', `Overall: ${score(all)}.`, '', '| package | score |', '| --- | --- |'];
  for (const p of pkgs) lines.push(`| @kv/${p} | ${score(all.filter((o) => o.pkg === p))} |`);
  for (const p of pkgs) {
    lines.push('', `## @kv/${p}`, '', '| mutant | breaks | status | killed by (first failing test; + how many more) |', '| --- | --- | --- | --- |');
    for (const o of all.filter((x) => x.pkg === p)) {
      const by = o.killers[0] ? `${cell(o.killers[0])}${o.killers.length > 1 ? ` (+${o.killers.length - 1})` : ''}` : o.status === 'timeout' ? '(timeout)' : '';
      lines.push(`| \`${o.id}\` | ${cell(o.breaks)} | ${o.status} | ${by} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

if (render) {
  const byId = new Map<string, Outcome>();
  for (const file of render) for (const o of JSON.parse(readFileSync(file, 'utf8')) as Outcome[]) byId.set(`${o.pkg}/${o.id}`, o);
  const text = markdown([...byId.values()]);
  if (markdownOut) writeFileSync(markdownOut, text);
  else process.stdout.write(text);
  process.exit(0);
}

const outcomes: Outcome[] = [];
recoverBackups();
mkdirSync(BACKUPS, { recursive: true });
try {
  for (const pkg of packages) {
    const listPath = join(root, 'packages', pkg, 'mutants.json');
    if (!existsSync(listPath)) {
      console.log(`@kv/${pkg}: no mutants.json, skipped`);
      continue;
    }
    const mutants = (JSON.parse(readFileSync(listPath, 'utf8')) as Mutant[]).filter((m) => !only || only.includes(m.id));
    console.log(`@kv/${pkg}: ${mutants.length} mutants`);
    const baseline = await runTests(pkg, undefined);
    if (!baseline.ok) {
      console.log(`@kv/${pkg}: its tests fail without any mutant, skipped:\n  ${baseline.failed.join('\n  ')}`);
      continue;
    }
    for (const m of mutants) {
      const path = join(root, 'packages', pkg, m.file);
      const t0 = Date.now();
      const original = readFileSync(path, 'utf8');
      const occurrence = m.occurrence ?? 1;
      const at = nth(original, m.find, occurrence);
      if (at < 0 || (m.occurrence === undefined && count(original, m.find) !== 1)) {
        outcomes.push({ pkg, id: m.id, breaks: m.breaks, status: 'stale', killers: [], seconds: 0 });
        console.log(`  STALE     ${m.id}: "${m.find.slice(0, 60)}" ${at < 0 ? 'not found' : 'is not unique (set "occurrence")'} in ${m.file}`);
        continue;
      }
      const backup = join(BACKUPS, `${pkg}-${m.id.replace(/[^a-z0-9-]/gi, '_')}.json`);
      writeFileSync(backup, JSON.stringify({ path, original }));
      active = { path, original, backup };
      writeFileSync(path, original.slice(0, at) + m.replace + original.slice(at + m.find.length));
      let result: Awaited<ReturnType<typeof runTests>>;
      try {
        result = await runTests(pkg, m.tests);
      } finally {
        restore();
      }
      const status = result.timedOut ? 'timeout' : result.failed.length > 0 || !result.ok ? 'killed' : 'survived';
      const seconds = (Date.now() - t0) / 1000;
      outcomes.push({ pkg, id: m.id, breaks: m.breaks, status, killers: result.failed, seconds });
      console.log(`  ${status.toUpperCase().padEnd(9)} ${m.id} (${seconds.toFixed(0)} s)${result.failed[0] ? ` by ${result.failed[0]}${result.failed.length > 1 ? ` and ${result.failed.length - 1} more` : ''}` : ''}`);
    }
  }
} finally {
  restore();
}

const judged = outcomes.filter((o) => o.status !== 'stale');
const killed = judged.filter((o) => o.status !== 'survived');
console.log(`\nMutation score: ${killed.length}/${judged.length} killed (${judged.length ? ((100 * killed.length) / judged.length).toFixed(1) : '–'}%)${outcomes.length > judged.length ? `, ${outcomes.length - judged.length} stale` : ''}`);
for (const o of outcomes.filter((x) => x.status === 'survived')) console.log(`  survived: ${o.pkg}/${o.id} — ${o.breaks}`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(outcomes, null, 2));
if (markdownOut) writeFileSync(markdownOut, markdown(outcomes));
process.exit(judged.length > 0 && killed.length < judged.length ? 1 : 0);
