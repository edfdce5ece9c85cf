// The blob store on S3 (or anything that speaks its API: Ceph radosgw, MinIO, ...). Keys under WHARF_S3_PREFIX:
//   sha256/<first two hex>/<64 hex>   committed content, as on disk; written only once complete and verified
//   staging/<uuid>                    streamed content being staged (see below); copied into place by commit()
//   uploads/<uuid>/<16-digit offset>  resumable uploads (OCI): one object per appended chunk, named by its offset
//
// S3 has no rename, so how content becomes visible at its digest key is a choice:
// - Content in memory (putBytes, and put() of a stream that ends within IN_MEMORY_MAX) is hashed first and written
//   once, straight to its digest key, by commit(): one PUT, nothing to clean up, and most package files (npm
//   tarballs, POMs, manifests) are that small.
// - A longer stream is uploaded while it is hashed (lib-storage multipart: memory stays at a few parts whatever the
//   size) to a staging key, and commit() copies it server-side to the digest key (CopyObject, or UploadPartCopy
//   past 5 GiB), then deletes the staging key. A copy becomes visible only when complete, so a digest key never
//   shows partial content. We chose this over "spool to a local file, then upload at commit()" because the upload
//   overlaps the receive (a 5 GiB layer is not sent twice in a row, and needs no 5 GiB of local scratch), and a
//   server-side copy is cheap (radosgw shares the data rather than copying it); distribution does the same.
// - A resumable upload is kept as one object per appended chunk, so any node sharing the bucket can append the next
//   one (S3 multipart parts must be >= 5 MiB except the last, so PATCH chunks of any size cannot be parts directly).
//   finishUpload() hashes the chunks (no read when this process saw every byte), then, when every chunk but the last
//   is >= 5 MiB (one long PATCH is the common case), commit() composes them server-side with UploadPartCopy pinned
//   to the ETags that were hashed; otherwise the chunks are streamed once through the hash into a staging key.
// A commit of content already stored writes it again (a PUT or a copy over identical content): that refreshes its
// LastModified, which garbage collection's grace period counts from, as the filesystem store's utimes does.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  S3Client,
  HeadBucketCommand,
  CreateBucketCommand,
  HeadObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  CompleteMultipartUploadCommand,
  type S3ClientConfig,
  type _Object,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { notFound, tooLarge } from '../errors.ts';
import { type BlobStore, type ByteRange, type ExtraDigest, type PutOptions, type StagedBlob, checkUploadId, parseDigest } from './blob-store.ts';

/** A put() whose stream ends within this many bytes is kept in memory and written once at commit(). */
const IN_MEMORY_MAX = 8 * 1024 * 1024;
/** Multipart part size for streamed uploads, and how many parts are in flight (memory: about their product). */
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;
/** Largest object CopyObject copies in one request; larger ones are copied part by part. */
const COPY_MAX = 5 * 1024 ** 3;
/** Largest part UploadPartCopy is asked for (the limit is 5 GiB), and the smallest any part but the last may be. */
const COPY_PART_MAX = 1024 ** 3;
const PART_MIN = 5 * 1024 * 1024;

export interface S3BlobStoreOptions {
  bucket: string;
  /** Prepended to every key ("" or ending with "/"). */
  prefix?: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** Explicit credentials (tests); by default the AWS SDK's chain (environment, profiles, instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Streams ending within this many bytes are staged in memory (tests set 0 to exercise staging keys). */
  inMemoryMax?: number;
}

type Chunk = { key: string; offset: number; size: number; etag?: string; modifiedMs: number };

const errName = (e: unknown) => (e as { name?: string })?.name ?? '';
const status = (e: unknown) => (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
const isMissing = (e: unknown) => status(e) === 404 || ['NotFound', 'NoSuchKey', 'NoSuchBucket'].includes(errName(e));

/** Runs `fn` over `items`, at most `limit` at a time. */
async function eachLimited<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  private readonly prefix: string;
  private readonly inMemoryMax: number;
  /** Running sha256 of uploads appended through this process, so finishing needs no read of the chunks. */
  private readonly running = new Map<string, { size: number; hash: Hash }>();

  constructor(private readonly options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.inMemoryMax = options.inMemoryMax ?? IN_MEMORY_MAX;
    const config: S3ClientConfig = {
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle,
      // Checksums only where the API demands them: S3-compatible servers (radosgw 16, older MinIO) refuse the
      // aws-chunked bodies with checksum trailers that newer SDKs send by default. Content is verified by its sha256.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    if (options.endpoint) config.endpoint = options.endpoint;
    if (options.credentials) config.credentials = options.credentials;
    this.client = new S3Client(config);
  }

  /** Checks the bucket is reachable, creating it when it does not exist (and the credentials allow it). */
  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (e) {
      if (!isMissing(e)) throw new Error(`S3 bucket ${this.bucket} is not reachable: ${errName(e) || status(e)} ${(e as Error).message ?? ''}`.trim());
    }
    try {
      const region = await this.client.config.region();
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          ...(region && region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: region as never } } : {}),
        }),
      );
    } catch (e) {
      if (['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes(errName(e))) return; // another node made it
      throw new Error(`S3 bucket ${this.bucket} does not exist and could not be created: ${errName(e)} ${(e as Error).message ?? ''}`.trim());
    }
  }

  /** Throws unless the bucket answers a HeadBucket within `timeoutMs` (readiness: GET /readyz). */
  async check(timeoutMs = 2000): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: AbortSignal.timeout(timeoutMs) });
  }

  /** Stops the client's connections. */
  destroy(): void {
    this.client.destroy();
  }

  private blobKey(digest: string): string {
    const hex = parseDigest(digest);
    return `${this.prefix}sha256/${hex.slice(0, 2)}/${hex}`;
  }

  private uploadPrefix(id: string): string {
    return `${this.prefix}uploads/${checkUploadId(id)}/`;
  }

  private copySource(key: string): string {
    return `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  /** Every object under `prefix`, page by page (ListObjectsV2 returns at most 1000 at a time). */
  private async *list(prefix: string): AsyncIterable<_Object> {
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) yield o;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      if (batch.length === 1) {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: batch[0] }));
        continue;
      }
      const r = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      const failed = (r.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length) throw new Error(`S3 delete failed for ${failed.length} keys: ${failed[0].Code} ${failed[0].Message ?? ''}`);
    }
  }

  // ---- writing -------------------------------------------------------------------------------------------------

  /** Uploads `body` to `key` (multipart past one part), aborting whatever was sent when it fails. */
  private async upload(key: string, body: Readable, source?: Readable): Promise<{ etag?: string }> {
    const up = new Upload({ client: this.client, params: { Bucket: this.bucket, Key: key, Body: body }, partSize: PART_SIZE, queueSize: QUEUE_SIZE, leavePartsOnError: false });
    try {
      const r = await up.done();
      return { etag: r.ETag };
    } catch (e) {
      source?.destroy();
      await up.abort().catch(() => {});
      throw e;
    }
  }

  async put(source: Readable, options: PutOptions = {}): Promise<StagedBlob> {
    const early = () => {};
    source.on('error', early);
    const extras = options.extraDigests ?? [];
    const hashes = new Map<string, Hash>(['sha256', ...extras].map((a) => [a, createHash(a)]));
    const max = options.maxSize ?? Number.MAX_SAFE_INTEGER;
    let size = 0;
    const it = source[Symbol.asyncIterator]();
    const take = async (): Promise<Buffer | null> => {
      const r = await it.next();
      if (r.done) return null;
      const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
      size += b.length;
      if (size > max) throw tooLarge(`content exceeds ${max} bytes`);
      for (const h of hashes.values()) h.update(b);
      return b;
    };
    const head: Buffer[] = [];
    let headSize = 0;
    let ended = false;
    try {
      while (headSize <= this.inMemoryMax) {
        const b = await take();
        if (!b) {
          ended = true;
          break;
        }
        head.push(b);
        headSize += b.length;
      }
    } catch (e) {
      source.destroy();
      throw e;
    } finally {
      source.off('error', early);
    }
    let hashed: { digest: string; extra: Partial<Record<ExtraDigest, string>> } | undefined;
    // Once, when the source has ended (a Hash gives its digest once); the caller may hear of it before the upload ends.
    const result = () => {
      if (hashed) return hashed;
      const extra: Partial<Record<ExtraDigest, string>> = {};
      for (const a of extras) extra[a] = hashes.get(a)!.digest('hex');
      hashed = { digest: `sha256:${hashes.get('sha256')!.digest('hex')}`, extra };
      options.hashed?.({ ...hashed, size });
      return hashed;
    };
    if (ended) {
      const { digest, extra } = result();
      return this.stagedBytes(Buffer.concat(head), digest, extra);
    }
    // Longer than memory staging allows: stream it to a staging key while hashing.
    const key = `${this.prefix}staging/${randomUUID()}`;
    async function* body() {
      yield* head.splice(0);
      for (;;) {
        const b = await take();
        if (!b) {
          result();
          return;
        }
        yield b;
      }
    }
    await this.upload(key, Readable.from(body(), { objectMode: false, highWaterMark: 1 << 20 }), source);
    const { digest, extra } = result();
    return this.staged(digest, size, extra, (target) => this.copy([{ key, start: 0, end: size - 1 }], size, target), () => this.deleteKeys([key]));
  }

  async putBytes(bytes: Buffer, options: PutOptions = {}): Promise<StagedBlob> {
    const max = options.maxSize ?? Number.MAX_SAFE_INTEGER;
    if (bytes.length > max) throw tooLarge(`content exceeds ${max} bytes`);
    const extra: Partial<Record<ExtraDigest, string>> = {};
    for (const a of options.extraDigests ?? []) extra[a] = createHash(a).update(bytes).digest('hex');
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    options.hashed?.({ digest, size: bytes.length, extra });
    return this.stagedBytes(bytes, digest, extra);
  }

  /** Content hashed in memory: commit() writes it once to its digest key. */
  private stagedBytes(bytes: Buffer, digest: string, extra: Partial<Record<ExtraDigest, string>>, after?: () => Promise<void>): StagedBlob {
    return this.staged(
      digest,
      bytes.length,
      extra,
      async (key) => {
        if (bytes.length <= PART_SIZE) await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length }));
        else await this.upload(key, Readable.from([bytes]));
      },
      after,
    );
  }

  /**
   * A staged blob: commit() runs `write` to its digest key (which makes it visible in one step), then `after`;
   * cancel() runs only `after` (dropping staging keys or upload chunks).
   */
  private staged(digest: string, size: number, extra: Partial<Record<ExtraDigest, string>>, write: (key: string) => Promise<void>, after?: () => Promise<void>): StagedBlob {
    let done = false;
    let committing: Promise<void> | undefined;
    const cleanup = async () => {
      await after?.().catch(() => {}); // leftovers are swept later (sweepTemp, upload expiry)
    };
    return {
      digest,
      size,
      extra,
      commit: () => {
        if (done) return committing ?? Promise.resolve();
        done = true;
        committing = (async () => {
          try {
            await write(this.blobKey(digest));
          } catch (e) {
            if (isMissing(e) || status(e) === 412) throw new Error(`staged content of ${digest} is gone (swept or changed): ${errName(e)}`);
            throw e;
          }
          await cleanup();
        })();
        return committing;
      },
      cancel: async () => {
        if (done) return;
        done = true;
        await cleanup();
      },
    };
  }

  /**
   * Makes `target` the concatenation of the given byte ranges of existing objects, server-side: one CopyObject
   * when it is one whole object within the copy limit, else a multipart upload of UploadPartCopy parts. The
   * sources are pinned by their ETags when given (a chunk replaced since it was hashed fails the commit).
   */
  private async copy(ranges: { key: string; start: number; end: number; etag?: string }[], size: number, target: string): Promise<void> {
    if (size === 0) {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: target, Body: Buffer.alloc(0), ContentLength: 0 }));
      return;
    }
    if (ranges.length === 1 && ranges[0].start === 0 && size <= COPY_MAX) {
      await this.client.send(
        new CopyObjectCommand({ Bucket: this.bucket, Key: target, CopySource: this.copySource(ranges[0].key), ...(ranges[0].etag ? { CopySourceIfMatch: ranges[0].etag } : {}) }),
      );
      return;
    }
    // Split ranges into parts no larger than COPY_PART_MAX (evenly, so none falls below the 5 MiB minimum).
    const parts: typeof ranges = [];
    for (const r of ranges) {
      const len = r.end - r.start + 1;
      if (len <= 0) continue;
      const n = Math.ceil(len / COPY_PART_MAX);
      const step = Math.ceil(len / n);
      for (let s = r.start; s <= r.end; s += step) parts.push({ ...r, start: s, end: Math.min(r.end, s + step - 1) });
    }
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: target }));
    try {
      const etags = await eachLimited(parts, QUEUE_SIZE, async (p, i) => {
        const r = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: target,
            UploadId,
            PartNumber: i + 1,
            CopySource: this.copySource(p.key),
            CopySourceRange: `bytes=${p.start}-${p.end}`,
            ...(p.etag ? { CopySourceIfMatch: p.etag } : {}),
          }),
        );
        return r.CopyPartResult!.ETag!;
      });
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: target, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
      );
    } catch (e) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: target, UploadId })).catch(() => {});
      throw e;
    }
  }

  // ---- reading -------------------------------------------------------------------------------------------------

  async open(digest: string, range?: ByteRange): Promise<Readable> {
    const key = this.blobKey(digest);
    if (range && range.end < range.start) {
      if (!(await this.stat(digest))) throw notFound('blob not found');
      return Readable.from([]);
    }
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
      return r.Body as Readable;
    } catch (e) {
      if (isMissing(e)) throw notFound('blob not found');
      throw e;
    }
  }

  /**
   * A presigned GetObject URL (signature v4, so at most 7 days). It is signed locally: no request to S3, and no
   * check that the object exists (the caller knows it does from the database). The response-* overrides are part
   * of the signature, so whoever holds the URL cannot change the type the browser sees.
   */
  async presignGet(digest: string, opts: { expiresIn: number; contentType?: string; contentDisposition?: string }): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: this.blobKey(digest),
      ...(opts.contentType ? { ResponseContentType: opts.contentType } : {}),
      ...(opts.contentDisposition ? { ResponseContentDisposition: opts.contentDisposition } : {}),
    });
    return getSignedUrl(this.client, command, { expiresIn: opts.expiresIn });
  }

  async stat(digest: string): Promise<{ size: number } | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }));
      return { size: r.ContentLength ?? 0 };
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  async remove(digest: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }));
  }

  async *listBlobs(): AsyncIterable<{ digest: string; modifiedMs: number }> {
    for await (const o of this.list(`${this.prefix}sha256/`)) {
      const m = /\/([a-f0-9]{64})$/.exec(o.Key ?? '');
      if (m) yield { digest: `sha256:${m[1]}`, modifiedMs: o.LastModified?.getTime() ?? 0 };
    }
  }

  // ---- resumable uploads ---------------------------------------------------------------------------------------

  /** The upload's chunks in order, or null when it has none; throws when they do not follow each other. */
  private async chunks(id: string): Promise<Chunk[] | null> {
    const out: Chunk[] = [];
    for await (const o of this.list(this.uploadPrefix(id))) {
      const m = /\/(\d{16})$/.exec(o.Key!);
      if (m) out.push({ key: o.Key!, offset: Number(m[1]), size: o.Size ?? 0, etag: o.ETag, modifiedMs: o.LastModified?.getTime() ?? 0 });
    }
    if (!out.length) return null;
    let at = 0;
    for (const c of out) {
      if (c.offset !== at) throw new Error(`upload ${id} has a gap at ${at} (next chunk at ${c.offset})`);
      at += c.size;
    }
    return out;
  }

  private static sizeOf(chunks: Chunk[] | null): number {
    if (!chunks?.length) return 0;
    const last = chunks[chunks.length - 1];
    return last.offset + last.size;
  }

  async appendUpload(id: string, source: Readable, offset: number, maxSize: number): Promise<number> {
    const early = () => {};
    source.on('error', early);
    const prefix = this.uploadPrefix(id);
    let chunks: Chunk[] | null;
    try {
      chunks = await this.chunks(id);
    } catch (e) {
      source.off('error', early);
      source.destroy();
      throw e;
    }
    const size = S3BlobStore.sizeOf(chunks);
    if (size !== offset) {
      source.off('error', early);
      source.resume();
      throw Object.assign(new Error(`upload is at ${size}, not ${offset}`), { code: 'EOFFSET', size });
    }
    // Continue the running hash when this process saw every earlier byte; else finishUpload reads the chunks.
    const run = this.running.get(id);
    const hash = run && run.size === size ? run.hash : size === 0 ? createHash('sha256') : undefined;
    this.running.delete(id);
    const limit = maxSize - size;
    let got = 0;
    const it = source[Symbol.asyncIterator]();
    const first = await it.next().catch((e) => {
      source.off('error', early);
      throw e;
    });
    source.off('error', early);
    const key = `${prefix}${String(offset).padStart(16, '0')}`;
    if (first.done) {
      // An empty chunk: only an upload's first (its creation) is written, so that the upload exists.
      if (!chunks) await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: Buffer.alloc(0), ContentLength: 0 }));
      if (hash) this.running.set(id, { size, hash });
      return size;
    }
    async function* body() {
      let r = first;
      while (!r.done) {
        const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
        got += b.length;
        if (got > limit) throw tooLarge(`content exceeds ${maxSize} bytes`);
        hash?.update(b);
        yield b;
        r = await it.next();
      }
    }
    await this.upload(key, Readable.from(body(), { objectMode: false, highWaterMark: 1 << 20 }), source);
    if (hash) this.running.set(id, { size: size + got, hash });
    return size + got;
  }

  async uploadSize(id: string): Promise<number | null> {
    const chunks = await this.chunks(id);
    return chunks ? S3BlobStore.sizeOf(chunks) : null;
  }

  async finishUpload(id: string, options: { extraDigests?: ExtraDigest[] } = {}): Promise<StagedBlob> {
    const chunks = (await this.chunks(id)) ?? [];
    if (!chunks.length) throw notFound('upload not found');
    const size = S3BlobStore.sizeOf(chunks);
    const parts = chunks.filter((c) => c.size > 0);
    const run = this.running.get(id);
    this.running.delete(id);
    const extras = options.extraDigests ?? [];
    const after = () => this.removeUpload(id);
    const composable = parts.every((c, i) => i === parts.length - 1 || c.size >= PART_MIN);
    const ranges = parts.map((c) => ({ key: c.key, start: 0, end: c.size - 1, etag: c.etag }));
    if (size === 0) return this.stagedBytes(Buffer.alloc(0), `sha256:${createHash('sha256').digest('hex')}`, Object.fromEntries(extras.map((a) => [a, createHash(a).digest('hex')])), after);
    if (composable && run && run.size === size && !extras.length) {
      // Every byte came through this process: the digest is known, and the chunks become the blob server-side.
      return this.staged(`sha256:${run.hash.digest('hex')}`, size, {}, (target) => this.copy(ranges, size, target), after);
    }
    const hashes = new Map<string, Hash>(['sha256', ...extras].map((a) => [a, createHash(a)]));
    const client = this.client;
    const bucket = this.bucket;
    async function* read() {
      for (const c of parts) {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: c.key, IfMatch: c.etag }));
        for await (const b of r.Body as Readable) {
          for (const h of hashes.values()) h.update(b as Buffer);
          yield b as Buffer;
        }
      }
    }
    const digests = () => {
      const extra: Partial<Record<ExtraDigest, string>> = {};
      for (const a of extras) extra[a] = hashes.get(a)!.digest('hex');
      return { digest: `sha256:${hashes.get('sha256')!.digest('hex')}`, extra };
    };
    if (composable) {
      // Read once to hash (resumed on another node, or after a restart); commit composes the pinned chunks.
      for await (const _ of read());
      const { digest, extra } = digests();
      return this.staged(digest, size, extra, (target) => this.copy(ranges, size, target), after);
    }
    // Small chunks cannot be multipart parts: stream them once, through the hash, into one staging object.
    const key = `${this.prefix}staging/${randomUUID()}`;
    await this.upload(key, Readable.from(read(), { objectMode: false, highWaterMark: 1 << 20 }));
    const { digest, extra } = digests();
    return this.staged(digest, size, extra, (target) => this.copy([{ key, start: 0, end: size - 1 }], size, target), async () => {
      await this.deleteKeys([key]);
      await after();
    });
  }

  async removeUpload(id: string): Promise<void> {
    this.running.delete(id);
    const prefix = this.uploadPrefix(id);
    const keys: string[] = [];
    for await (const o of this.list(prefix)) keys.push(o.Key!);
    await this.deleteKeys(keys);
    // A chunk still being sent (or one a dead node left half-sent) is an unfinished multipart upload.
    for (const u of await this.multipartUploads(prefix)) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.key, UploadId: u.uploadId })).catch(() => {});
    }
  }

  async listUploads(): Promise<{ id: string; modifiedMs: number }[]> {
    const byId = new Map<string, number>();
    for await (const o of this.list(`${this.prefix}uploads/`)) {
      const m = /uploads\/([0-9a-f-]{36})\/\d{16}$/.exec(o.Key ?? '');
      if (m) byId.set(m[1], Math.max(byId.get(m[1]) ?? 0, o.LastModified?.getTime() ?? 0));
    }
    return [...byId].map(([id, modifiedMs]) => ({ id, modifiedMs }));
  }

  private async multipartUploads(prefix: string): Promise<{ key: string; uploadId: string; initiatedMs: number }[]> {
    const out: { key: string; uploadId: string; initiatedMs: number }[] = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const r = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
      for (const u of r.Uploads ?? []) out.push({ key: u.Key!, uploadId: u.UploadId!, initiatedMs: u.Initiated?.getTime() ?? 0 });
      if (!r.IsTruncated) return out;
      keyMarker = r.NextKeyMarker;
      idMarker = r.NextUploadIdMarker;
    }
  }

  /**
   * Staging objects last written before `beforeMs` (a node died between staging and commit), and multipart uploads
   * with no part written since (a node died mid-stream). This store keeps nothing on the local disk.
   */
  async sweepTemp(beforeMs: number, dryRun: boolean): Promise<{ files: number; bytes: number }> {
    const out = { files: 0, bytes: 0 };
    const stale: string[] = [];
    for await (const o of this.list(`${this.prefix}staging/`)) {
      if ((o.LastModified?.getTime() ?? 0) >= beforeMs) continue;
      stale.push(o.Key!);
      out.files += 1;
      out.bytes += o.Size ?? 0;
    }
    if (!dryRun) await this.deleteKeys(stale);
    for (const u of await this.multipartUploads(this.prefix)) {
      if (u.initiatedMs >= beforeMs) continue;
      const parts = await this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: u.key, UploadId: u.uploadId })).catch(() => null);
      const lastWrite = Math.max(u.initiatedMs, ...(parts?.Parts ?? []).map((p) => p.LastModified?.getTime() ?? 0));
      if (lastWrite >= beforeMs) continue;
      out.files += 1;
      out.bytes += (parts?.Parts ?? []).reduce((n, p) => n + (p.Size ?? 0), 0);
      if (!dryRun) await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.key, UploadId: u.uploadId })).catch(() => {});
    }
    return out;
  }
}
