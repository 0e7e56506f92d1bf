import { join } from 'node:path';
import type { PolicyChoice } from '@kv/core';
import { evaluateText, type LlamaModel } from '@kv/llm';
import { loadModel } from '@kv/llm/node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CausalLM } from '../src/index.js';
import { modelsDir, tinyModel } from './helpers.js';
import { type Lockstep, lockstep, registry, text } from './lockstep.js';

const window: PolicyChoice = { policy: 'sliding-window' };
const streaming: PolicyChoice = { policy: 'streaming-llm', params: { sinks: 4 } };
const knorm: PolicyChoice = { policy: 'knorm' };
const keydiff: PolicyChoice = { policy: 'keydiff' };
// Logits of the two engines differ by float32 rounding, accumulated over 1023 steps: up to about
// 1e-5 of their range (|logits| reach 24 on this model).
const LOGITS = 5e-4;

describe('two engines, one answer: a session on the ONNX model and @kv/llm on the .bin', () => {
  let model: CausalLM;
  let llama: LlamaModel;
  const windowAt64: Lockstep[] = [];
  beforeAll(async () => {
    model = await tinyModel();
    llama = await loadModel(join(modelsDir, 'tinyllama-bytes.bin'));
  });

  for (const budget of [64, 128]) {
    for (const choice of [window, streaming]) {
      it(`${choice.policy} at ${budget} tokens: bits per byte equal to 1e-3, attended rows identical, past never above ${budget} rows`, async () => {
        const r = await lockstep(model, llama, choice, budget, budget === 64);
        expect(r.firstSplit).toBe(-1);
        expect(Math.abs(r.session - r.delayed)).toBeLessThan(1e-3);
        expect(r.logitGap).toBeLessThan(LOGITS);
        expect(r.largest).toBe(budget);
        // Position-decided policies: the session at B attends what plain @kv/llm attends at B + 1.
        if (budget === 64) expect(Math.abs(r.plainNext - r.delayed)).toBeLessThan(1e-6);
        if (budget === 64 && choice === window) windowAt64.push(r);
      });
    }
    // K-norm compares norms at float16's 10 significand bits (ties evict the oldest), so norms that
    // differ only by the engines' float32 rounding tie in both and the choices agree.
    it(`knorm at ${budget} tokens: bits per byte equal to 1e-3, attended rows identical, past never above ${budget} rows`, async () => {
      const r = await lockstep(model, llama, knorm, budget);
      expect(r.firstSplit, `choices split at step ${r.firstSplit}, key norms ${r.splitGap} apart`).toBe(-1);
      expect(Math.abs(r.session - r.delayed)).toBeLessThan(1e-3);
      expect(r.logitGap).toBeLessThan(LOGITS);
      expect(r.largest).toBe(budget);
    });
  }

  it('keydiff at 64 tokens: bits per byte equal to 1e-3, attended rows identical, past never above 64 rows', async () => {
    const r = await lockstep(model, llama, keydiff, 64);
    expect(r.firstSplit).toBe(-1);
    expect(Math.abs(r.session - r.delayed)).toBeLessThan(1e-3);
    expect(r.logitGap).toBeLessThan(LOGITS);
    expect(r.largest).toBe(64);
  });

  it("the bits per byte of these runs are evaluateText's", () => {
    const m = evaluateText(llama, text, window, { registry, budget: 65 });
    expect(windowAt64).toHaveLength(1);
    expect(Math.abs(windowAt64[0]!.plainNext - m.bitsPerByte)).toBeLessThan(1e-9);
  });
});
