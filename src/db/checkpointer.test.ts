import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { FINISH_FRAMES, startCheckpointer } from './checkpointer.ts';
import { openDatabase } from './database.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-ckpt-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * Rows of `t` found in the database file alone, as if the log were lost: what a checkpoint has copied there.
 * A copy taken while the worker is writing pages can be torn (SQLITE_CORRUPT): that is "not yet", -1.
 */
function rowsInMainFile(file: string): number {
  const copy = path.join(dir, `copy-${Math.random().toString(36).slice(2)}.db`);
  fs.copyFileSync(file, copy);
  try {
    const db = new SQLite(copy, { readonly: true });
    try {
      const has = db.prepare("select count(*) as n from sqlite_master where name = 't'").get() as { n: number };
      return has.n ? (db.prepare('select count(*) as n from t').get() as { n: number }).n : 0;
    } finally {
      db.close();
    }
  } catch (e) {
    if ((e as { code?: string }).code === 'SQLITE_CORRUPT' || (e as { code?: string }).code === 'SQLITE_NOTADB') return -1;
    throw e;
  } finally {
    fs.rmSync(copy, { force: true });
  }
}

describe('SQLite checkpoints in a worker thread', () => {
  test('the server connection never checkpoints; the worker copies the log into the database file, on its own', async () => {
    const file = path.join(dir, 'a.db');
    const { db, checkpointer } = await openDatabase(`sqlite:${file}`, { backgroundCheckpoints: true });
    try {
      assert.ok(checkpointer);
      const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db);
      assert.equal(rows[0].wal_autocheckpoint, 0);
      await sql`create table t (x blob)`.execute(db);
      for (let i = 0; i < 300; i++) await sql`insert into t values (randomblob(4000))`.execute(db);
      // An explicit checkpoint with nothing writing meanwhile copies every frame.
      const r = await checkpointer.checkpointNow();
      assert.ok(r.log > 300, `log ${r.log}`);
      assert.equal(r.checkpointed, r.log);
      assert.equal(rowsInMainFile(file), 300);

      // Later writes reach the file without anyone asking: the worker notices the log changed.
      for (let i = 0; i < 50; i++) await sql`insert into t values (randomblob(4000))`.execute(db);
      // Polled while the worker may be mid-checkpoint: a torn copy (-1) or a partial one just means "look again".
      const deadline = Date.now() + 10_000;
      let seen = rowsInMainFile(file);
      while (seen !== 350 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        seen = rowsInMainFile(file);
      }
      assert.equal(seen, 350);
    } finally {
      await db.destroy();
    }
    // The worker's connection closed first, so the server's was the last one: it checkpointed and removed the log.
    assert.equal(fs.existsSync(`${file}-wal`), false);
  });

  test('without background checkpoints (a CLI command) SQLite checkpoints as usual', async () => {
    const { db, checkpointer } = await openDatabase(`sqlite:${path.join(dir, 'b.db')}`);
    try {
      assert.equal(checkpointer, undefined);
      const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db);
      assert.equal(rows[0].wal_autocheckpoint, 1000);
    } finally {
      await db.destroy();
    }
  });

  test('past FINISH_FRAMES of log the server connection is asked to finish, not before', async () => {
    const file = path.join(dir, 'd.db');
    const writer = new SQLite(file);
    writer.pragma('journal_mode = WAL');
    writer.pragma('wal_autocheckpoint = 0');
    writer.exec('create table t (x blob)');
    let finishes = 0;
    const c = startCheckpointer(file, { everyMs: 60_000, onFailure: (e) => assert.fail(e), finish: () => finishes++ });
    try {
      const insert = writer.prepare('insert into t values (randomblob(4000))');
      for (let i = 0; i < 100; i++) insert.run();
      assert.ok((await c.checkpointNow()).log < FINISH_FRAMES);
      assert.equal(finishes, 0);
      for (let i = 0; i < FINISH_FRAMES; i++) insert.run();
      assert.ok((await c.checkpointNow()).log >= FINISH_FRAMES);
      assert.equal(finishes, 1);
    } finally {
      await c.close();
      writer.close();
    }
  });

  test('a worker that cannot run reports it once, and checkpointNow rejects', async () => {
    const file = path.join(dir, 'c.db');
    new SQLite(file).pragma('journal_mode = WAL');
    const failures: Error[] = [];
    const c = startCheckpointer(file, { module: path.join(dir, 'no-such-module.js'), onFailure: (e) => failures.push(e) });
    // The worker starts with the first checkpoint (an idle server never runs it): that one fails, and so do later ones.
    assert.equal(failures.length, 0);
    await assert.rejects(c.checkpointNow());
    assert.equal(failures.length, 1);
    await assert.rejects(c.checkpointNow());
    await c.close();
    assert.equal(failures.length, 1);
  });
});
