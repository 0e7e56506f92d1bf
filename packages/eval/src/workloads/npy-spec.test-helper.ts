// Builds .npy bytes by following numpy's format specification (numpy/lib/format.py,
// NEP 1): magic "\x93NUMPY", major/minor version, header length (uint16 LE in 1.0, uint32 LE in
// 2.0), an ASCII dict literal padded with spaces and ended by "\n" so the data starts on a
// 64-byte boundary, then the raw little-endian data.
export function npyBytes(options: {
  version: 1 | 2;
  descr: string;
  shape: readonly number[];
  data: Float32Array | Float64Array | Int32Array | Uint16Array;
  fortran?: boolean;
  bigEndian?: boolean;
}): Uint8Array {
  const shape = options.shape.length === 1 ? `(${options.shape[0]},)` : `(${options.shape.join(', ')})`;
  const dict = `{'descr': '${options.descr}', 'fortran_order': ${options.fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  const prefix = options.version === 1 ? 10 : 12;
  let headerLen = dict.length + 1;
  while ((prefix + headerLen) % 64 !== 0) headerLen++;
  const header = dict.padEnd(headerLen - 1, ' ') + '\n';
  const out = new Uint8Array(prefix + headerLen + options.data.byteLength);
  const view = new DataView(out.buffer);
  out.set([0x93, ...'NUMPY'.split('').map((c) => c.charCodeAt(0)), options.version, 0], 0);
  if (options.version === 1) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  const base = prefix + headerLen;
  const width = options.data.BYTES_PER_ELEMENT;
  for (let i = 0; i < options.data.length; i++) {
    const x = options.data[i]!;
    const at = base + i * width;
    if (options.data instanceof Float64Array) view.setFloat64(at, x, !options.bigEndian);
    else if (options.data instanceof Float32Array) view.setFloat32(at, x, !options.bigEndian);
    else if (options.data instanceof Uint16Array) view.setUint16(at, x, !options.bigEndian);
    else view.setInt32(at, x, !options.bigEndian);
  }
  return out;
}
