/** A dense float vector or strided matrix storage: Float32 for stored data, Float64 for accumulators. */
export type FloatArray = Float32Array | Float64Array;
