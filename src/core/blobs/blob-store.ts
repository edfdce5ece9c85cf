// The content-addressed blob store every format writes through: content is named by its sha256.
import type { Readable } from 'node:stream';
import { isWharfError } from '../errors.ts';
import { recordBlobOp, type BlobOutcome } from '../stats.ts';

export type ExtraDigest = 'sha1' | 'sha512' | 'md5';

/** What hashing some content found: enough to verify it against a digest declared beforehand. */
export interface Hashed {
  /** `sha256:<hex>` */
  readonly digest: string;
  readonly size: number;
  /** Hex digests of the extra algorithms asked for. */
  readonly extra: Partial<Record<ExtraDigest, string>>;
}

export interface StagedBlob extends Hashed {
  /** Makes the content durable under its digest (atomic rename). Idempotent. */
  commit(): Promise<void>;
  /** Drops the staged content. Safe to call twice, and after commit (then it does nothing). */
  cancel(): Promise<void>;
}

export interface PutOptions {
  /** Fail with TooLarge past this many bytes, while streaming. */
  maxSize?: number;
  extraDigests?: ExtraDigest[];
  /**
   * Called once every byte is hashed, before the content is made durable (fsync, upload): a reader of the same
   * bytes (a proxy's first client) can be answered then. At the latest when put() resolves.
   */
  hashed?: (h: Hashed) => void;
}

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

export interface BlobStore {
  /** Streams `source` to a temp file while hashing it and fsyncs it; commit() makes it visible. */
  put(source: Readable, options?: PutOptions): Promise<StagedBlob>;
  /** put() for content already in memory (manifests, small tarballs): the same guarantees, fewer round trips. */
  putBytes(bytes: Buffer, options?: PutOptions): Promise<StagedBlob>;
  /** Opens stored content; throws NotFound when absent. */
  open(digest: string, range?: ByteRange): Promise<Readable>;
  /** Size of stored content, or null. */
  stat(digest: string): Promise<{ size: number } | null>;
  /** Removes stored content (garbage collection only). */
  remove(digest: string): Promise<void>;
  /** A local path for zero-copy sends, when the driver has one. */
  localPath?(digest: string): string;
  /** The content's path relative to the store's folder (`sha256/ab/<hex>`), for a web server sharing that folder (X-Accel-Redirect). */
  relativePath?(digest: string): string;
  /**
   * A URL anyone holding it may GET the content from, for `expiresIn` seconds (S3 presigned): the response
   * carries `contentType` and `contentDisposition` as given, whatever the object was stored with.
   */
  presignGet?(digest: string, opts: { expiresIn: number; contentType?: string; contentDisposition?: string }): Promise<string>;

  // Resumable uploads (OCI chunked uploads): content appended in order under an upload id, then finished
  // into a staged blob. The bytes survive a restart; any node sharing the store can resume.
  /** Appends `source` at `offset`, which must equal the bytes received so far; returns the new size. */
  appendUpload(id: string, source: Readable, offset: number, maxSize: number): Promise<number>;
  /** Bytes received so far, or null for an unknown upload. */
  uploadSize(id: string): Promise<number | null>;
  /** Hashes and fsyncs the upload and stages it as a blob (commit() renames it into place). */
  finishUpload(id: string, options?: { extraDigests?: ExtraDigest[] }): Promise<StagedBlob>;
  removeUpload(id: string): Promise<void>;
  /** Every upload with its last change, for cleaning up abandoned ones. */
  listUploads(): Promise<{ id: string; modifiedMs: number }[]>;
  /** Every committed digest with its modification time (for garbage collection). */
  listBlobs(): AsyncIterable<{ digest: string; modifiedMs: number }>;
  /**
   * Temp files last written before `beforeMs` (content a process was receiving when it died): removed unless
   * `dryRun`; what they held either way.
   */
  sweepTemp(beforeMs: number, dryRun: boolean): Promise<{ files: number; bytes: number }>;
  /** Throws unless the store can be reached and written (readiness, GET /readyz); cheap and quick. */
  check?(timeoutMs?: number): Promise<void>;
}

/** The operations counted by instrumentBlobStore (and `commit` of what they stage). */
const COUNTED = new Set(['put', 'putBytes', 'open', 'stat', 'remove', 'appendUpload', 'uploadSize', 'finishUpload', 'removeUpload', 'listUploads', 'listBlobs', 'sweepTemp', 'check']);
const STAGING = new Set(['put', 'putBytes', 'finishUpload']);

function outcomeOf(e: unknown): BlobOutcome {
  // NotFound is an answer, not a failure; other typed errors are content refused (too large, bad offset).
  return isWharfError(e) ? (e.kind === 'NotFound' ? 'not_found' : 'rejected') : 'error';
}

/**
 * The one place blob store operations are measured, whatever the driver: every operation of the interface (and
 * the commit of what it staged) reports its outcome and duration to the metrics (core/stats.ts). A Proxy, so that
 * what a driver offers besides the interface (an S3 client, presigned URLs) and `instanceof` still work.
 */
export function instrumentBlobStore<T extends BlobStore>(store: T): T {
  const timed = async <R>(op: string, run: () => Promise<R>): Promise<R> => {
    const t0 = performance.now();
    try {
      const r = await run();
      recordBlobOp(op, 'ok', (performance.now() - t0) / 1000);
      return r;
    } catch (e) {
      recordBlobOp(op, outcomeOf(e), (performance.now() - t0) / 1000);
      throw e;
    }
  };
  const staged = (blob: StagedBlob): StagedBlob =>
    new Proxy(blob, {
      get(target, key) {
        const v = Reflect.get(target, key, target);
        if (key === 'commit') return () => timed('commit', () => target.commit());
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  // Wrapped methods are made once per method (a hot path reads core.blobs.localPath on every download).
  const made = new Map<PropertyKey, { of: unknown; fn: unknown }>();
  return new Proxy(store, {
    get(target, key) {
      const v = Reflect.get(target, key, target);
      if (typeof v !== 'function') return v;
      const known = made.get(key);
      if (known?.of === v) return known.fn;
      const fn = wrap(target, key, v as (...args: unknown[]) => unknown);
      made.set(key, { of: v, fn });
      return fn;
    },
  });

  function wrap(target: T, key: PropertyKey, v: (...args: unknown[]) => unknown): unknown {
    if (typeof key !== 'string' || !COUNTED.has(key)) return v.bind(target);
    if (key === 'listBlobs') {
      return (...args: unknown[]) => {
        const iterable = v.apply(target, args) as AsyncIterable<unknown>;
        return (async function* () {
          const t0 = performance.now();
          try {
            yield* iterable;
            recordBlobOp(key, 'ok', (performance.now() - t0) / 1000);
          } catch (e) {
            recordBlobOp(key, outcomeOf(e), (performance.now() - t0) / 1000);
            throw e;
          }
        })();
      };
    }
    return (...args: unknown[]) => {
      const p = timed(key, () => v.apply(target, args) as Promise<unknown>);
      return STAGING.has(key) ? p.then((b) => staged(b as StagedBlob)) : p;
    };
  }
}

/** Upload ids are UUIDs: they name files, so nothing else is accepted. */
export function checkUploadId(id: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) throw new Error(`bad upload id: ${id}`);
  return id;
}

/** `sha256:<64 hex>` and nothing else: digests reach file paths, so they are checked strictly. */
export function parseDigest(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new Error(`bad digest: ${digest}`);
  return m[1];
}
