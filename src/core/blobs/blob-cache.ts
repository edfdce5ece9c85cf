// Small content kept in memory by digest. Content-addressed blobs never change, so a cached copy is never
// stale, on any node. Most package files are small (npm tarballs, POMs, nuspecs, manifests), and sending a
// Buffer costs a fraction of opening, reading and closing a file per request.
import type { Readable } from 'node:stream';
import fsp from 'node:fs/promises';
import type { BlobStore } from './blob-store.ts';

export class BlobCache {
  private readonly map = new Map<string, Buffer>();
  private bytes = 0;

  constructor(
    private readonly store: BlobStore,
    /** Total bytes held. */
    private readonly maxBytes = 256 * 1024 * 1024,
    /** Larger content always streams. */
    readonly maxItem = 1024 * 1024,
  ) {}

  /** The whole content: from memory when `size` is small enough, else a stream from the store. */
  async content(digest: string, size: number): Promise<Buffer | Readable> {
    if (size > this.maxItem || this.maxBytes <= 0) return this.store.open(digest);
    const hit = this.map.get(digest);
    if (hit) {
      this.map.delete(digest); // most recently used last
      this.map.set(digest, hit);
      return hit;
    }
    const buf = await this.read(digest);
    if (buf.length !== size) return buf; // not what the metadata says: serve it, keep nothing
    this.map.set(digest, buf);
    this.bytes += buf.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
    return buf;
  }

  private async read(digest: string): Promise<Buffer> {
    const local = this.store.localPath?.(digest);
    if (local) {
      try {
        return await fsp.readFile(local);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        await this.store.open(digest); // the store's own NotFound
      }
    }
    const parts: Buffer[] = [];
    for await (const c of await this.store.open(digest)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }
}
