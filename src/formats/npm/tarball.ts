// Checks an npm tarball while it streams to the blob store: it must be gzip, a well-formed tar whose entries stay
// inside the package root, within limits of entries and inflated size (cap and compression ratio, counted on
// every inflated byte, tar headers and padding included), with a package.json at its root dir.
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gunzip, type Gunzip, type ZlibOptions } from 'node:zlib';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { invalid, tooLarge } from '../../core/errors.ts';
import { checkInflation, DEFAULT_INFLATION, type InflationLimits } from '../../core/inflation.ts';

export interface TarballLimits extends InflationLimits {
  maxEntries: number;
  maxManifest: number;
}

export const DEFAULT_LIMITS: TarballLimits = { maxEntries: 100_000, maxManifest: 1024 * 1024, ...DEFAULT_INFLATION };

export interface TarballFacts {
  manifest: Record<string, unknown>;
  fileCount: number;
  unpackedSize: number;
}

/** The tar-level checks, fed inflated bytes: `facts` settles once the archive was read to its end. */
function tarChecker(limits: TarballLimits, onFail: () => void) {
  const extract = tar.extract();
  let entries = 0;
  let unpacked = 0;
  let manifestText: string | null = null;
  let root: string | null = null;
  let failure: Error | null = null;
  let fail!: (e: Error) => void;
  const facts = new Promise<TarballFacts>((resolve, reject) => {
    fail = (e: Error) => {
      if (failure) return;
      failure = e;
      reject(e);
      onFail();
      extract.destroy();
    };
    extract.on('error', (e) => fail(invalid(`tarball is not a valid tar archive: ${e.message}`)));
    extract.on('entry', (header, stream, next) => {
      entries += 1;
      if (entries > limits.maxEntries) return fail(tooLarge(`tarball has more than ${limits.maxEntries} entries`));
      const name = header.name.replace(/\\/g, '/');
      const parts = name.split('/');
      if (name.startsWith('/') || parts.includes('..') || /^[A-Za-z]:/.test(name)) {
        return fail(invalid(`tarball entry "${header.name}" points outside the package`));
      }
      if (header.type === 'symlink' || header.type === 'link') {
        const target = (header.linkname ?? '').replace(/\\/g, '/');
        if (target.startsWith('/') || target.split('/').includes('..')) return fail(invalid(`tarball link "${header.name}" points outside the package`));
      }
      const top = parts[0];
      const isManifest = header.type === 'file' && parts.length === 2 && parts[1] === 'package.json' && (root === null || root === top);
      const buf: Buffer[] = [];
      let size = 0;
      // A truncated archive destroys the open entry with the extractor's error, which `extract` reports already;
      // unheard, it would be an uncaught exception that takes the server down.
      stream.on('error', () => {});
      stream.on('data', (data: unknown) => {
        const c = data as Buffer;
        unpacked += c.length;
        if (unpacked > limits.maxUnpacked) return fail(tooLarge(`tarball unpacks to more than ${limits.maxUnpacked} bytes`));
        if (isManifest && manifestText === null) {
          size += c.length;
          if (size > limits.maxManifest) return fail(tooLarge('package.json is too large'));
          buf.push(c);
        }
      });
      stream.on('end', () => {
        if (isManifest && manifestText === null) {
          manifestText = Buffer.concat(buf).toString('utf8');
          root = top;
        }
        next();
      });
    });
    extract.on('finish', () => {
      if (failure) return;
      if (manifestText === null) return fail(invalid('tarball has no package.json in its root folder'));
      let manifest: unknown;
      try {
        manifest = JSON.parse(manifestText);
      } catch {
        return fail(invalid('package.json in the tarball is not valid JSON'));
      }
      if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest)) return fail(invalid('package.json in the tarball is not an object'));
      resolve({ manifest: manifest as Record<string, unknown>, fileCount: entries, unpackedSize: unpacked });
    });
  });
  facts.catch(() => {});
  return { extract, facts, fail, failed: () => failure };
}

/**
 * A pass-through that inspects the bytes flowing through it. `facts` settles once the stream has ended and
 * the archive was read to its end; any problem errors the stream (so the upload is cancelled) with a clear message.
 */
export class TarballInspector extends Transform {
  readonly facts: Promise<TarballFacts>;
  private readonly gunzip: Gunzip;
  private readonly failed: () => Error | null;
  /** Compressed bytes handed to gunzip so far: the ratio is checked against them as the output arrives. */
  private compressed = 0;

  constructor(limits: TarballLimits = DEFAULT_LIMITS) {
    super({ highWaterMark: 1 << 20 });
    this.gunzip = createGunzip();
    const checker = tarChecker(limits, () => this.gunzip.destroy());
    this.facts = checker.facts;
    this.failed = checker.failed;
    this.gunzip.on('error', (e) => checker.fail(invalid(`tarball is not valid gzip: ${e.message}`)));
    let inflated = 0;
    // A bomb is stopped a few megabytes in, not after it inflated to the cap.
    this.gunzip.on('data', (c: Buffer) => {
      inflated += c.length;
      try {
        checkInflation(inflated, this.compressed, limits, 'the tarball');
      } catch (e) {
        checker.fail(e as Error);
      }
    });
    this.gunzip.pipe(checker.extract);
  }

  private get failure(): Error | null {
    return this.failed();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.failure) return cb(this.failure);
    this.push(chunk);
    this.compressed += chunk.length;
    if (this.gunzip.write(chunk)) return cb();
    // A failure destroys gunzip, which then never drains: its close ends the wait too.
    const go = () => {
      this.gunzip.off('drain', go);
      this.gunzip.off('close', go);
      cb(this.failure);
    };
    this.gunzip.on('drain', go);
    this.gunzip.on('close', go);
  }

  override _flush(cb: TransformCallback): void {
    if (this.failure) return cb(this.failure);
    this.gunzip.end();
    // The upload only completes once the archive was read to its end: a truncated tarball fails here.
    this.facts.then(() => cb(), (e) => cb(e));
  }
}

/** Compressed tarballs up to this size are inflated in one call, bounded by WHOLE_INFLATE_MAX. */
const WHOLE_INFLATE_INPUT_MAX = 256 * 1024;
const WHOLE_INFLATE_MAX = 8 * 1024 * 1024;
const gunzipWhole = promisify<Buffer, ZlibOptions, Buffer>(gunzip);

/**
 * The same checks for a tarball already in memory (npm's base64 attachment). A small one is inflated in one call
 * in the thread pool (off the event loop, which publishing keeps busy; output chunks of 1 MiB, so a typical
 * tarball takes one round trip rather than one per 16 KiB); one that inflates past WHOLE_INFLATE_MAX goes through
 * TarballInspector instead.
 */
export async function inspectTarball(bytes: Buffer, limits: TarballLimits = DEFAULT_LIMITS): Promise<TarballFacts> {
  if (bytes.length <= WHOLE_INFLATE_INPUT_MAX) {
    let tarBytes: Buffer | null = null;
    try {
      tarBytes = await gunzipWhole(bytes, { maxOutputLength: WHOLE_INFLATE_MAX, chunkSize: 1 << 20 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw invalid(`tarball is not valid gzip: ${(e as Error).message}`);
    }
    if (tarBytes) {
      checkInflation(tarBytes.length, bytes.length, limits, 'the tarball');
      const checker = tarChecker(limits, () => {});
      checker.extract.end(tarBytes);
      return checker.facts;
    }
  }
  const inspector = new TarballInspector(limits);
  await pipeline(Readable.from([bytes]), inspector, new Writable({ write: (_c, _e, cb) => cb() }));
  return inspector.facts;
}
