import { Tensor } from '@huggingface/transformers';
import { exactPolicy, PolicyRegistry } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { CompressedSession, type TensorLike } from '../src/index.js';
import { tinyModel, validationBytes } from './helpers.js';

describe('CompressedSession with the exact policy', () => {
  it('gives the logits of one full-cache run over 256 steps to 1e-4', async () => {
    const model = await tinyModel();
    const ids = Array.from(validationBytes(256));
    // One call over all 256 tokens with an empty past: transformers.js's own full attention.
    const empty = (l: number) => ({
      [`past_key_values.${l}.key`]: new Tensor('float32', new Float32Array(0), [1, 3, 0, 64]),
      [`past_key_values.${l}.value`]: new Tensor('float32', new Float32Array(0), [1, 3, 0, 64]),
    });
    const full = await model.forward({
      input_ids: new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, 256]),
      attention_mask: new Tensor('int64', new BigInt64Array(256).fill(1n), [1, 256]),
      position_ids: new Tensor('int64', BigInt64Array.from(ids, (_, i) => BigInt(i)), [1, 256]),
      past_key_values: Object.assign({}, ...[0, 1, 2, 3].map(empty)),
    });
    const want = (full['logits'] as TensorLike).data as Float32Array;
    const s = await CompressedSession.create(model, { policy: { policy: 'exact' }, registry: new PolicyRegistry().register(exactPolicy) });
    let worst = 0;
    for (let i = 0; i < ids.length; i++) {
      const got = await s.step(ids[i]!);
      for (let j = 0; j < 256; j++) worst = Math.max(worst, Math.abs(got[j]! - want[i * 256 + j]!));
      expect(s.pastRows).toBe(i + 1);
    }
    expect(worst).toBeLessThan(1e-4);
    expect(s.position).toBe(256);
  });
});
