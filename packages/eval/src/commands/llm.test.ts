import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@kv/core';
import { type LlamaWeights, writeLlama2c } from '@kv/llm';
import { afterAll, describe, expect, it } from 'vitest';
import { llmCommand } from './llm.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-eval-llm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixture = fileURLToPath(new URL('../test-fixtures/policies.ts', import.meta.url));

// A small random byte-level model (GQA: 4 query heads on 2 KV heads), so the command runs without
// the shared model.
function randomByteModel(): LlamaWeights {
  const rng = new Rng(3);
  const dim = 16;
  const hidden = 24;
  const headDim = 4;
  const rand = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => rng.gaussian() * s);
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
  const tokenEmbedding = rand(256 * dim, 1);
  return {
    config: { dim, hiddenDim: hidden, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim, vocabSize: 256, seqLen: 128, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: true },
    tokenEmbedding,
    layers: Array.from({ length: 2 }, () => ({
      rmsAtt: ones(dim),
      wq: rand(dim * dim, 0.5),
      wk: rand(2 * headDim * dim, 0.5),
      wv: rand(2 * headDim * dim, 0.5),
      wo: rand(dim * dim, 0.3),
      rmsFfn: ones(dim),
      w1: rand(hidden * dim, 0.3),
      w2: rand(dim * hidden, 0.3),
      w3: rand(hidden * dim, 0.3),
    })),
    rmsFinal: ones(dim),
    wcls: tokenEmbedding,
  };
}

const modelPath = join(dir, 'tiny.bin');
writeFileSync(modelPath, writeLlama2c(randomByteModel()));
const textPath = join(dir, 'text.txt');
writeFileSync(textPath, 'In the beginning God created the heaven and the earth. And the earth was without form.');

function capture(): { io: { stdout: (s: string) => void; stderr: (s: string) => void }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: (s) => void (out += s), stderr: (s) => void (err += s) }, out: () => out, err: () => err };
}

describe('kv-eval llm', () => {
  it('one policy at one budget prints bits/byte, KL, agreement, memory and a sample', async () => {
    const c = capture();
    const code = await llmCommand.run(['--model', modelPath, '--text', textPath, '--registry', fixture, '--policy', 'exact', '--generate', '12', '--prompt', 'In the'], c.io);
    expect(code).toBe(0);
    const out = c.out();
    expect(out).toMatch(/bits\/byte\s+\d+\.\d{4} \(full cache \d+\.\d{4}, Δ 0\.0000\)/);
    expect(out).toMatch(/KL vs full cache\s+mean 0 nats, max 0 nats over 85 positions/);
    expect(out).toMatch(/top-1 agreement\s+100\.00%/);
    expect(out).toMatch(/cache memory/);
    expect(out).toMatch(/sample {2}\(greedy, 12 bytes after the prompt\)\nIn the⟨[^]{12,}⟩/);
  });

  it('several policies and budgets write the same report files as kv-eval run, plus the model table', async () => {
    const c = capture();
    const code = await llmCommand.run(
      ['--model', modelPath, '--text', textPath, '--registry', fixture, '--policy', 'exact,test-window', '--budget', '1/2,1/4', '--bytes', '48', '--name', 'LLM Compare', '--out', dir, '--quiet'],
      c.io,
    );
    expect(code).toBe(0);
    expect(c.out()).toBe('');
    const out = join(dir, 'llm-compare');
    const files = readdirSync(out);
    for (const f of ['results.md', 'results.json', 'results.csv', 'report.html']) expect(files).toContain(f);
    expect(files.filter((f) => f.endsWith('.svg'))).toHaveLength(3);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      results: { ok: boolean; label: string; budget: string; relative: { max: number | string }; bytes: number }[];
      llm: { label: string; budget: string; meanKl: number; top1Agreement: number; cacheBytes: number; referenceCacheBytes: number }[];
    };
    // exact once (no budget) + test-window at two budgets.
    expect(json.results.map((r) => `${r.label}@${r.budget}`)).toEqual(['exact@full', 'test-window@1/2', 'test-window@1/4']);
    expect(json.results.every((r) => r.ok)).toBe(true);
    expect(json.results[0]!.relative.max).toBe(0);
    expect(Number(json.results[2]!.relative.max)).toBeGreaterThan(0);
    expect(json.llm[0]!.meanKl).toBe(0);
    expect(json.llm[0]!.top1Agreement).toBe(1);
    expect(json.llm[2]!.meanKl).toBeGreaterThan(0);
    expect(json.llm[2]!.cacheBytes).toBeLessThan(json.llm[2]!.referenceCacheBytes);
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    expect(md).toMatch(/## Inside the language model/);
    expect(md).toMatch(/\| test-window \| 1\/4 \| \d+\.\d{4} \|/);
    expect(readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(4);
    expect(c.err()).toMatch(/3 runs \(0 failed\)/);
  });

  it('a budgeted policy with a prefill scores from the end of the prompt and loses some agreement', async () => {
    const c = capture();
    const code = await llmCommand.run(['--model', modelPath, '--text', textPath, '--registry', fixture, '--policy', 'test-window', '--budget', '8', '--prefill', '20', '--generate', '0'], c.io);
    expect(code).toBe(0);
    expect(c.out()).toMatch(/policy {2}test-window at budget 8 tok \(8\), prefill 20/);
    expect(c.out()).toMatch(/over 66 positions/);
    expect(c.out()).not.toMatch(/sample/);
    const kl = Number(/mean (\S+) nats/.exec(c.out())![1]);
    expect(kl).toBeGreaterThan(0);
  });

  it('says where to put a model when there is none', async () => {
    const c = capture();
    expect(await llmCommand.run(['--model', join(dir, 'missing.bin')], c.io)).toBe(1);
    expect(c.err()).toMatch(/shared\/models/);
    expect(c.err()).toMatch(/KV_MODEL/);
  });
});
