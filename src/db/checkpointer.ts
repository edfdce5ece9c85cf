// SQLite checkpoints off the event loop. A checkpoint copies the write-ahead log into the database file and fsyncs
// both; run by the server's own connection (SQLite's automatic checkpoint, every ~1000 pages of log) it is
// synchronous, and it stalled every request for 2-15 ms every few dozen publishes on this machine. Here a worker
// thread with its own connection to the same file runs PASSIVE checkpoints (they never block readers or writers)
// once the log has grown by ~1000 pages, or every 2 s while it keeps changing once it has checkpointed. The worker starts with the first checkpoint: an idle server never runs it. The server's connection checkpoints only to let the log restart after a long
// burst of writes (a short one: the worker copied the rest, see FINISH_FRAMES), or for good if the worker is gone.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/** The automatic checkpoint SQLite does by default (pages of log), restored if the worker fails. */
export const DEFAULT_AUTOCHECKPOINT = 1000;
/** Growth of the log file that starts a checkpoint at once (the ~1000 pages of SQLite's default). */
const GROW_BYTES = 4 * 1024 * 1024;
/** Frames of log (16 MiB of 4 KiB pages) past which the server's connection finishes a checkpoint itself. */
export const FINISH_FRAMES = 4096;

export interface Checkpointer {
  /** Resolves once a checkpoint that began after this call has finished (tests and shutdown use it). */
  checkpointNow(): Promise<CheckpointResult>;
  close(): Promise<void>;
}

export interface CheckpointResult {
  /** Frames in the log, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
}

// Plain JavaScript, so that the worker needs no TypeScript loader; better-sqlite3 comes by absolute path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
parentPort.on('message', (m) => {
  if (m === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ error: String((e && e.message) || e) });
  }
});
`;

/**
 * Starts checkpointing `file` (a SQLite database in WAL mode) in a worker thread, looking at the log every
 * `everyMs`. `onFailure` runs once if the worker cannot run: the caller turns SQLite's automatic checkpoint back on.
 */
export function startCheckpointer(file: string, opts: { everyMs?: number; minGapMs?: number; onFailure: (err: Error) => void; finish?: () => void; module?: string }): Checkpointer {
  const wal = `${file}-wal`;
  const module = opts.module ?? createRequire(import.meta.url).resolve('better-sqlite3');
  // The worker (its own V8 isolate: ~10 MiB and tens of ms of CPU) starts with the first checkpoint, so a server
  // that has written nothing since it started does without it.
  let worker: Worker | null = null;
  let failed: Error | null = null;
  let closing = false;
  let running: { done: Promise<CheckpointResult>; settle: (r: CheckpointResult | Error) => void } | null = null;
  let queued: Promise<CheckpointResult> | null = null;

  const fail = (err: Error) => {
    if (failed || closing) return;
    failed = err;
    clearInterval(timer);
    running?.settle(err);
    running = null;
    opts.onFailure(err);
  };
  const startWorker = (): Worker => {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, module } });
    w.unref();
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the checkpoint worker exited (code ${code})`)));
    w.on('message', (m: { log: number; checkpointed: number } | { error: string }) => {
      const r = running;
      running = null;
      if (!queued) w.unref();
      if (!r) return;
      // A busy or failed checkpoint is not fatal: the next one catches up.
      r.settle('error' in m ? new Error(`checkpoint failed: ${m.error}`) : m);
      // The log starts over from its beginning only when a writer begins with every frame copied; under steady
      // writes the server is nearly always mid-transaction when the worker finishes, so the log would only grow.
      // Past FINISH_FRAMES the server's connection copies the few frames written since (a short checkpoint), and its
      // next write restarts the log.
      if (!('error' in m) && m.log >= FINISH_FRAMES) opts.finish?.();
    });
    return w;
  };

  const start = (): Promise<CheckpointResult> => {
    if (failed) return Promise.reject(failed);
    let settle!: (r: CheckpointResult | Error) => void;
    const done = new Promise<CheckpointResult>((resolve, reject) => {
      settle = (r) => (r instanceof Error ? reject(r) : resolve(r));
    });
    done.catch(() => {});
    running = { done, settle };
    worker ??= startWorker();
    // Held while a checkpoint is under way (someone may be waiting for it), idle otherwise.
    worker.ref();
    worker.postMessage('checkpoint');
    return done;
  };
  const checkpointNow = (): Promise<CheckpointResult> => {
    if (!running) return start();
    // The one under way may have begun before the caller's writes: chain one that begins after it.
    queued ??= running.done.catch(() => {}).then(() => {
      queued = null;
      return start();
    });
    return queued;
  };

  // Like SQLite's own trigger (every ~1000 pages), not at every write: each checkpoint fsyncs the log and the
  // database file, and those compete with the fsyncs of uploads and publishes. So: once the log has grown by
  // GROW_BYTES, or every `minGapMs` while it keeps changing without growing (a restarted log is overwritten in place).
  // The log as found at start (a first start's schema, or what the last run left) is no reason for a checkpoint.
  let last = { mtime: -1, size: 0, at: 0 };
  try {
    const st = fs.statSync(wal);
    last = { mtime: st.mtimeMs, size: st.size, at: Date.now() };
  } catch {
    // no log yet
  }
  const timer = setInterval(() => {
    if (running || queued) return;
    let st: fs.Stats;
    try {
      st = fs.statSync(wal);
    } catch {
      return; // no log yet
    }
    if (st.mtimeMs === last.mtime) return;
    const now = Date.now();
    // Until this process has checkpointed once, the log only grows (it restarts only once fully copied), and a
    // few writes after start (the schema, the settings a first start writes) wait for more like SQLite's own
    // trigger: a server that has written little since it started does without the worker.
    if (st.size - last.size < GROW_BYTES && (!worker || now - last.at < (opts.minGapMs ?? 2000))) return;
    last = { mtime: st.mtimeMs, size: st.size, at: now };
    checkpointNow().catch(() => {});
  }, opts.everyMs ?? 200);
  timer.unref();

  return {
    checkpointNow,
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(timer);
      const w = worker;
      if (failed || !w) return;
      await running?.done.catch(() => {});
      await queued?.catch(() => {});
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.ref();
      w.postMessage('close');
      // Its connection closes before the server's, which then does the final checkpoint itself.
      await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 2000).unref())]);
      await w.terminate();
    },
  };
}
