// Opens the database named by a URL (sqlite:PATH or postgres://…) behind one Kysely type, and migrates it.
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { Migrations } from './migrations.ts';
import type { Database } from './tables.ts';

export type Db = Kysely<Database>;
export type DialectName = 'sqlite' | 'postgres';

// int8 (counts, sums, bigint ids) arrive as strings from node-postgres; every value we keep fits a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

/** Opens (creating if needed) and migrates the database at `url`. */
export async function openDatabase(url: string): Promise<{ db: Db; dialect: DialectName }> {
  let db: Db;
  let dialect: DialectName;
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    // FULL: a committed publish survives power loss, not only a crash of the process.
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    // The CLI and the server share the file; writers wait for each other instead of failing.
    sqlite.pragma('busy_timeout = 10000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
    dialect = 'sqlite';
  } else {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    // An idle connection dropped by the server (restart, failover) must not crash the process: the pool replaces it.
    pool.on('error', (err) => process.emitWarning(`PostgreSQL idle connection error: ${err.message}`));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    dialect = 'postgres';
  }
  const migrator = new Migrator({ db, provider: new Migrations(dialect) });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  return { db, dialect };
}

/**
 * better-sqlite3 with prepared statements reused: Kysely prepares every query anew, which costs as much as
 * running it on the hot paths (packument GET, publish). Statements are used synchronously, so sharing is safe.
 */
function cachingStatements(sqlite: SQLite.Database) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
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
