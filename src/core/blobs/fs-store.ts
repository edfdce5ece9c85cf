// Filesystem layout of the blob store:
//   ROOT/sha256/<first two hex>/<64 hex>   committed content, never modified
//   ROOT/tmp/<random>                      content being received; renamed into place once hashed and fsynced
//                                          (small in-memory content is written in place instead: see direct())
//   ROOT/uploads/<uuid>                    resumable uploads (OCI), appended in order, finished into a blob
import { createHash, randomUUID, type Hash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { notFound, tooLarge } from '../errors.ts';
import { FileStream } from './file-stream.ts';
import { removeStaleFiles, type Swept } from './stale-files.ts';
import { type BlobStore, type ByteRange, type ExtraDigest, type PutOptions, type StagedBlob, checkUploadId, parseDigest } from './blob-store.ts';

const fsync = promisify(fs.fsync);
const openFile = promisify(fs.open);

/**
 * In-memory content up to this size is written with a synchronous write on the event loop (a few microseconds;
 * a round trip through libuv's thread pool costs ~50 of CPU on the VMs we measured). Creating the file and the
 * fsyncs stay in the thread pool: they can wait on the file system's journal, for milliseconds under load.
 * Larger content streams like any other.
 */
const SYNC_WRITE_MAX = 256 * 1024;

/** fsyncs the file or directory at `file` in the thread pool; opening and closing it are synchronous. */
async function syncPath(file: string): Promise<void> {
  const fd = fs.openSync(file, 'r');
  try {
    await fsync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsyncs the directory at `dir` on the calling thread (start-up only). */
function syncPathSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

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

export interface FsBlobStoreOptions {
  /** Makes a file's or directory's content durable (default: open, fsync in the thread pool, close). Tests hook it. */
  sync?: (file: string) => Promise<void>;
  /** The same on the calling thread, for the folders the store makes when it opens. Tests hook it. */
  syncSync?: (dir: string) => void;
}

/** The fan-out folders under sha256/: the first two hex digits of a digest. */
const FAN_OUT = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export class FsBlobStore implements BlobStore {
  private readonly tmpDir: string;
  private readonly sync: (file: string) => Promise<void>;
  /**
   * Commits of this process whose rename is not yet durable, by target path: a commit of the same content that
   * finds the file already there waits for that one rather than trusting a directory entry a crash could undo.
   */
  private readonly committing = new Map<string, Promise<void>>();
  private readonly uploadsDir: string;
  /** Running sha256 of uploads appended through this process, so finishing needs no second read. */
  private readonly running = new Map<string, { size: number; hash: Hash }>();

  constructor(private readonly root: string, options: FsBlobStoreOptions = {}) {
    this.sync = options.sync ?? syncPath;
    this.tmpDir = path.join(root, 'tmp');
    this.uploadsDir = path.join(root, 'uploads');
    fs.mkdirSync(this.tmpDir, { recursive: true });
    fs.mkdirSync(this.uploadsDir, { recursive: true });
    // Every folder a blob can go in is made when the store opens, and their entries are flushed then: a commit
    // never creates a folder, and syncs only its own file's. POSIX asks for the flush of a new folder's entry in
    // its parent; ext4 orders it on its own, other file systems need not. sha256/ is flushed at every open (a
    // clean directory's flush costs next to nothing), which also covers folders an earlier process made and
    // crashed before flushing. A fresh store makes the 256 folders in ~20 ms, an existing one checks them in ~1 ms.
    const syncSync = options.syncSync ?? syncPathSync;
    const sha = path.join(root, 'sha256');
    const first = fs.mkdirSync(sha, { recursive: true });
    const have = new Set(fs.readdirSync(sha));
    for (const name of FAN_OUT) if (!have.has(name)) fs.mkdirSync(path.join(sha, name), { recursive: true });
    syncSync(sha);
    if (first) for (let d = sha; ; d = path.dirname(d)) {
      syncSync(path.dirname(d));
      if (d === first) break;
    }
  }

  /** Throws unless the store's folders can be written (readiness: GET /readyz). */
  async check(): Promise<void> {
    await Promise.all([path.join(this.root, 'sha256'), this.tmpDir, this.uploadsDir].map((d) => fsp.access(d, fs.constants.W_OK)));
  }

  localPath(digest: string): string {
    const hex = parseDigest(digest);
    return path.join(this.root, 'sha256', hex.slice(0, 2), hex);
  }

  relativePath(digest: string): string {
    const hex = parseDigest(digest);
    return `sha256/${hex.slice(0, 2)}/${hex}`;
  }

  private uploadPath(id: string): string {
    return path.join(this.uploadsDir, checkUploadId(id));
  }

  async appendUpload(id: string, source: Readable, offset: number, maxSize: number): Promise<number> {
    const file = this.uploadPath(id);
    const early = () => {};
    source.on('error', early);
    const fh = await fsp.open(file, 'a');
    const { size } = await fh.stat();
    if (size !== offset) {
      await fh.close();
      throw Object.assign(new Error(`upload is at ${size}, not ${offset}`), { code: 'EOFFSET', size });
    }
    try {
      // Continue the running hash when this process saw every earlier byte; else finishUpload re-reads the file.
      const run = this.running.get(id);
      const hash = run && run.size === size ? run.hash : size === 0 ? createHash('sha256') : undefined;
      this.running.delete(id);
      const sink = new HashingFileSink(fh, [], maxSize - size);
      if (hash) sink.hashes.set('sha256', hash);
      await pipeline(source, sink);
      source.off('error', early);
      const newSize = size + sink.size;
      if (hash) this.running.set(id, { size: newSize, hash });
      return newSize;
    } catch (e) {
      this.running.delete(id);
      // A failed append may have written part of its chunk: cut the file back to where the chunk began.
      await fh.truncate(size).catch(() => {});
      throw e;
    } finally {
      await fh.close();
    }
  }

  async uploadSize(id: string): Promise<number | null> {
    const file = this.uploadPath(id);
    try {
      return (await fsp.stat(file)).size;
    } catch {
      return null;
    }
  }

  async finishUpload(id: string, options: { extraDigests?: ExtraDigest[] } = {}): Promise<StagedBlob> {
    const file = this.uploadPath(id);
    const size = (await fsp.stat(file)).size;
    const run = this.running.get(id);
    this.running.delete(id);
    const extras = options.extraDigests ?? [];
    let sha256: string;
    const extra: Partial<Record<ExtraDigest, string>> = {};
    if (run && run.size === size && !extras.length) {
      sha256 = run.hash.digest('hex');
    } else {
      // Resumed on another node or after a restart: hash what is on disk.
      const hashes = new Map<string, Hash>(['sha256', ...extras].map((a) => [a, createHash(a)]));
      for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) for (const h of hashes.values()) h.update(chunk as Buffer);
      sha256 = hashes.get('sha256')!.digest('hex');
      for (const a of extras) extra[a] = hashes.get(a)!.digest('hex');
    }
    const fh = await fsp.open(file, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return this.staged(file, `sha256:${sha256}`, size, extra);
  }

  async removeUpload(id: string): Promise<void> {
    this.running.delete(id);
    await fsp.rm(this.uploadPath(id), { force: true });
  }

  async listUploads(): Promise<{ id: string; modifiedMs: number }[]> {
    const out = [];
    for (const name of await fsp.readdir(this.uploadsDir)) {
      const st = await fsp.stat(path.join(this.uploadsDir, name)).catch(() => null);
      if (st) out.push({ id: name, modifiedMs: st.mtimeMs });
    }
    return out;
  }

  async *listBlobs(): AsyncIterable<{ digest: string; modifiedMs: number }> {
    const root = path.join(this.root, 'sha256');
    for (const dir of await fsp.readdir(root)) {
      for (const hex of await fsp.readdir(path.join(root, dir)).catch(() => [] as string[])) {
        const st = await fsp.stat(path.join(root, dir, hex)).catch(() => null);
        if (st && /^[a-f0-9]{64}$/.test(hex)) yield { digest: `sha256:${hex}`, modifiedMs: st.mtimeMs };
      }
    }
  }

  sweepTemp(beforeMs: number, dryRun: boolean): Promise<Swept> {
    return removeStaleFiles(this.tmpDir, beforeMs, dryRun);
  }

  /** A staged blob over a finished temp file: commit() renames it into the content-addressed layout. */
  private staged(tmp: string, digest: string, size: number, extra: Partial<Record<ExtraDigest, string>>): StagedBlob {
    const target = this.localPath(digest);
    let done = false;
    const cancel = async () => {
      if (done) return;
      done = true;
      fs.rmSync(tmp, { force: true });
    };
    return {
      digest,
      size,
      extra,
      cancel,
      commit: async () => {
        if (done) return;
        // Synchronous metadata calls (usually a few microseconds); only the directories' fsyncs go to the thread pool.
        const dir = path.dirname(target);
        // Same content already stored: keep the existing file (content-addressed, so identical), and mark it
        // as just written so garbage collection's grace period protects it until the metadata refers to it.
        if (fs.existsSync(target)) {
          const now = new Date();
          try {
            fs.utimesSync(target, now, now);
          } catch {
            // collected in between: checked below
          }
          await cancel();
          // The file may have been renamed there an instant ago, its directory entry not yet on disk: the caller
          // is about to commit metadata that refers to it, so it must be durable first. A commit of this process
          // still under way is awaited; a file from elsewhere (another node, an earlier run) is synced again,
          // which costs next to nothing when it already is on disk.
          const pending = this.committing.get(target);
          if (pending) await pending;
          else {
            try {
              await Promise.all([this.sync(target), this.sync(dir)]);
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // collected meanwhile: checked below
            }
          }
          if (fs.existsSync(target)) return;
          // Collected in between: the temp file is gone, so the caller must retry (rare, and reported).
          throw new Error(`blob ${digest} was garbage-collected while being committed`);
        }
        fs.renameSync(tmp, target);
        done = true;
        // The rename is durable only once the directory entry is on disk.
        const synced = this.sync(dir);
        this.committing.set(target, synced);
        try {
          await synced;
        } finally {
          if (this.committing.get(target) === synced) this.committing.delete(target);
        }
      },
    };
  }

  async put(source: Readable, options: PutOptions = {}): Promise<StagedBlob> {
    // The source may fail while the temp file is being opened: keep that error for pipeline() to report.
    const early = () => {};
    source.on('error', early);
    const tmp = path.join(this.tmpDir, randomUUID());
    const fh = await fsp.open(tmp, 'wx', 0o644);
    const extras: ExtraDigest[] = options.extraDigests ?? [];
    const sink = new HashingFileSink(fh, ['sha256', ...extras], options.maxSize ?? Number.MAX_SAFE_INTEGER);
    let digest: string;
    const extra: Partial<Record<ExtraDigest, string>> = {};
    try {
      await pipeline(source, sink);
      source.off('error', early);
      digest = `sha256:${sink.hashes.get('sha256')!.digest('hex')}`;
      for (const a of extras) extra[a] = sink.hashes.get(a)!.digest('hex');
      options.hashed?.({ digest, size: sink.size, extra });
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    return this.staged(tmp, digest, sink.size, extra);
  }

  async putBytes(bytes: Buffer, options: PutOptions = {}): Promise<StagedBlob> {
    const max = options.maxSize ?? Number.MAX_SAFE_INTEGER;
    if (bytes.length > max) throw tooLarge(`content exceeds ${max} bytes`);
    if (bytes.length > SYNC_WRITE_MAX) return this.put(Readable.from([bytes]), options);
    const extras: ExtraDigest[] = options.extraDigests ?? [];
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const extra: Partial<Record<ExtraDigest, string>> = {};
    for (const a of extras) extra[a] = createHash(a).update(bytes).digest('hex');
    options.hashed?.({ digest, size: bytes.length, extra });
    return this.direct(bytes, digest, extra);
  }

  /**
   * Small in-memory content skips the temp file: its digest is known before a byte is written, so commit() creates
   * the file under its final name and makes its data and its directory entry durable in one wait (two fsyncs in
   * parallel) instead of three in a row (data, rename, directory). Until the commit returns no metadata names the
   * file, so a crash in between can leave a short or torn file under a content address, never a version that
   * refers to one. Such a file is never trusted: the only places that accept a file no metadata names yet —
   * a duplicate commit here and stat() — verify small files' bytes against their name, and a commit that finds
   * a bad one replaces it through the temp-file path.
   */
  private direct(bytes: Buffer, digest: string, extra: Partial<Record<ExtraDigest, string>>): StagedBlob {
    let done = false;
    return {
      digest,
      size: bytes.length,
      extra,
      cancel: async () => {
        done = true; // nothing is written before commit()
      },
      commit: async () => {
        if (done) return;
        await this.commitDirect(this.localPath(digest), bytes, digest);
        done = true;
      },
    };
  }

  private async commitDirect(target: string, bytes: Buffer, digest: string): Promise<void> {
    const dir = path.dirname(target);
    for (;;) {
      const pending = this.committing.get(target);
      if (pending) {
        // The same content is being written by this process: its outcome is ours (a failed one is retried).
        if (await pending.then(() => true, () => false)) return;
        continue;
      }
      // Registered before the first await, so a concurrent commit of the same content waits for this one. The
      // exclusive create is also the test for a file already there (no stat first: one system call less per blob).
      const writing = this.writeDirect(target, dir, bytes);
      this.committing.set(target, writing);
      try {
        await writing;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        if (this.committing.get(target) === writing) this.committing.delete(target);
      }
      // Stored before, or created by another process just now: checked like any file found there.
      await this.commitExisting(target, dir, bytes, digest);
      return;
    }
  }

  private async writeDirect(target: string, dir: string, bytes: Buffer): Promise<void> {
    const fd = await openFile(target, 'wx', 0o644);
    try {
      for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at);
      await Promise.all([fsync(fd), this.sync(dir)]);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(target, { force: true });
      throw err;
    }
    fs.closeSync(fd);
  }

  /**
   * A file is already under the content's name. Its bytes are checked (it may be what a crash left of a direct
   * write); intact, it is kept, marked as just written for garbage collection's grace period, and synced again
   * (next to free when it already is on disk); torn, it is replaced through a temp file and a rename.
   */
  private async commitExisting(target: string, dir: string, bytes: Buffer, digest: string): Promise<void> {
    if (!this.intact(target, bytes.length, digest)) {
      const tmp = path.join(this.tmpDir, randomUUID());
      const fd = await openFile(tmp, 'wx', 0o644);
      try {
        for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at);
        await fsync(fd);
      } catch (err) {
        fs.closeSync(fd);
        fs.rmSync(tmp, { force: true });
        throw err;
      }
      fs.closeSync(fd);
      fs.renameSync(tmp, target);
      await this.sync(dir);
      return;
    }
    const now = new Date();
    try {
      fs.utimesSync(target, now, now);
      await Promise.all([this.sync(target), this.sync(dir)]);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (!fs.existsSync(target)) throw new Error(`blob ${digest} was garbage-collected while being committed`);
  }

  /** Whether the file at `file` holds exactly `size` bytes hashing to `digest` (read synchronously: small files only). */
  private intact(file: string, size: number, digest: string): boolean {
    try {
      if (fs.statSync(file).size !== size) return false;
      return `sha256:${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}` === digest;
    } catch {
      return false;
    }
  }

  async open(digest: string, range?: ByteRange): Promise<Readable> {
    try {
      return await FileStream.open(this.localPath(digest), range);
    } catch (e) {
      throw (e as NodeJS.ErrnoException).code === 'ENOENT' ? notFound('blob not found') : e;
    }
  }

  async stat(digest: string): Promise<{ size: number } | null> {
    const file = this.localPath(digest);
    try {
      const st = await fsp.stat(file);
      // A small file may be what a crash left of a direct write (see direct()): it counts once its bytes match.
      if (st.size <= SYNC_WRITE_MAX && !this.committing.has(file)) {
        const data = await fsp.readFile(file);
        if (`sha256:${createHash('sha256').update(data).digest('hex')}` !== digest) return null;
      }
      return { size: st.size };
    } catch {
      return null;
    }
  }

  async remove(digest: string): Promise<void> {
    await fsp.rm(this.localPath(digest), { force: true });
  }
}
