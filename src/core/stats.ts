// Counters the core keeps for /metrics, as plain numbers: a cache lookup costs an increment, not a labelled
// metric update, and the core needs no metrics library. src/http/metrics.ts reads them when it is scraped.
// They are per process (a process is a node), whatever number of cores it builds (tests build several).

/** Lookups of one kind of read cache, added up over every instance of it. */
export class CacheStats {
  hits = 0;
  misses = 0;
}

const caches = new Map<string, CacheStats>();

/** The shared counters of the cache kind `name` (a short fixed name: it becomes a metric label). */
export function cacheStats(name: string): CacheStats {
  let s = caches.get(name);
  if (!s) caches.set(name, (s = new CacheStats()));
  return s;
}

/** Every cache kind with its counters. */
export function allCacheStats(): ReadonlyMap<string, CacheStats> {
  return caches;
}

/** What happened to one blob store operation: done, absent content (not a failure), content refused, or an error. */
export type BlobOutcome = 'ok' | 'not_found' | 'rejected' | 'error';

type BlobObserver = (op: string, outcome: BlobOutcome, seconds: number) => void;
const blobObservers = new Set<BlobObserver>();

/** Adds (or with `on` false, removes) a function called after every blob store operation (instrumentBlobStore). */
export function observeBlobOps(fn: BlobObserver, on: boolean): void {
  if (on) blobObservers.add(fn);
  else blobObservers.delete(fn);
}

export function recordBlobOp(op: string, outcome: BlobOutcome, seconds: number): void {
  for (const f of blobObservers) f(op, outcome, seconds);
}
