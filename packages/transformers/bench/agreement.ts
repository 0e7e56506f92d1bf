// Bits per byte of a CompressedSession on the ONNX tiny model vs @kv/llm on the same weights
// (tinyllama-bytes.bin), on kv-eval llm's default slice (the first 1024 bytes of the validation
// text, every byte streamed, scored from position 0); the figures behind test/agreement.test.ts.
//
//   node --conditions=@kv/source --import tsx bench/agreement.ts   (models from $KV_MODELS or ../shared/models)
import { join } from 'node:path';
import { evaluateText } from '@kv/llm';
import { loadModel } from '@kv/llm/node';
import { modelsDir, tinyModel } from '../test/helpers.js';
import { lockstep, registry, text } from '../test/lockstep.js';

const model = await tinyModel();
const llama = await loadModel(join(modelsDir, 'tinyllama-bytes.bin'));
const full = evaluateText(llama, text, { policy: 'exact' }, { registry });
console.log(`${text.length} bytes; full cache: ${full.bitsPerByte.toFixed(5)} bits/byte (@kv/llm)`);
console.log('policy          budget  session   @kv/llm*  |Δ|        @kv/llm at B+1  first split  logits Δ before');
for (const budget of [64, 128]) {
  for (const choice of [{ policy: 'sliding-window' }, { policy: 'streaming-llm', params: { sinks: 4 } }, { policy: 'knorm' }, { policy: 'keydiff' }]) {
    const r = await lockstep(model, llama, choice, budget, choice.policy === 'sliding-window' || choice.policy === 'streaming-llm');
    console.log(
      `${choice.policy.padEnd(15)} ${String(budget).padStart(6)}  ${r.session.toFixed(5)}  ${r.delayed.toFixed(5)}  ${Math.abs(r.session - r.delayed).toExponential(1).padEnd(9)}  ` +
        `${r.plainNext === 0 ? '—'.padEnd(14) : r.plainNext.toFixed(5).padEnd(14)}  ${String(r.firstSplit < 0 ? 'none' : `step ${r.firstSplit}`).padEnd(11)}  ${r.logitGap.toExponential(1)}`,
    );
  }
}
console.log('* @kv/llm with each head attending as the session does (kept rows before the token, plus the token)');
