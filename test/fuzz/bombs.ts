// Compression bombs built cheaply for tests: a gzip of many members (gunzip reads one after another) and a raw
// deflate stream of fully flushed segments, so 1 GiB of zeros costs one 1 MiB compression, not a gigabyte's.
import { constants, crc32, deflateRawSync, gzipSync } from 'node:zlib';

const MiB = 1024 * 1024;

/** A ustar header for a regular file (or `type`) of `size` bytes. */
export function tarHeader(name: string, size: number, type = '0'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A tar file entry: header, content, padding to 512. */
export function tarFile(name: string, body: Buffer | string): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return Buffer.concat([tarHeader(name, b.length), b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
}

/**
 * An npm tarball: package/package.json for `name`@`version`, then package/big holding `zeros` zero bytes, then the
 * end-of-archive blocks; a 1 GiB one is about 1 MB of gzip.
 */
export function npmTarballBomb(name: string, version: string, zeros: number): Buffer {
  const head = gzipSync(Buffer.concat([tarFile('package/package.json', JSON.stringify({ name, version })), tarHeader('package/big', zeros)]));
  const mib = gzipSync(Buffer.alloc(MiB), { level: 9 });
  const parts = [head];
  for (let n = 0; n < Math.floor(zeros / MiB); n++) parts.push(mib);
  parts.push(gzipSync(Buffer.alloc((zeros % MiB) + 1024)));
  return Buffer.concat(parts);
}

/** `head` then `zeros` zero bytes as one raw deflate stream, with its inflated size and CRC-32 (for a zip entry). */
export function deflateBomb(head: Buffer, zeros: number): { packed: Buffer; size: number; crc: number } {
  const flush = { finishFlush: constants.Z_FULL_FLUSH };
  const zeroMiB = Buffer.alloc(MiB);
  const mib = deflateRawSync(zeroMiB, { level: 9, ...flush });
  const parts = [deflateRawSync(head, flush)];
  let crc = crc32(head);
  for (let n = 0; n < Math.floor(zeros / MiB); n++) {
    parts.push(mib);
    crc = crc32(zeroMiB, crc);
  }
  const rest = Buffer.alloc(zeros % MiB);
  parts.push(deflateRawSync(rest)); // the final block
  crc = crc32(rest, crc);
  return { packed: Buffer.concat(parts), size: head.length + zeros, crc };
}
