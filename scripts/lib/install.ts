// The Install section of every package README, derived from its package.json: the registry
// command (the package and the kv peers to install beside it) and, beside it, the command that
// installs the same from a clone's `packed/` tarballs (every kv package npm would otherwise fetch
// from the registry). A new package gets its section with `pnpm docs:install`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { blocksOf } from './snippets.js';
import { kvClosure, kvDependencies, tarballName, type WorkspacePackage } from './workspace.js';

const START = '<!-- install: written by `pnpm docs:install` from package.json -->';
const END = '<!-- /install -->';

/** The kv packages the code blocks of a README import (its examples should run after Install). */
function importedByExamples(readme: string, all: WorkspacePackage[]): string[] {
  const names = new Set(all.map((p) => p.name));
  const out: string[] = [];
  for (const block of blocksOf('README.md', readme).blocks) {
    for (const m of block.code.matchAll(/from\s+['"](@kv\/[^/'"]+)/g)) if (names.has(m[1]!) && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

// A long command is wrapped with a backslash so it can be pasted into any POSIX shell.
function wrap(words: string[], width = 96): string {
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(`${line} \\`);
      line = `  ${w}`;
    } else line = line ? `${line} ${w}` : w;
  }
  lines.push(line);
  return lines.join('\n');
}

/** The generated part of a package's Install section. */
export function installBlock(pkg: WorkspacePackage, all: WorkspacePackage[], readme: string): string {
  const peers = kvDependencies(pkg, all, ['peerDependencies']);
  const used = importedByExamples(readme, all).filter((n) => n !== pkg.name && !peers.includes(n));
  const names = [pkg.name, ...peers, ...used];
  const tarballs = kvClosure(names, all).map((n) => `../kv/packed/${tarballName(n)}`);
  const notes: string[] = [];
  if (peers.length) notes.push(`${list(peers)} ${peers.length > 1 ? 'are peer dependencies' : 'is a peer dependency'}: install ${peers.length > 1 ? 'them' : 'it'} beside \`${pkg.name}\`.`);
  if (used.length) notes.push(`The example below also uses ${list(used)}.`);
  notes.push(
    'Until the packages are on the registry, the second command installs the tarballs that `pnpm pack:all` writes into ' +
      '`packed/` in a clone of kv (see [getting started](../../docs/getting-started.md#install)).',
  );
  return [
    START,
    '```sh',
    '# from the registry',
    wrap(['npm', 'install', ...names]),
    '# from a clone of kv next to your project',
    wrap(['npm', 'install', ...tarballs]),
    '```',
    '',
    notes.join(' '),
    END,
  ].join('\n');
}

function list(names: string[]): string {
  const q = names.map((n) => `\`${n}\``);
  return q.length > 1 ? `${q.slice(0, -1).join(', ')} and ${q.at(-1)}` : q[0]!;
}

export interface InstallCheck {
  problems: { file: string; line: number; message: string; missingReadme?: boolean }[];
  fixed: string[];
}

/** Checks (or with `fix`, rewrites) the Install section of every package README. */
export function checkInstallSections(packages: WorkspacePackage[], fix: boolean): InstallCheck {
  const problems: InstallCheck['problems'] = [];
  const fixed: string[] = [];
  for (const pkg of packages) {
    const file = join(pkg.dir, 'README.md');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      problems.push({ file, line: 1, message: `${pkg.name} has no README.md`, missingReadme: true });
      continue;
    }
    const expected = installBlock(pkg, packages, text);
    const lines = text.split('\n');
    const heading = lines.findIndex((l) => /^##\s+Install\s*$/.test(l));
    const start = text.indexOf(START);
    const end = text.indexOf(END);
    if (heading >= 0 && start >= 0 && end > start && text.slice(start, end + END.length) === expected) continue;
    if (!fix) {
      const line = heading >= 0 ? heading + 1 : 1;
      const what = heading < 0 ? 'has no "## Install" section' : start < 0 ? 'has an Install section not written from package.json' : 'has an Install section that no longer matches package.json';
      problems.push({ file, line, message: `${pkg.name} ${what}: run \`pnpm docs:install\`` });
      continue;
    }
    let next: string;
    if (start >= 0 && end > start) {
      next = text.slice(0, start) + expected + text.slice(end + END.length);
    } else if (heading >= 0) {
      // Replace the section's first sh block (the old registry-only command) by the generated one.
      const after = lines.slice(heading + 1);
      const open = after.findIndex((l) => /^```(sh|bash|shell)?\s*$/.test(l));
      const nextHeading = after.findIndex((l) => /^#{1,2}\s/.test(l));
      if (open >= 0 && (nextHeading < 0 || open < nextHeading)) {
        const close = after.findIndex((l, i) => i > open && /^```\s*$/.test(l));
        lines.splice(heading + 1 + open, close - open + 1, expected);
      } else {
        lines.splice(heading + 1, 0, '', expected);
      }
      next = lines.join('\n');
    } else {
      // A new section before the first second-level heading.
      const first = lines.findIndex((l, i) => i > 0 && /^##\s/.test(l));
      const at = first >= 0 ? first : lines.length;
      lines.splice(at, 0, '## Install', '', expected, '');
      next = lines.join('\n');
    }
    writeFileSync(file, next);
    fixed.push(pkg.rel);
  }
  return { problems, fixed };
}
