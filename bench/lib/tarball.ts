// npm package tarballs for the benchmark: deterministic (the same name and version always give the same bytes,
// so Wharf and Verdaccio serve identical content) and incompressible (random-looking padding, so ~17 KB on the wire).
import { createCipheriv, createHash } from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tar from 'tar-stream';

/** npm pins every tar entry to this mtime (1985-10-26T08:15:00Z); so do we. */
const NPM_EPOCH = new Date('1985-10-26T08:15:00.000Z');

export interface Tarball {
  bytes: Buffer;
  integrity: string; // sha512-<base64>
  shasum: string; // sha1 hex
}

export interface Digests {
  integrity: string;
  shasum: string;
  length: number;
}

/** A keystream seeded by `seed`: AES-128-CTR over zeros, fast and incompressible. */
function keystream(seed: string) {
  const key = createHash('sha256').update(`wharf-bench:${seed}`).digest();
  return createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
}

export function pseudoRandom(seed: string, size: number): Buffer {
  return keystream(seed).update(Buffer.alloc(size));
}

/** `extra`: more package.json fields (dependencies, for a project whose packages depend on each other). */
export function manifestOf(name: string, version: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    version,
    description: `Benchmark package ${name}`,
    main: 'index.js',
    license: 'MIT',
    ...extra,
  };
}

export function digestsOf(bytes: Buffer): Omit<Tarball, 'bytes'> {
  return {
    integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
    shasum: createHash('sha1').update(bytes).digest('hex'),
  };
}

/** A real .tgz with package/package.json, package/index.js and `paddingBytes` of incompressible padding. */
export async function makeTarball(name: string, version: string, paddingBytes = 17_000, extra: Record<string, unknown> = {}): Promise<Tarball> {
  const pack = tar.pack();
  const entry = (file: string, content: Buffer) =>
    new Promise<void>((resolve, reject) =>
      pack.entry({ name: `package/${file}`, size: content.length, mtime: NPM_EPOCH, mode: 0o644 }, content, (err) => (err ? reject(err) : resolve())),
    );
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  await entry('package.json', Buffer.from(JSON.stringify(manifestOf(name, version, extra), null, 2) + '\n'));
  await entry('index.js', Buffer.from(`module.exports = ${JSON.stringify(`${name}@${version}`)};\n`));
  await entry('padding.bin', pseudoRandom(`${name}@${version}`, paddingBytes));
  pack.finalize();
  await ended;
  const bytes = zlib.gzipSync(Buffer.concat(chunks), { level: 6 });
  return { bytes, ...digestsOf(bytes) };
}

/**
 * Writes a big .tgz (package.json plus `paddingBytes` of incompressible padding) to `file` as a stream, hashing
 * on the way: never holds the tarball in memory.
 */
export async function writeBigTarball(file: string, name: string, version: string, paddingBytes: number): Promise<Digests> {
  const pack = tar.pack();
  const sha512 = createHash('sha512');
  const sha1 = createHash('sha1');
  let length = 0;
  const gzip = zlib.createGzip({ level: 1 });
  gzip.on('data', (c: Buffer) => {
    sha512.update(c);
    sha1.update(c);
    length += c.length;
  });
  const written = pipeline(pack, gzip, fs.createWriteStream(file));

  const pj = Buffer.from(JSON.stringify(manifestOf(name, version), null, 2) + '\n');
  await new Promise<void>((resolve, reject) =>
    pack.entry({ name: 'package/package.json', size: pj.length, mtime: NPM_EPOCH, mode: 0o644 }, pj, (err) => (err ? reject(err) : resolve())),
  );
  const sink = pack.entry({ name: 'package/padding.bin', size: paddingBytes, mtime: NPM_EPOCH, mode: 0o644 });
  const ks = keystream(`${name}@${version}`);
  const CHUNK = 1 << 20;
  const zeros = Buffer.alloc(CHUNK);
  async function* padding() {
    for (let left = paddingBytes; left > 0; left -= CHUNK) yield ks.update(left >= CHUNK ? zeros : zeros.subarray(0, left));
  }
  await pipeline(Readable.from(padding()), sink);
  pack.finalize();
  await written;
  return { integrity: `sha512-${sha512.digest('base64')}`, shasum: sha1.digest('hex'), length };
}
