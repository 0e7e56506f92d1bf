import { Tensor } from '@huggingface/transformers';
import { SnapshotError } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { type CausalLM, CompressedCache, CompressedSession } from '../src/index.js';
import { tinyModel, validationBytes } from './helpers.js';
import { registry } from './lockstep.js';

const prompt = validationBytes(100);
const options = { policy: { policy: 'streaming-llm', params: { sinks: 4 } }, budget: 48, registry, seed: 3 };
const sample = { temperature: 0.9 };

describe('saving and resuming', () => {
  it('a session resumed mid-generation generates the same next tokens', async () => {
    const model = await tinyModel();
    const whole = await CompressedSession.create(model, options);
    const all = (await whole.generate(prompt, { maxNewTokens: 80, sample })).tokens;
    const first = await CompressedSession.create(model, options);
    const head = (await first.generate(prompt, { maxNewTokens: 30, sample })).tokens;
    const saved = first.save();
    // The file is the caches' bytes, the logits and two small headers.
    expect(saved.length).toBeGreaterThan(first.bytes);
    expect(saved.length).toBeLessThan(first.bytes + 4 * 256 + 4096);
    const resumed = await CompressedSession.restore(model, saved, { registry });
    expect(resumed.position).toBe(first.position);
    expect(resumed.bytes).toBe(first.bytes);
    const tail = (await resumed.generate([], { maxNewTokens: 50, sample })).tokens;
    expect([...head, ...tail]).toEqual([...all]);
    // The original goes on identically too (saving changed nothing).
    expect([...(await first.generate([], { maxNewTokens: 50, sample })).tokens]).toEqual([...tail]);
  });

  it('refuses corrupt, truncated and other-model files with SnapshotError', async () => {
    const model = await tinyModel();
    const s = await CompressedSession.create(model, options);
    await s.prefill(prompt);
    const saved = s.save();
    for (const at of [3, 40, saved.length >> 1, saved.length - 2]) {
      const bad = saved.slice();
      bad[at]! ^= 0x10;
      await expect(CompressedSession.restore(model, bad, { registry })).rejects.toThrow(SnapshotError);
    }
    await expect(CompressedSession.restore(model, saved.subarray(0, saved.length - 9), { registry })).rejects.toThrow(SnapshotError);
    const other: CausalLM = { ...model, config: { ...model.config, vocab_size: 512 }, sessions: model.sessions, forward: (x) => model.forward(x) };
    await expect(CompressedSession.restore(other, saved, { registry })).rejects.toThrow(/vocabSize/);
    await expect(CompressedCache.restore(model, saved, { registry })).rejects.toThrow(/kv-transformers-cache/);
  });

  it('a generate() cache resumed between turns gives the same second turn', async () => {
    const model = (await tinyModel()) as CausalLM & { generate(o: object): Promise<Tensor> };
    const turn = (ids: number[]) => ({
      input_ids: new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
    });
    const tokens = (t: Tensor) => Array.from(t.data as BigInt64Array, Number);
    const a = await CompressedCache.create(model, options);
    const one = tokens(await model.generate({ ...turn(Array.from(prompt)), max_new_tokens: 20, past_key_values: a }));
    const b = await CompressedCache.restore(model, a.save(), { registry });
    expect(b.get_seq_length()).toBe(a.get_seq_length());
    const next = [...one, ...new TextEncoder().encode(' then')];
    const viaA = tokens(await model.generate({ ...turn(next), max_new_tokens: 20, past_key_values: a }));
    const viaB = tokens(await model.generate({ ...turn(next), max_new_tokens: 20, past_key_values: b }));
    expect(viaB).toEqual(viaA);
    expect(b.maxPastRows).toBeLessThanOrEqual(48);
  });
});
