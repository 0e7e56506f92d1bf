// The library entry must not load the CLI, and the package's modules must not import each other
// in a circle (the index once re-exported the commands, which imported the reports it exported).
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));

function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)\.js'/g)) out.push(resolve(dirname(file), `${m[1]}.ts`));
  return out;
}

function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    stack.push(...localImports(f));
  }
  return seen;
}

function cycles(entries: string[]): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    path.push(f);
    for (const g of localImports(f)) {
      if (state.get(g) === 'open') found.push(path.slice(path.indexOf(g)).map((x) => relative(src, x)));
      else if (!state.has(g)) visit(g);
    }
    path.pop();
    state.set(f, 'done');
  };
  for (const e of entries) if (!state.has(e)) visit(e);
  return found;
}

describe('module structure', () => {
  it('the library entry reaches no command and not the CLI', () => {
    const files = [...reachable(join(src, 'index.ts'))].map((f) => relative(src, f));
    expect(files.filter((f) => f.startsWith('commands') || f.startsWith('cli'))).toEqual([]);
  });

  it('no import circle, from the library, the CLI or the worker', () => {
    expect(cycles([join(src, 'index.ts'), join(src, 'cli-entry.ts'), join(src, 'bin.ts'), join(src, 'worker.ts')])).toEqual([]);
  });
});
