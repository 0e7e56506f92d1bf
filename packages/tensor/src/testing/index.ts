export { type TensorConformanceOptions, tensorConformanceChecks } from './conformance.js';
