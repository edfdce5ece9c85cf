// The databases every storage and API suite runs on: SQLite always, PostgreSQL from WHARF_TEST_DATABASE_URL
// (a fresh database per run, dropped afterwards). In CI a missing PostgreSQL is a failure, not a skip.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  url: string;
  drop(): Promise<void>;
}

export const pgAdminUrl = process.env.WHARF_TEST_DATABASE_URL;

/** The dialects to run on. Throws in CI when PostgreSQL is not configured. */
export function dialects(): ('sqlite' | 'postgres')[] {
  if (pgAdminUrl) return ['sqlite', 'postgres'];
  if (process.env.CI) throw new Error('WHARF_TEST_DATABASE_URL must be set in CI: the PostgreSQL suite may not be skipped');
  return ['sqlite'];
}

/** A fresh, empty database of that dialect. */
export async function createDatabase(name: 'sqlite' | 'postgres', dataDir?: string): Promise<TestDatabase> {
  if (name === 'sqlite') {
    const dir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-db-'));
    return { name, url: `sqlite:${path.join(dir, 'wharf.db')}`, drop: async () => {} };
  }
  if (!pgAdminUrl) throw new Error('WHARF_TEST_DATABASE_URL is not set');
  const dbName = `wharf_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: pgAdminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const url = new URL(pgAdminUrl);
  url.pathname = `/${dbName}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: pgAdminUrl });
      await c.connect();
      await c.query(`drop database if exists ${dbName} with (force)`);
      await c.end();
    },
  };
}
