// Child process of session.test.ts: rebuilds the test model, resumes the session file given as
// argv[2] and prints the next tokens (argv[3] of them) and the logits after them, as JSON.
import { readFileSync } from 'node:fs';
import { LlamaModel } from '../src/model.js';
import { LlamaSession } from '../src/session.js';
import { sessionTestModelWeights } from './helpers.js';
import { exactPolicy, PolicyRegistry } from '@kv/core';
import { heuristicPolicies } from '@kv/heuristics';

const model = new LlamaModel(sessionTestModelWeights());
const session = LlamaSession.restore(model, new Uint8Array(readFileSync(process.argv[2]!)), new PolicyRegistry().register(exactPolicy, ...heuristicPolicies));
const tokens = Array.from(session.generate(Number(process.argv[3])));
process.stdout.write(JSON.stringify({ tokens, logits: Array.from(session.decoder.logits), bytes: session.decoder.cache.bytes }));
