export { ModelFormatError, UnsupportedDtypeError } from './errors.js';
export { readSafetensors, type SafeTensor, type SafetensorsFile, type TensorToWrite, writeSafetensors } from './safetensors.js';
