// A byte-bounded LRU of serialized packuments, keyed by package and variant, valid for one package revision.
// Every node checks the revision it read from the database, so caches never serve a stale document.
import { cacheStats } from '../../core/stats.ts';

export interface CachedDocument {
  revision: number;
  body: Buffer;
  etag: string;
}

const stats = cacheStats('npm_packument');

export class PackumentCache {
  private readonly map = new Map<string, CachedDocument>();
  private bytes = 0;
  constructor(private readonly maxBytes: number) {}

  get(key: string, revision: number): CachedDocument | undefined {
    const e = this.map.get(key);
    if (!e) {
      stats.misses++;
      return undefined;
    }
    if (e.revision !== revision) {
      stats.misses++;
      this.delete(key);
      return undefined;
    }
    stats.hits++;
    this.map.delete(key); // refresh recency
    this.map.set(key, e);
    return e;
  }

  set(key: string, e: CachedDocument): void {
    if (e.body.length > this.maxBytes / 4) return;
    this.delete(key);
    this.map.set(key, e);
    this.bytes += e.body.length;
    for (const [k] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.delete(k);
    }
  }

  private delete(key: string): void {
    const e = this.map.get(key);
    if (!e) return;
    this.map.delete(key);
    this.bytes -= e.body.length;
  }
}
