// Filesystem layout of the blob store:
//   ROOT/sha256/<first two hex>/<64 hex>   committed content, never modified
//   ROOT/tmp/<random>                      content being received; renamed into place once hashed and fsynced
import { createHash, randomUUID, type Hash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { notFound, tooLarge } from '../errors.ts';
import { type BlobStore, type ByteRange, type ExtraDigest, type PutOptions, type StagedBlob, parseDigest } from './blob-store.ts';

/** Writes to an open file handle, hashing every chunk on the way, and enforcing a size limit. */
class HashingFileSink extends Writable {
  size = 0;
  readonly hashes: Map<string, Hash>;
  constructor(private readonly fh: fsp.FileHandle, algorithms: string[], private readonly maxSize: number) {
    super({ highWaterMark: 1 << 20 });
    this.hashes = new Map(algorithms.map((a) => [a, createHash(a)]));
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void) {
    this.size += chunk.length;
    if (this.size > this.maxSize) return cb(tooLarge(`content exceeds ${this.maxSize} bytes`));
    for (const h of this.hashes.values()) h.update(chunk);
    this.fh.write(chunk).then(() => cb(), cb);
  }
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void) {
    const bufs = chunks.map((c) => c.chunk);
    for (const b of bufs) {
      this.size += b.length;
      for (const h of this.hashes.values()) h.update(b);
    }
    if (this.size > this.maxSize) return cb(tooLarge(`content exceeds ${this.maxSize} bytes`));
    this.fh.writev(bufs).then(() => cb(), cb);
  }
}

export class FsBlobStore implements BlobStore {
  private readonly tmpDir: string;
  /** Fan-out directories known to exist (at most 256), to skip a mkdir per commit. */
  private readonly dirs = new Set<string>();
  constructor(private readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
    fs.mkdirSync(this.tmpDir, { recursive: true });
    fs.mkdirSync(path.join(root, 'sha256'), { recursive: true });
  }

  localPath(digest: string): string {
    const hex = parseDigest(digest);
    return path.join(this.root, 'sha256', hex.slice(0, 2), hex);
  }

  async put(source: Readable, options: PutOptions = {}): Promise<StagedBlob> {
    // The source may fail while the temp file is being opened: keep that error for pipeline() to report.
    const early = () => {};
    source.on('error', early);
    const tmp = path.join(this.tmpDir, randomUUID());
    const fh = await fsp.open(tmp, 'wx', 0o644);
    const extras: ExtraDigest[] = options.extraDigests ?? [];
    const sink = new HashingFileSink(fh, ['sha256', ...extras], options.maxSize ?? Number.MAX_SAFE_INTEGER);
    let done = false;
    const cancel = async () => {
      if (done) return;
      done = true;
      await fsp.rm(tmp, { force: true });
    };
    try {
      await pipeline(source, sink);
      source.off('error', early);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await cancel();
      throw err;
    }
    await fh.close();
    const digest = `sha256:${sink.hashes.get('sha256')!.digest('hex')}`;
    const extra: Partial<Record<ExtraDigest, string>> = {};
    for (const a of extras) extra[a] = sink.hashes.get(a)!.digest('hex');
    const target = this.localPath(digest);
    return {
      digest,
      size: sink.size,
      extra,
      cancel,
      commit: async () => {
        if (done) return;
        const dir = path.dirname(target);
        if (!this.dirs.has(dir)) {
          await fsp.mkdir(dir, { recursive: true });
          this.dirs.add(dir);
        }
        // Same content already stored: keep the existing file (content-addressed, so identical).
        if (fs.existsSync(target)) {
          await cancel();
          return;
        }
        await fsp.rename(tmp, target);
        done = true;
        // The rename is durable only once the directory entry is on disk.
        const d = await fsp.open(dir, 'r');
        try {
          await d.sync();
        } finally {
          await d.close();
        }
      },
    };
  }

  async open(digest: string, range?: ByteRange): Promise<Readable> {
    const file = this.localPath(digest);
    return new Promise((resolve, reject) => {
      const s = fs.createReadStream(file, range ? { start: range.start, end: range.end, highWaterMark: 256 * 1024 } : { highWaterMark: 256 * 1024 });
      s.once('open', () => resolve(s));
      s.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? notFound('blob not found') : e));
    });
  }

  async stat(digest: string): Promise<{ size: number } | null> {
    try {
      const st = await fsp.stat(this.localPath(digest));
      return { size: st.size };
    } catch {
      return null;
    }
  }

  async remove(digest: string): Promise<void> {
    await fsp.rm(this.localPath(digest), { force: true });
  }
}
