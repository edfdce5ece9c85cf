// Reads a .gem while it streams to the blob store. A .gem is an uncompressed tar holding metadata.gz (the
// gemspec as gzipped YAML), data.tar.gz (the files) and checksums.yaml.gz (their SHA256/SHA512), plus .sig
// files when signed. Every entry is bounded (count, sizes, inflated sizes; data.tar.gz by the configured cap and
// compression ratio, counted on every byte gunzip gives out), data.tar.gz is read to its end
// (no absolute or '..' paths, no links leaving the gem), and the declared checksums must match.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { parseDocument } from 'yaml';
import { invalid, tooLarge } from '../../core/errors.ts';
import { checkInflation, DEFAULT_INFLATION, type InflationLimits } from '../../core/inflation.ts';
import { parseGemspec, type GemSpec } from './gemspec.ts';

/** `maxUnpacked` and `maxRatio` bound what data.tar.gz inflates to. */
export interface GemLimits extends InflationLimits {
  /** Bytes of metadata.gz, compressed and inflated. */
  maxMetadata: number;
  /** Entries in data.tar.gz. */
  maxDataEntries: number;
}

export const DEFAULT_GEM_LIMITS: GemLimits = { maxMetadata: 4 * 1024 * 1024, maxDataEntries: 100_000, ...DEFAULT_INFLATION };

export interface GemFacts {
  spec: GemSpec;
  /** Files in data.tar.gz, and their inflated size. */
  fileCount: number;
  unpackedSize: number;
  /** The algorithms of checksums.yaml.gz that were verified (empty for an old gem without it). */
  verified: string[];
}

const KNOWN = new Set(['metadata.gz', 'data.tar.gz', 'checksums.yaml.gz']);
const isKnown = (name: string) => KNOWN.has(name) || (name.endsWith('.sig') && KNOWN.has(name.slice(0, -4)));
/** A tar entry's body, as tar-stream hands it over. */
type EntryStream = { on(event: string, listener: (...args: any[]) => void): unknown; pause(): unknown; resume(): unknown };

const ALGORITHMS: Record<string, string> = { SHA256: 'sha256', SHA512: 'sha512', SHA1: 'sha1' };

/** Checks one path inside data.tar.gz: relative, no '..', no drive letters. */
function checkDataPath(name: string, what: string) {
  const n = name.replace(/\\/g, '/');
  if (n.startsWith('/') || /^[A-Za-z]:/.test(n) || n.split('/').includes('..')) throw invalid(`data.tar.gz: ${what} "${name}" points outside the gem`);
}

/** A pass-through that reads the gem flowing through it; `facts` settles once the archive was read to its end. */
export class GemInspector extends Transform {
  readonly facts: Promise<GemFacts>;
  private readonly outer: tar.Extract;
  private failure: Error | null = null;

  constructor(limits: GemLimits = DEFAULT_GEM_LIMITS) {
    super({ highWaterMark: 1 << 20 });
    const outer = tar.extract();
    this.outer = outer;
    const seen = new Set<string>();
    const digests = new Map<string, Record<string, string>>();
    let metadata: Buffer | null = null;
    let checksums: Buffer | null = null;
    let fileCount = 0;
    let unpacked = 0;

    this.facts = new Promise<GemFacts>((resolve, reject) => {
      const fail = (e: Error) => {
        if (this.failure) return;
        this.failure = e;
        reject(e);
        outer.destroy();
      };

      /** Reads data.tar.gz through gunzip and a tar reader; calls `done` once it was read to its end. */
      const readData = (entry: EntryStream, hashes: Hash[], done: () => void) => {
        const gunzip = createGunzip();
        const inner = tar.extract();
        gunzip.on('error', (e) => fail(invalid(`data.tar.gz is not valid gzip: ${e.message}`)));
        inner.on('error', (e) => fail(invalid(`data.tar.gz is not a valid tar archive: ${e.message}`)));
        inner.on('entry', (header, stream, next) => {
          try {
            fileCount += 1;
            if (fileCount > limits.maxDataEntries) throw tooLarge(`data.tar.gz has more than ${limits.maxDataEntries} entries`);
            checkDataPath(header.name, 'entry');
            if (header.type === 'symlink' || header.type === 'link') checkDataPath(header.linkname ?? '', `link ${header.name} →`);
            else if (header.type !== 'file' && header.type !== 'directory') throw invalid(`data.tar.gz: entry "${header.name}" is a ${header.type}, not a file`);
          } catch (e) {
            return fail(e as Error);
          }
          stream.on('error', () => {}); // a truncated tar destroys its open entry: `inner` reports it
          stream.on('data', (c: unknown) => {
            unpacked += (c as Buffer).length;
            if (unpacked > limits.maxUnpacked) fail(tooLarge(`data.tar.gz inflates to more than ${limits.maxUnpacked} bytes`));
          });
          stream.on('end', () => next());
        });
        // Done once both the entry was read to its end and the inner tar was read to its end. Bytes after the
        // gzip member (which RubyGems ignores too) are hashed but not inflated: zlib takes no more input then.
        let entryEnded = false;
        let innerDone = false;
        let gzEnded = false;
        const maybeDone = () => {
          if (entryEnded && innerDone && !this.failure) done();
        };
        inner.on('finish', () => {
          innerDone = true;
          maybeDone();
        });
        const stopInflating = () => {
          gzEnded = true;
          entry.resume();
        };
        gunzip.on('end', stopInflating);
        gunzip.on('close', stopInflating);
        let compressed = 0;
        let inflated = 0;
        gunzip.on('data', (c: Buffer) => {
          inflated += c.length;
          try {
            checkInflation(inflated, compressed, limits, 'data.tar.gz');
          } catch (e) {
            fail(e as Error);
            gunzip.destroy();
          }
        });
        gunzip.pipe(inner);
        entry.on('error', () => {}); // a truncated .gem destroys its open entry: `outer` reports it
        entry.on('data', (c: Buffer) => {
          for (const h of hashes) h.update(c);
          if (gzEnded || this.failure) return;
          compressed += c.length;
          if (!gunzip.write(c)) {
            entry.pause();
            gunzip.once('drain', () => entry.resume());
          }
        });
        entry.on('end', () => {
          entryEnded = true;
          if (!gzEnded) gunzip.end();
          maybeDone();
        });
      };

      outer.on('error', (e) => fail(invalid(`not a valid .gem: the archive is not a readable tar (${e.message})`)));
      outer.on('entry', (header, entry, next) => {
        const name = header.name;
        if (!isKnown(name)) return fail(invalid(`not a valid .gem: unexpected entry "${name.slice(0, 200)}" (a .gem holds metadata.gz, data.tar.gz and checksums.yaml.gz)`));
        if (seen.has(name)) return fail(invalid(`not a valid .gem: "${name}" appears twice`));
        if (header.type !== 'file') return fail(invalid(`not a valid .gem: "${name}" is not a file`));
        seen.add(name);
        const hashes = new Map(Object.values(ALGORITHMS).map((a) => [a, createHash(a)]));
        const finish = () => {
          digests.set(name, Object.fromEntries([...hashes].map(([a, h]) => [a, h.digest('hex')])));
          next();
        };
        if (name === 'data.tar.gz') return readData(entry, [...hashes.values()], finish);
        // metadata.gz, checksums.yaml.gz and signatures are small: bounded in memory.
        const max = name === 'metadata.gz' ? limits.maxMetadata : 1024 * 1024;
        const parts: Buffer[] = [];
        let size = 0;
        entry.on('error', () => {}); // as above
        entry.on('data', (data: unknown) => {
          const c = data as Buffer;
          size += c.length;
          if (size > max) return fail(tooLarge(`${name} is larger than ${max} bytes`));
          for (const h of hashes.values()) h.update(c);
          parts.push(c);
        });
        entry.on('end', () => {
          if (this.failure) return;
          if (name === 'metadata.gz') metadata = Buffer.concat(parts);
          if (name === 'checksums.yaml.gz') checksums = Buffer.concat(parts);
          finish();
        });
      });
      outer.on('finish', () => {
        if (this.failure) return;
        try {
          if (!metadata) throw invalid('not a valid .gem: metadata.gz is missing');
          if (!seen.has('data.tar.gz')) throw invalid('not a valid .gem: data.tar.gz is missing');
          const verified = checksums ? verifyChecksums(checksums, digests) : [];
          const spec = parseGemspec(inflate(metadata, 'metadata.gz', limits.maxMetadata).toString('utf8'));
          resolve({ spec, fileCount, unpackedSize: unpacked, verified });
        } catch (e) {
          fail(e as Error);
        }
      });
    });
    this.facts.catch(() => {});
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.failure) return cb(this.failure);
    this.push(chunk);
    if (this.outer.write(chunk)) return cb();
    // A failure destroys the reader, which then never drains: its close ends the wait too.
    const go = () => {
      this.outer.off('drain', go);
      this.outer.off('close', go);
      cb(this.failure);
    };
    this.outer.on('drain', go);
    this.outer.on('close', go);
  }

  override _flush(cb: TransformCallback): void {
    if (this.failure) return cb(this.failure);
    (this.outer as unknown as { end(): void }).end();
    // The upload completes only once the whole gem was read and checked: a truncated gem fails here.
    this.facts.then(() => cb(), (e) => cb(e));
  }
}

function inflate(gz: Buffer, what: string, max: number): Buffer {
  try {
    return gunzipSync(gz, { maxOutputLength: max });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw tooLarge(`${what} inflates to more than ${max} bytes`);
    throw invalid(`${what} is not valid gzip`);
  }
}

/** checksums.yaml.gz: `ALGO: { file: hex }`. Every listed digest of a present file must match; returns the algorithms checked. */
function verifyChecksums(gz: Buffer, digests: Map<string, Record<string, string>>): string[] {
  const doc = parseDocument(inflate(gz, 'checksums.yaml.gz', 1024 * 1024).toString('utf8'), { schema: 'failsafe', prettyErrors: false });
  if (doc.errors.length || doc.warnings.length) throw invalid('checksums.yaml.gz is not valid YAML');
  const sums = doc.toJS({ maxAliasCount: 10 }) as unknown;
  if (!sums || typeof sums !== 'object' || Array.isArray(sums)) throw invalid('checksums.yaml.gz is not a mapping');
  const checked: string[] = [];
  for (const [algo, files] of Object.entries(sums as Record<string, unknown>)) {
    const a = ALGORITHMS[algo];
    if (!a) continue; // an algorithm we do not compute is not a reason to refuse
    if (!files || typeof files !== 'object') throw invalid(`checksums.yaml.gz: ${algo} is not a mapping`);
    for (const [file, want] of Object.entries(files as Record<string, unknown>)) {
      const got = digests.get(file)?.[a];
      if (!got) throw invalid(`checksums.yaml.gz lists ${file}, which the gem does not contain`);
      if (typeof want !== 'string' || want.toLowerCase() !== got) throw invalid(`checksum mismatch: ${algo} of ${file} is ${got}, not the declared ${String(want)}`);
    }
    checked.push(algo);
  }
  return checked;
}
