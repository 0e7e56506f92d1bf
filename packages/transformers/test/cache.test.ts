import { Tensor } from '@huggingface/transformers';
import { exactPolicy, PolicyRegistry } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { CompressedCache, CompressedSession } from '../src/index.js';
import { tinyModel } from './helpers.js';

const registry = new PolicyRegistry().register(exactPolicy);
const ids = (text: string | number[]) => {
  const a = typeof text === 'string' ? Array.from(new TextEncoder().encode(text)) : text;
  return new Tensor('int64', BigInt64Array.from(a, BigInt), [1, a.length]);
};
// What a tokenizer returns: the ids and an all-ones mask of the same length.
const encoded = (text: string | number[]) => {
  const input_ids = ids(text);
  return { input_ids, attention_mask: new Tensor('int64', new BigInt64Array(input_ids.dims[1]!).fill(1n), input_ids.dims) };
};
const tokensOf = (t: unknown) => Array.from((t as Tensor).data as BigInt64Array, Number);

describe('CompressedCache in transformers.js generate()', () => {
  it('with the exact policy generates what generate() does with its own cache, over two turns', async () => {
    const model = await tinyModel();
    const prompt = 'And God said, Let there be';
    const want = tokensOf(await (model as any).generate({ ...encoded(prompt), max_new_tokens: 24 }));
    const cache = await CompressedCache.create(model, { policy: { policy: 'exact' }, registry });
    const got = tokensOf(await (model as any).generate({ ...encoded(prompt), max_new_tokens: 24, past_key_values: cache }));
    expect(got).toEqual(want);
    // The cache has seen every token but the last generated one, which generate() never feeds.
    expect(cache.get_seq_length()).toBe(want.length - 1);
    // Second turn: the whole conversation goes in again with its mask (as a tokenizer gives it);
    // generate() feeds only the unseen tail.
    const turn2 = [...want, ...new TextEncoder().encode(' and the')];
    const want2 = tokensOf(await (model as any).generate({ ...encoded(turn2), max_new_tokens: 16 }));
    const got2 = tokensOf(await (model as any).generate({ ...encoded(turn2), max_new_tokens: 16, past_key_values: cache }));
    expect(got2).toEqual(want2);
    // And the session agrees with both.
    const s = await CompressedSession.create(model, { policy: { policy: 'exact' }, registry });
    const { tokens } = await s.generate(new TextEncoder().encode(prompt), { maxNewTokens: 24 });
    expect(Array.from(tokens)).toEqual(want.slice(-24));
  });
});
