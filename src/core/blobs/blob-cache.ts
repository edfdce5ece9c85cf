// Small content kept in memory by digest. Content-addressed blobs never change, so a cached copy is never
// stale, on any node. Most package files are small (npm tarballs, POMs, nuspecs, manifests), and sending a
// Buffer costs a fraction of opening, reading and closing a file per request.
//
// The cache resists scans: while there is room, whatever is read is kept; once full, content that misses is
// kept only if it has been asked for more often than the least recently used entry it would displace (counts
// halve every few capacities' worth of lookups, so yesterday's favourites fade). A mirror pulling every blob
// once therefore streams them from disk instead of flushing what everyone else is downloading.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { cacheStats } from '../stats.ts';
import type { BlobStore } from './blob-store.ts';

interface Entry {
  buf: Buffer;
  /** Lookups (hits, and the misses before it was kept), halved as the cache ages. */
  uses: number;
}

const MAX_USES = 255;
const stats = cacheStats('blob');
/** Content up to this size is read synchronously when it misses. */
const SYNC_READ_MAX = 64 * 1024;

export class BlobCache {
  private readonly map = new Map<string, Entry>();
  /** Lookups of content not in memory, while the cache was full. Cleared as the cache ages. */
  private readonly missed = new Map<string, number>();
  private bytes = 0;
  private lookups = 0;

  constructor(
    private readonly store: BlobStore,
    /** Total bytes held. */
    private readonly maxBytes = 256 * 1024 * 1024,
    /** Larger content always streams. */
    readonly maxItem = 1024 * 1024,
  ) {}

  /** Bytes of content held in memory. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** The whole content: from memory when `size` is small enough and the content earns its place, else a stream. */
  async content(digest: string, size: number): Promise<Buffer | Readable> {
    if (size > this.maxItem || this.maxBytes <= 0) return this.store.open(digest);
    this.age();
    const hit = this.map.get(digest);
    if (hit) {
      stats.hits++;
      this.map.delete(digest); // most recently used last
      this.map.set(digest, hit);
      if (hit.uses < MAX_USES) hit.uses++;
      return hit.buf;
    }
    stats.misses++;
    const uses = (this.missed.get(digest) ?? 0) + 1;
    if (this.bytes + size > this.maxBytes && !this.worthMore(uses, size)) {
      if (this.missed.size >= 65536) this.missed.clear();
      this.missed.set(digest, uses);
      // Not kept: small files are still cheapest read whole; larger ones stream through reused buffers.
      return size <= SYNC_READ_MAX ? this.read(digest, size) : this.store.open(digest);
    }
    this.missed.delete(digest);
    const buf = await this.read(digest, size);
    // Not what the metadata says, or read twice at once: serve it, keep one.
    if (buf.length !== size || this.map.has(digest)) return buf;
    this.evictFor(size);
    this.map.set(digest, { buf, uses });
    this.bytes += buf.length;
    return buf;
  }

  /** Whether content used `uses` times beats the least recently used entries that would make room for it. */
  private worthMore(uses: number, size: number): boolean {
    let free = this.maxBytes - this.bytes;
    for (const e of this.map.values()) {
      if (free >= size) return true;
      if (e.uses >= uses) return false;
      free += e.buf.length;
    }
    return free >= size;
  }

  private evictFor(size: number) {
    for (const [k, e] of this.map) {
      if (this.bytes + size <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= e.buf.length;
    }
  }

  /** Every few capacities' worth of lookups, use counts halve and forgotten misses are dropped. */
  private age() {
    if (++this.lookups < Math.max(4096, 4 * this.map.size)) return;
    this.lookups = 0;
    for (const e of this.map.values()) e.uses >>= 1;
    this.missed.clear();
  }

  /** Reads a small local file whole; undefined when it is missing. */
  private readSmall(file: string, size: number): Buffer | undefined {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      const buf = Buffer.allocUnsafe(size);
      const n = fs.readSync(fd, buf, 0, size, 0);
      return n === size ? buf : buf.subarray(0, n);
    } finally {
      fs.closeSync(fd);
    }
  }

  private async read(digest: string, size: number): Promise<Buffer> {
    const local = this.store.localPath?.(digest);
    if (local && size <= SYNC_READ_MAX) {
      // Small files are read on the event loop, as nginx reads them: three system calls cost less than the
      // three round trips through libuv's thread pool that the same read takes asynchronously (measured: the
      // dispatches alone took a quarter of the main thread while npm tarballs were first read).
      const buf = this.readSmall(local, size);
      if (buf) return buf;
    } else if (local) {
      let fh: fsp.FileHandle | undefined;
      try {
        fh = await fsp.open(local, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      if (fh) {
        try {
          // The size is known: one read, without the stat and the read to find the end that readFile costs.
          // Stored content never changes; a short file gives a short buffer, which is served but never kept.
          const buf = Buffer.allocUnsafe(size);
          const { bytesRead } = await fh.read(buf, 0, size, 0);
          return bytesRead === size ? buf : buf.subarray(0, bytesRead);
        } finally {
          await fh.close();
        }
      }
    }
    // Not a local file (or gone): the store's own stream, and its NotFound.
    const parts: Buffer[] = [];
    for await (const c of await this.store.open(digest)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }
}
