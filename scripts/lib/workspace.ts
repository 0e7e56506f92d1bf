// The workspace as the scripts see it, discovered from the folders (never a hard-coded list):
// every publishable package under packages/, its public entry points and its kv dependencies.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder above scripts/). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Where `pnpm pack:all` writes the tarballs. */
export const packedDir = join(repoRoot, 'packed');

export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  bin?: string | Record<string, string>;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export interface WorkspacePackage {
  /** `@kv/core` */
  name: string;
  /** Absolute folder. */
  dir: string;
  /** Folder relative to the root, e.g. `packages/core`. */
  rel: string;
  manifest: Manifest;
  /** Public entry points: the `exports` subpaths with a `@kv/source` file (`.` → `src/index.ts`). */
  entries: { subpath: string; source: string }[];
}

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

function entriesOf(dir: string, manifest: Manifest): { subpath: string; source: string }[] {
  const out: { subpath: string; source: string }[] = [];
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    const source = typeof target === 'object' && target ? (target as Record<string, unknown>)['@kv/source'] : undefined;
    if (typeof source === 'string') out.push({ subpath, source: join(dir, source) });
  }
  if (out.length === 0 && existsSync(join(dir, 'src/index.ts'))) out.push({ subpath: '.', source: join(dir, 'src/index.ts') });
  return out;
}

function packagesUnder(group: string): WorkspacePackage[] {
  const base = join(repoRoot, group);
  if (!existsSync(base)) return [];
  return readdirSync(base, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(base, e.name, 'package.json')))
    .map((e) => {
      const dir = join(base, e.name);
      const manifest = readManifest(dir);
      return { name: manifest.name, dir, rel: `${group}/${e.name}`, manifest, entries: entriesOf(dir, manifest) };
    })
    .sort((a, b) => a.rel.localeCompare(b.rel));
}

/** Every publishable (non-private) package under packages/. */
export function publishedPackages(): WorkspacePackage[] {
  return packagesUnder('packages').filter((p) => !p.manifest.private);
}

/** Every example package under examples/. */
export function examplePackages(): WorkspacePackage[] {
  return packagesUnder('examples');
}

/** The tarball file name `pnpm pack:all` gives a package: `@kv/core` → `kv-core.tgz`. */
export function tarballName(name: string): string {
  return `${name.replace(/^@/, '').replace(/\//g, '-')}.tgz`;
}

/** The kv packages a package names as dependencies or non-optional peers. */
export function kvDependencies(pkg: WorkspacePackage, all: WorkspacePackage[], kinds: ('dependencies' | 'peerDependencies')[] = ['dependencies', 'peerDependencies']): string[] {
  const names = new Set(all.map((p) => p.name));
  const optional = pkg.manifest.peerDependenciesMeta ?? {};
  const out: string[] = [];
  for (const kind of kinds) {
    for (const dep of Object.keys(pkg.manifest[kind] ?? {})) {
      if (!names.has(dep) || out.includes(dep)) continue;
      if (kind === 'peerDependencies' && optional[dep]?.optional) continue;
      out.push(dep);
    }
  }
  return out;
}

/**
 * Everything npm needs, from tarballs, to install `names`: the packages themselves, their kv
 * dependencies and non-optional kv peers, transitively (in discovery order, the named ones first).
 */
export function kvClosure(names: string[], all: WorkspacePackage[]): string[] {
  const byName = new Map(all.map((p) => [p.name, p]));
  const out: string[] = [];
  const visit = (name: string) => {
    if (out.includes(name)) return;
    const pkg = byName.get(name);
    if (!pkg) throw new Error(`${name} is not a package of this workspace`);
    out.push(name);
    for (const dep of kvDependencies(pkg, all)) visit(dep);
  };
  for (const n of names) visit(n);
  return out;
}
