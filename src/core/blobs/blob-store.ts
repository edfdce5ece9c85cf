// The content-addressed blob store every format writes through: content is named by its sha256.
import type { Readable } from 'node:stream';

export type ExtraDigest = 'sha1' | 'sha512' | 'md5';

export interface StagedBlob {
  /** `sha256:<hex>` */
  readonly digest: string;
  readonly size: number;
  /** Hex digests of the extra algorithms asked for. */
  readonly extra: Partial<Record<ExtraDigest, string>>;
  /** Makes the content durable under its digest (atomic rename). Idempotent. */
  commit(): Promise<void>;
  /** Drops the staged content. Safe to call twice, and after commit (then it does nothing). */
  cancel(): Promise<void>;
}

export interface PutOptions {
  /** Fail with TooLarge past this many bytes, while streaming. */
  maxSize?: number;
  extraDigests?: ExtraDigest[];
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
