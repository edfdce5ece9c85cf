// Opens the database named by a URL (sqlite:PATH or postgres://…) behind one Kysely type, and migrates it.
import fs from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, SqliteDialect, type DatabaseConnection, type Dialect, type Driver } from 'kysely';
import { Changes, listenForChanges, observedDialect } from './changes.ts';
import { DEFAULT_AUTOCHECKPOINT, startCheckpointer, type Checkpointer } from './checkpointer.ts';
import { Migrations } from './migrations.ts';
import type { Database } from './tables.ts';

const fdatasync = promisify(fs.fdatasync);

export type Db = Kysely<Database>;
export type DialectName = 'sqlite' | 'postgres';

/** node-postgres, loaded when a PostgreSQL database is opened: a server on SQLite never pays for it (memory, start). */
async function loadPg() {
  const { default: pg } = await import('pg');
  // int8 (counts, sums, bigint ids) arrive as strings from node-postgres; every value we keep fits a JS number.
  pg.types.setTypeParser(20, (v) => Number(v));
  return pg;
}

export interface OpenOptions {
  /**
   * SQLite: checkpoint the write-ahead log in a worker thread (see checkpointer.ts) rather than synchronously in
   * the commit that fills it. For long-running processes (the server); a short CLI command does without.
   */
  backgroundCheckpoints?: boolean;
}

/**
 * Opens (creating if needed) and migrates the database at `url`. `durable()` resolves once every transaction
 * committed so far is on disk: callers await it before acknowledging a change.
 */
export async function openDatabase(url: string, opts: OpenOptions = {}): Promise<{ db: Db; dialect: DialectName; durable: () => Promise<void>; changes: Changes; checkpointer?: Checkpointer }> {
  let db: Db;
  let checkpointer: Checkpointer | undefined;
  let startLater = () => {};
  let dialect: DialectName;
  let durable = async () => {};
  const changes = new Changes();
  let sqliteHandle: SQLite.Database | null = null;
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const sqlite = new SQLite(file);
    // Several nodes opening a fresh file at once: switching it to WAL takes an exclusive lock, and where two
    // connections would deadlock upgrading their locks SQLite answers BUSY at once, without its busy wait.
    for (const deadline = Date.now() + 10_000; ; ) {
      try {
        sqlite.pragma('journal_mode = WAL');
        break;
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 10 + Math.random() * 40));
      }
    }
    // Commits do not fsync on the event loop (better-sqlite3 is synchronous, so FULL would block every request
    // for the length of a disk flush); instead durable() fsyncs the write-ahead log in libuv's thread pool, and
    // every change is acknowledged only after it. Concurrent commits share one flush (group commit), and an
    // acknowledged change survives power loss as with synchronous = FULL.
    sqlite.pragma('synchronous = NORMAL');
    let closeLog = () => {};
    if (file !== ':memory:') {
      const wal = `${path.resolve(file)}-wal`;
      let running: Promise<void> | null = null;
      let next: Promise<void> | null = null;
      // The log stays open between flushes (SQLite keeps the file while this connection is open; opening and
      // closing it were two of a publish's thread-pool round trips). It is reopened if the file was replaced.
      let log: { fd: number; ino: number } | null = null;
      const walFd = (): number | null => {
        let ino: number;
        try {
          ino = fs.statSync(wal).ino;
        } catch {
          return null; // no WAL yet: nothing uncheckpointed to flush
        }
        if (log?.ino !== ino) {
          if (log) fs.closeSync(log.fd);
          const fd = fs.openSync(wal, 'r');
          log = { fd, ino: fs.fstatSync(fd).ino };
        }
        return log.fd;
      };
      closeLog = () => {
        if (log) fs.closeSync(log.fd);
        log = null;
      };
      const flush = async () => {
        const fd = walFd();
        if (fd !== null) await fdatasync(fd);
      };
      const start = () => (running = flush().finally(() => (running = null)));
      durable = () => {
        if (!running) return start();
        // The flush under way may have begun before the caller's commit: wait for one that begins after it.
        next ??= running.catch(() => {}).then(() => {
          next = null;
          return start();
        });
        return next;
      };
    }
    sqlite.pragma('foreign_keys = ON');
    // The CLI and the server share the file; writers wait for each other instead of failing.
    sqlite.pragma('busy_timeout = 10000');
    // Commits by other processes on this file (the CLI while the server runs) move data_version.
    const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
    changes.watchOtherProcesses(() => dataVersion.get());
    // Checkpoints go to a worker thread; it is started after the migrations (startLater, below).
    if (opts.backgroundCheckpoints && file !== ':memory:') {
      sqlite.pragma('wal_autocheckpoint = 0');
      // A log that grew under a burst of writes is cut back to 16 MiB when it restarts.
      sqlite.pragma('journal_size_limit = 16777216');
      startLater = () => {
        checkpointer = startCheckpointer(path.resolve(file), {
          onFailure: (err) => {
            process.emitWarning(`SQLite checkpoints are back on the main thread: ${err.message}`);
            if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT}`);
          },
          finish: () => {
            if (sqlite.open && !sqlite.inTransaction) sqlite.pragma('wal_checkpoint(PASSIVE)');
          },
        });
      };
    }
    const stopCheckpoints = async () => checkpointer?.close();
    db = new Kysely<Database>({ dialect: observedDialect(immediateTransactions(new SqliteDialect({ database: cachingStatements(sqlite, () => closeLog()) })), changes, stopCheckpoints) });
    dialect = 'sqlite';
    sqliteHandle = sqlite;
  } else {
    const pg = await loadPg();
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    // An idle connection dropped by the server (restart, failover) must not crash the process: the pool replaces it.
    pool.on('error', (err) => process.emitWarning(`PostgreSQL idle connection error: ${err.message}`));
    const stopListening = listenForChanges(changes, pool, () => new pg.Client({ connectionString: url }));
    db = new Kysely<Database>({ dialect: observedDialect(new PostgresDialect({ pool }), changes, stopListening) });
    dialect = 'postgres';
  }
  const migrator = new Migrator({ db, provider: new Migrations(dialect) });
  // Nodes (or the server and a CLI command) starting together on one database migrate it once. PostgreSQL:
  // Kysely's migrator holds an advisory lock and runs in one transaction. SQLite: Kysely runs migrations outside any
  // transaction and without a lock (its adapter assumes a single connection), so two processes on a fresh file
  // would both create the tables; the whole migration runs here under the file's write lock instead
  // (BEGIN IMMEDIATE waits for it, up to busy_timeout), and the second process finds nothing left to do.
  const locked = sqliteHandle ? ((sqliteHandle.exec('BEGIN IMMEDIATE'), sqliteHandle)) : null;
  const { error } = await migrator.migrateToLatest();
  if (locked?.inTransaction) locked.exec(error ? 'ROLLBACK' : 'COMMIT');
  if (error) {
    await db.destroy();
    throw error;
  }
  // After the migrations: the log they wrote on a first start is no reason to start the worker (see checkpointer.ts).
  startLater();
  return { db, dialect, durable, changes, checkpointer };
}

/**
 * better-sqlite3 with prepared statements reused: Kysely prepares every query anew, which costs as much as
 * running it on the hot paths (packument GET, publish). Statements are used synchronously, so sharing is safe.
 */
function cachingStatements(sqlite: SQLite.Database, onClose: () => void) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      onClose();
      sqlite.close();
    },
    prepare(sql: string) {
      let st = cache.get(sql);
      if (!st) {
        st = sqlite.prepare(sql);
        if (cache.size >= 500) cache.delete(cache.keys().next().value!);
        cache.set(sql, st);
      }
      return st;
    },
  };
}

/** True when `err` is a unique-constraint violation on either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * SQLite transactions that take the file's write lock when they begin (BEGIN IMMEDIATE) rather than at their first
 * write (Kysely's BEGIN). Another process writes this file too (the CLI; `wharf gc` beside a running server): a
 * deferred transaction that has read and then writes after the other process committed cannot be upgraded and fails
 * at once with SQLITE_BUSY (its snapshot is stale; busy_timeout does not apply), where an immediate one waits for
 * the lock (busy_timeout) and then reads the latest data. One connection per process runs one transaction at a
 * time anyway, so nothing in this process waits longer for it.
 */
function immediateTransactions(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createDriver: (): Driver => {
      const inner = dialect.createDriver();
      return {
        init: () => inner.init(),
        acquireConnection: () => inner.acquireConnection(),
        beginTransaction: async (c: DatabaseConnection) => {
          await c.executeQuery(CompiledQuery.raw('begin immediate'));
        },
        commitTransaction: (c) => inner.commitTransaction(c),
        rollbackTransaction: (c) => inner.rollbackTransaction(c),
        savepoint: inner.savepoint?.bind(inner),
        rollbackToSavepoint: inner.rollbackToSavepoint?.bind(inner),
        releaseSavepoint: inner.releaseSavepoint?.bind(inner),
        releaseConnection: (c) => inner.releaseConnection(c),
        destroy: () => inner.destroy(),
      };
    },
  };
}
