import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PolicyChoice, PolicyRegistry, exactPolicy, SnapshotError, UnknownPolicyError } from '@kv/core';
import { afterAll, describe, expect, it } from 'vitest';
import { randomWeights, repoRoot, sessionTestModelWeights } from '../test/helpers.js';
import { testRegistry } from '../test/policies.js';
import { LlamaModel } from './model.js';
import { LlamaSession } from './session.js';

const model = new LlamaModel(sessionTestModelWeights());
const prompt = Array.from({ length: 40 }, (_, i) => (i * 13 + 5) % 64);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function started(choice: PolicyChoice, sampling = { temperature: 0.9, topK: 20, seed: 4 }): LlamaSession {
  const session = new LlamaSession(model.decoder(model.createCache(choice, { registry: testRegistry(), seed: 2 })), sampling);
  session.feed(prompt);
  session.generate(8);
  return session;
}

describe('LlamaSession save and resume', () => {
  const policies: PolicyChoice[] = [
    { policy: 'exact' },
    { policy: 'sliding-window', budget: 16 },
    { policy: 'h2o', budget: 16 },
    { policy: 'streaming-llm', budget: { fraction: 1 / 4 } },
  ];
  for (const choice of policies) {
    it(`resumes mid-generation with the same next tokens, logits and bytes (${choice.policy}, sampled)`, () => {
      const original = started(choice);
      const saved = original.save();
      const after = Array.from(original.generate(24));
      const resumed = LlamaSession.restore(model, saved, testRegistry());
      expect(resumed.position).toBe(prompt.length + 8);
      expect(Array.from(resumed.generate(24))).toEqual(after);
      expect(Array.from(resumed.decoder.logits)).toEqual(Array.from(original.decoder.logits));
      expect(resumed.decoder.cache.bytes).toBe(original.decoder.cache.bytes);
    });
  }

  it('the sampler state matters: a session restarted with the same seed but not restored diverges', () => {
    // Guards the test above: if the random state were not saved, resumed sampling would restart
    // the stream and give these tokens instead.
    const original = started({ policy: 'exact' });
    const saved = original.save();
    const after = Array.from(original.generate(24));
    const cache = LlamaSession.restore(model, saved).decoder;
    const fresh = new LlamaSession(cache, { temperature: 0.9, topK: 20, seed: 4 });
    expect(Array.from(fresh.generate(24))).not.toEqual(after);
  });

  it('resumes in another process with the same next tokens and logits', () => {
    const original = started({ policy: 'h2o', budget: 16 });
    const dir = mkdtempSync(join(tmpdir(), 'kv-session-'));
    dirs.push(dir);
    const file = join(dir, 'session.kvsnap');
    writeFileSync(file, original.save());
    const after = Array.from(original.generate(16));
    const child = spawnSync(process.execPath, ['--conditions=@kv/source', '--import', 'tsx', join(repoRoot, 'packages/llm/test/resume-child.ts'), file, '16'], {
      encoding: 'utf8',
      cwd: repoRoot,
    });
    expect(child.stderr).toBe('');
    const out = JSON.parse(child.stdout) as { tokens: number[]; logits: number[]; bytes: number };
    expect(out.tokens).toEqual(after);
    expect(out.logits).toEqual(Array.from(original.decoder.logits));
    expect(out.bytes).toBe(original.decoder.cache.bytes);
  });

  it('the file is the cache bytes plus the logits and a small header', () => {
    const s = started({ policy: 'sliding-window', budget: 16 });
    const size = s.save().length;
    const payload = s.decoder.cache.bytes + 4 * model.config.vocabSize;
    expect(size).toBeGreaterThan(payload);
    expect(size - payload).toBeLessThan(8192); // two headers: the session's and the cache's (8 heads)
  });

  it('rejects truncated and corrupted files, other models and missing policies with typed errors', () => {
    const saved = started({ policy: 'h2o', budget: 16 }).save();
    expect(() => LlamaSession.restore(model, saved.subarray(0, saved.length - 9), testRegistry())).toThrow(SnapshotError);
    for (const at of [0, 40, saved.length >> 1, saved.length - 2]) {
      const bad = saved.slice();
      bad[at]! ^= 0x10;
      expect(() => LlamaSession.restore(model, bad, testRegistry()), `byte ${at}`).toThrow(SnapshotError);
    }
    const otherWeights = new LlamaModel(randomWeights({ vocabSize: 64, dim: 32, headDim: 8, nHeads: 4, nKvHeads: 2, hiddenDim: 48 }, 34));
    expect(() => LlamaSession.restore(otherWeights, saved, testRegistry())).toThrow(expect.objectContaining({ fault: 'mismatch' }));
    const otherShape = new LlamaModel(randomWeights({ vocabSize: 64, dim: 32, headDim: 8, nHeads: 4, nKvHeads: 4, hiddenDim: 48 }, 33));
    expect(() => LlamaSession.restore(otherShape, saved, testRegistry())).toThrow(expect.objectContaining({ fault: 'mismatch' }));
    expect(() => LlamaSession.restore(model, saved, new PolicyRegistry().register(exactPolicy))).toThrow(UnknownPolicyError);
  });

  it('refuses to generate before a prompt and rejects bad counts', () => {
    const s = new LlamaSession(model.decoder(model.createCache({ policy: 'exact' })));
    expect(() => s.next()).toThrow(expect.objectContaining({ code: 'KV_INVALID_PARAMS' }));
    s.feed([1]);
    expect(() => s.generate(-1)).toThrow(expect.objectContaining({ code: 'KV_INVALID_PARAMS' }));
    expect(s.generate(3)).toHaveLength(3);
  });
});
