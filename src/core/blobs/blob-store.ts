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
  /** Opens stored content; throws NotFound when absent. */
  open(digest: string, range?: ByteRange): Promise<Readable>;
  /** Size of stored content, or null. */
  stat(digest: string): Promise<{ size: number } | null>;
  /** Removes stored content (garbage collection only). */
  remove(digest: string): Promise<void>;
  /** A local path for zero-copy sends, when the driver has one. */
  localPath?(digest: string): string;
}

/** `sha256:<64 hex>` and nothing else: digests reach file paths, so they are checked strictly. */
export function parseDigest(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new Error(`bad digest: ${digest}`);
  return m[1];
}
