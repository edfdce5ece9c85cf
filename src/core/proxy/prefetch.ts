// Work a proxy does ahead of its clients (an npm proxy fetching the packuments and tarballs a client resolving a
// tree will ask for next: formats/npm/proxy.ts). A bounded queue run a few jobs at a time, so that the upstream
// sees at most `concurrency` such requests from this process; a key queued recently is not queued again. Jobs
// are best effort: a failure is logged at debug and forgotten (the client's own request reports it, if it comes).
import type { Logger } from 'pino';

export interface PrefetchOptions {
  /** Jobs running at once. */
  concurrency: number;
  /** Jobs waiting at most; more are dropped (a client asking for them fetches them itself). */
  maxQueued: number;
  /** How long a key stays known after it was queued, and how many are remembered. */
  rememberMs: number;
  remember: number;
}

export const DEFAULT_PREFETCH: PrefetchOptions = { concurrency: 8, maxQueued: 10_000, rememberMs: 60_000, remember: 20_000 };

export class Prefetcher {
  private readonly queue: { key: string; run: () => Promise<unknown> }[] = [];
  private readonly seen = new Map<string, number>();
  private running = 0;
  private stopped = false;
  private waiters: (() => void)[] = [];

  constructor(private readonly opts: PrefetchOptions = DEFAULT_PREFETCH, private readonly logger?: Logger) {}

  /** Queues `run` unless `key` was queued recently, the queue is full or prefetching stopped; true if queued. */
  add(key: string, run: () => Promise<unknown>): boolean {
    if (this.stopped) return false;
    const now = Date.now();
    const at = this.seen.get(key);
    if (at !== undefined && now - at < this.opts.rememberMs) return false;
    if (this.queue.length >= this.opts.maxQueued) return false;
    this.seen.delete(key);
    this.seen.set(key, now);
    if (this.seen.size > this.opts.remember) this.seen.delete(this.seen.keys().next().value!);
    this.queue.push({ key, run });
    // Started after the answer in progress is sent (add() is called while a client waits for it).
    if (this.queue.length === 1) setImmediate(() => this.pump());
    return true;
  }

  private pump(): void {
    while (this.running < this.opts.concurrency && this.queue.length) {
      const job = this.queue.shift()!;
      this.running++;
      job
        .run()
        .catch((err) => this.logger?.debug({ err, key: job.key }, 'proxy: prefetch failed'))
        .finally(() => {
          this.running--;
          this.pump();
          if (!this.running && !this.queue.length) for (const w of this.waiters.splice(0)) w();
        });
    }
  }

  /** Jobs running or waiting (waiting ones start within an event-loop turn). */
  get pending(): number {
    return this.running + this.queue.length;
  }

  /** Resolves once nothing is running or waiting. */
  idle(): Promise<void> {
    if (!this.pending) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Drops what waits and queues nothing more; resolves once the running jobs ended. */
  stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    return this.idle();
  }
}
