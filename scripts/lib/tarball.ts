// Reads files out of a package tarball (.tgz) without unpacking it: gunzip, then walk the
// 512-byte ustar headers.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** Every file of a tarball, by its path inside it (`package/package.json`). */
export function tarballFiles(path: string): Map<string, Buffer> {
  const tar = gunzipSync(readFileSync(path));
  const files = new Map<string, Buffer>();
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, length: number) => header.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    if (type === '0' || type === '') files.set(name, Buffer.from(tar.subarray(offset + 512, offset + 512 + size)));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** One file of a tarball as text; throws if it is not there. */
export function readTarballFile(path: string, file: string): string {
  const content = tarballFiles(path).get(file);
  if (!content) throw new Error(`${path} has no ${file}`);
  return content.toString('utf8');
}
