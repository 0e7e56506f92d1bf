export { type ConformanceCheck, type ConformanceOptions, conformanceChecks } from './conformance.js';
export { ConformanceError } from './shared.js';
export { checkByteBudget, checkSnapshotRoundTrip, type RoundTripOptions } from './snapshot-checks.js';
