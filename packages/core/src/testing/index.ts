export { type ConformanceCheck, ConformanceError, type ConformanceOptions, conformanceChecks } from './conformance.js';
