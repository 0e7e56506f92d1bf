// Compiles and runs the programs of the docs' code blocks (see snippets.ts), and reports every
// error at the markdown line it comes from.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, relative } from 'node:path';
import { programSource, type Program, type ProgramSource } from './snippets.js';
import { publishedPackages, repoRoot } from './workspace.js';

const require = createRequire(import.meta.url);

export interface Failure {
  file: string;
  line: number;
  kind: 'compile' | 'run' | 'output' | 'markup' | 'install';
  message: string;
}

interface Written {
  program: Program;
  path: string;
  source: ProgramSource;
}

/**
 * A folder where `import '@kv/x'` resolves to packages/x (its sources, through the @kv/source
 * condition) and where the third-party packages the kv packages depend on resolve too.
 */
function prepareWorkDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  const linked = new Set<string>();
  const link = (name: string, target: string) => {
    if (linked.has(name) || !existsSync(target)) return;
    mkdirSync(join(dir, 'node_modules', name, '..'), { recursive: true });
    symlinkSync(target, join(dir, 'node_modules', name), 'dir');
    linked.add(name);
  };
  const packages = publishedPackages();
  for (const pkg of packages) link(pkg.name, pkg.dir);
  for (const pkg of packages) {
    const m = pkg.manifest;
    for (const dep of Object.keys({ ...m.dependencies, ...m.peerDependencies, ...m.devDependencies })) {
      link(dep, join(pkg.dir, 'node_modules', dep));
    }
  }
}

function slug(file: string): string {
  return relative(repoRoot, file).replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'doc';
}

/** Rewrites `<dir>/<program>.ts:L:C` (paths and file:// URLs) into `<markdown>:line:C`. */
function mapLocations(text: string, written: Written[]): string {
  let out = text;
  for (const w of written) {
    const name = basename(w.path).replace(/\./g, '\\.');
    const re = new RegExp(`(?:file://)?[^\\s()'"]*${name}:(\\d+)(?::(\\d+))?`, 'g');
    out = out.replace(re, (whole, l: string, c: string | undefined) => {
      const o = w.source.origin[Number(l) - 1];
      return o ? `${relative(repoRoot, o.file)}:${o.line}${c ? `:${c}` : ''}` : whole;
    });
  }
  return out;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(path) : st.mtimeMs);
  }
  return newest;
}

/**
 * Whether every package's build is newer than its sources. Then the programs are type-checked
 * against the built declarations (what a user compiles against, and several times faster than
 * checking every package's sources again); otherwise against the sources.
 */
export function builtTypesAreFresh(): boolean {
  return publishedPackages().every((p) => {
    const dist = join(p.dir, 'dist');
    if (!existsSync(dist) || !existsSync(join(p.dir, 'src'))) return false;
    const declarations = readdirSync(dist).filter((f) => f.endsWith('.d.ts')).map((f) => statSync(join(dist, f)).mtimeMs);
    return declarations.length > 0 && newestMtime(join(p.dir, 'src')) < Math.min(...declarations);
  });
}

function compile(dir: string, written: Written[], useBuild: boolean): Failure[] {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(repoRoot, 'tsconfig.base.json'),
      compilerOptions: {
        noEmit: true, types: ['node'], lib: ['ES2022', 'DOM'], noUnusedLocals: false, allowJs: true, checkJs: false,
        ...(useBuild ? { customConditions: [] } : {}),
      },
      include: written.map((w) => basename(w.path)),
    }),
  );
  const r = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { encoding: 'utf8' });
  const failures: Failure[] = [];
  const byName = new Map(written.map((w) => [basename(w.path), w]));
  for (const line of `${r.stdout}${r.stderr}`.split('\n')) {
    const m = /^(.*?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
    if (!m) continue;
    // Errors inside the packages' own sources are the packages' typecheck's business.
    const w = byName.get(basename(m[1]!));
    if (!w || !m[1]!.includes(basename(dir))) continue;
    const o = w.source.origin[Number(m[2]) - 1];
    if (o) failures.push({ file: o.file, line: o.line, kind: 'compile', message: `${m[4]}: ${m[5]}` });
  }
  if (r.status !== 0 && failures.length === 0 && !/error TS/.test(`${r.stdout}`)) {
    failures.push({ file: written[0]!.program.file, line: 1, kind: 'compile', message: `tsc failed: ${r.stderr || r.stdout}` });
  }
  return failures;
}

function runOne(w: Written, timeoutMs: number): Promise<Failure | undefined> {
  return new Promise((resolveRun) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--conditions=@kv/source', '--import', 'tsx', w.path], {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let stdout = '';
    child.stdout.on('data', (d) => {
      output += d;
      stdout += d;
    });
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const first = w.program.blocks[0]!;
      const seconds = ((Date.now() - t0) / 1000).toFixed(1);
      const promised = w.program.blocks.filter((b) => b.output !== undefined);
      if (code === 0 && promised.length) {
        const clean = (t: string) => t.split('\n').map((l) => l.trimEnd()).join('\n').trim();
        const want = clean(w.program.blocks.map((b) => b.output ?? '').filter((o) => o.trim()).join('\n')).split('\n');
        const got = clean(stdout).split('\n');
        const at = want.findIndex((l, i) => l !== got[i]);
        const diff = at >= 0 ? at : want.length !== got.length ? want.length : -1;
        if (diff >= 0) {
          const block = promised.find((b) => b.output!.split('\n').map((l) => l.trimEnd()).includes(want[diff] ?? '')) ?? promised[0]!;
          resolveRun({
            file: block.file,
            line: block.outputLine!,
            kind: 'output',
            message: `the page says it prints\n      ${want[diff] ?? '(nothing more)'}\n    but it printed\n      ${got[diff] ?? '(nothing more)'}\n    whole output:\n      ${got.join('\n      ')}`,
          });
          return;
        }
      }
      if (code === 0) {
        console.log(`  ran ${relative(repoRoot, first.file)}:${first.line} (${w.program.blocks.length} block${w.program.blocks.length > 1 ? 's' : ''}, ${seconds} s)`);
        resolveRun(undefined);
        return;
      }
      const why = signal ? `killed after ${timeoutMs / 1000} s` : `exit code ${code}`;
      const tail = mapLocations(output.trim(), [w]).split('\n').slice(-15).join('\n    ');
      // The failing line, when the stack names one, is the most useful place to point at.
      const at = /((?:README|[\w./-]+)\.md):(\d+)/.exec(mapLocations(output, [w]));
      const file = at ? join(repoRoot, at[1]!) : first.file;
      resolveRun({ file: existsSync(file) ? file : first.file, line: at && existsSync(file) ? Number(at[2]) : first.line, kind: 'run', message: `${why}:\n    ${tail}` });
    });
  });
}

/**
 * Compiles every program and runs those that compiled and are not fragments (two at a time: the
 * machine has two cores). Programs are written into `dir`, which is recreated.
 */
export async function checkPrograms(programs: Program[], dir: string, opts: { timeoutMs?: number; quiet?: boolean; useBuild?: boolean } = {}): Promise<{ failures: Failure[]; ran: Program[] }> {
  prepareWorkDir(dir);
  const counts = new Map<string, number>();
  const written: Written[] = programs.map((program) => {
    const base = slug(program.file);
    const n = (counts.get(base) ?? 0) + 1;
    counts.set(base, n);
    const path = join(dir, `${base}-${n}.${program.lang === 'ts' ? 'ts' : 'mjs'}`);
    const source = programSource(program);
    writeFileSync(path, source.code);
    return { program, path, source };
  });
  if (written.length === 0) return { failures: [], ran: [] };
  const failures = compile(dir, written, opts.useBuild ?? false);
  const broken = new Set(failures.map((f) => `${f.file}:${f.line}`));
  const runnable = written.filter((w) => w.program.run && !w.program.blocks.some((b) => [...broken].some((k) => k.startsWith(`${b.file}:`) && lineIn(k, b))));
  const queue = [...runnable];
  const log = console.log;
  if (opts.quiet) console.log = () => {};
  try {
    const workers = Array.from({ length: 2 }, async () => {
      for (let w = queue.shift(); w; w = queue.shift()) {
        const f = await runOne(w, opts.timeoutMs ?? 120_000);
        if (f) failures.push(f);
      }
    });
    await Promise.all(workers);
  } finally {
    console.log = log;
  }
  if (readdirSync(dir).length > 0 && !process.env.KV_KEEP_DOCS_CHECK) rmSync(dir, { recursive: true, force: true });
  return { failures: failures.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line), ran: runnable.map((w) => w.program) };
}

function lineIn(key: string, block: { file: string; line: number; code: string }): boolean {
  const line = Number(key.slice(key.lastIndexOf(':') + 1));
  return line >= block.line && line < block.line + block.code.split('\n').length;
}
