// Work a proxy does ahead of its clients (an npm proxy fetching the packuments and tarballs a client resolving a
// tree will ask for next: formats/npm/proxy.ts). A bounded queue run a few jobs at a time, so that the upstream
// sees at most `concurrency` such requests from this process; a key queued recently is not queued again. Jobs
// are best effort: a failure is logged at debug and forgotten (the client's own request reports it, if it comes).
import type { Logger } from 'pino';

export interface PrefetchOptions {
  /** Jobs running at once. */
  concurrency: number;
  /** `then` jobs (files) running at once: fewer, so that they leave the upstream to the documents clients wait for. */
  thenConcurrency: number;
  /** Jobs waiting at most; more are dropped (a client asking for them fetches them itself). */
  maxQueued: number;
  /** How long a key stays known after it was queued, and how many are remembered. */
  rememberMs: number;
  remember: number;
}

export const DEFAULT_PREFETCH: PrefetchOptions = { concurrency: 8, thenConcurrency: 2, maxQueued: 10_000, rememberMs: 60_000, remember: 20_000 };

export class Prefetcher {
  /** Waiting jobs: `first` (documents, which the client's next request needs) before `then` (files, needed later). */
  private readonly queues: Record<'first' | 'then', { key: string; run: () => Promise<unknown> }[]> = { first: [], then: [] };
  private readonly seen = new Map<string, number>();
  private running = 0;
  private runningThen = 0;
  private stopped = false;
  private waiters: (() => void)[] = [];

  constructor(private readonly opts: PrefetchOptions = DEFAULT_PREFETCH, private readonly logger?: Logger) {}

  private get waiting(): number {
    return this.queues.first.length + this.queues.then.length;
  }

  /**
   * Queues `run` unless `key` was queued recently, the queue is full or prefetching stopped; true if queued.
   * `then`: only once no `first` job waits.
   */
  add(key: string, run: () => Promise<unknown>, order: 'first' | 'then' = 'first'): boolean {
    if (this.stopped) return false;
    const now = Date.now();
    const at = this.seen.get(key);
    if (at !== undefined && now - at < this.opts.rememberMs) return false;
    if (this.waiting >= this.opts.maxQueued) return false;
    this.seen.delete(key);
    this.seen.set(key, now);
    if (this.seen.size > this.opts.remember) this.seen.delete(this.seen.keys().next().value!);
    this.queues[order].push({ key, run });
    // Started after the answer in progress is sent (add() is called while a client waits for it).
    if (this.waiting === 1) setImmediate(() => this.pump());
    return true;
  }

  private pump(): void {
    while (this.running < this.opts.concurrency) {
      const order = this.queues.first.length ? 'first' : this.queues.then.length && this.runningThen < this.opts.thenConcurrency ? 'then' : undefined;
      if (!order) return;
      const job = this.queues[order].shift()!;
      this.running++;
      if (order === 'then') this.runningThen++;
      job
        .run()
        .catch((err) => this.logger?.debug({ err, key: job.key }, 'proxy: prefetch failed'))
        .finally(() => {
          this.running--;
          if (order === 'then') this.runningThen--;
          this.pump();
          if (!this.running && !this.waiting) for (const w of this.waiters.splice(0)) w();
        });
    }
  }

  /** Jobs running or waiting (waiting ones start within an event-loop turn). */
  get pending(): number {
    return this.running + this.waiting;
  }

  /** Resolves once nothing is running or waiting. */
  idle(): Promise<void> {
    if (!this.pending) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Drops what waits and queues nothing more; resolves once the running jobs ended. */
  stop(): Promise<void> {
    this.stopped = true;
    this.queues.first.length = 0;
    this.queues.then.length = 0;
    return this.idle();
  }
}
