export { CompressedCache } from './cache.js';
export { CompressedSession, type GenerateOptions, type GenerateResult } from './session.js';
export { type SessionOptions } from './options.js';
export { type RestoreOptions } from './session-file.js';
export { type PolicyKind } from './kinds.js';
export { type SampleOptions } from './sampling.js';
export { type CausalLM, type DecoderShape, decoderShape, type InferenceSessionLike, type TensorLike } from './model.js';
