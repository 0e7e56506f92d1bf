export { ModelFormatError, UnsupportedDtypeError } from './errors.js';
export { type GenerateOptions, type GenerateResult, generate } from './generate.js';
export { type HuggingFaceCheckpoint, huggingFaceConfig, parseHuggingFace, permuteRope, toHuggingFace } from './huggingface.js';
export { type Llama2cOptions, parseLlama2c, writeLlama2c } from './llama2c.js';
export { type EvaluateOptions, evaluateText, evaluateTokens, type ReferenceRun, referenceRun, type TextMetrics, type TokenMetrics } from './metrics.js';
export { type CacheOptions, exactRegistry, LlamaDecoder, LlamaModel } from './model.js';
export { type AttentionErrors, ShadowedCache } from './shadow.js';
export { readSafetensors, type SafeTensor, type SafetensorsFile, type TensorToWrite, writeSafetensors } from './safetensors.js';
export { type LlamaConfig, type LlamaLayerWeights, type LlamaWeights, parameterCount, validateWeights } from './weights.js';
