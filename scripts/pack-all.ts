// `pnpm pack:all`: builds every package and writes its tarball into packed/ at the repo root, under
// a name without the version (packed/kv-core.tgz), so the from-a-clone install command in the docs
// never changes. `pnpm pack` rewrites `workspace:` ranges to real versions (a plain `npm pack`
// does not, and its tarball fails to install with EUNSUPPORTEDPROTOCOL); this script checks it.
// Usage: node --import tsx scripts/pack-all.ts [--no-build]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packedDir, publishedPackages, repoRoot, tarballName } from './lib/workspace.js';
import { readTarballFile } from './lib/tarball.js';

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) {
    process.stdout.write(r.stdout ?? '');
    throw new Error(`${cmd} ${args.join(' ')} failed in ${relative(repoRoot, cwd) || '.'} (exit ${r.status})`);
  }
}

const build = !process.argv.includes('--no-build');
if (build) {
  console.log('pack:all: building every package (turbo; cached builds are reused)');
  const r = spawnSync('pnpm', ['build', '--output-logs=errors-only'], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const packages = publishedPackages();
rmSync(packedDir, { recursive: true, force: true });
mkdirSync(packedDir, { recursive: true });
const problems: string[] = [];
for (const pkg of packages) {
  // A folder of its own per package, inside packed/ (a rename across file systems would fail).
  const scratch = join(packedDir, `.pack-${tarballName(pkg.name)}`);
  mkdirSync(scratch);
  try {
    run('pnpm', ['pack', '--pack-destination', scratch], pkg.dir);
    const [file] = readdirSync(scratch).filter((f) => f.endsWith('.tgz'));
    if (!file) throw new Error(`pnpm pack wrote no tarball for ${pkg.name}`);
    const target = join(packedDir, tarballName(pkg.name));
    renameSync(join(scratch, file), target);
    const manifest = readTarballFile(target, 'package/package.json');
    if (manifest.includes('"workspace:')) problems.push(`${tarballName(pkg.name)}: package.json still has a workspace: range`);
    console.log(`${relative(repoRoot, target).padEnd(32)} ${pkg.name}@${pkg.manifest.version}  ${(statSync(target).size / 1024).toFixed(0)} KiB`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`pack:all: ${packages.length} tarballs in ${relative(repoRoot, packedDir)}/`);
