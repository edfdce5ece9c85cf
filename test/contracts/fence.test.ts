// The write marks of blobs/fence.ts on every dialect: marks asked for together are written in one statement, each
// caller goes on only once its mark is committed, and a failed statement fails every caller of its batch.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KyselyPlugin } from 'kysely';
import { markWritten, Marks } from '../../src/core/blobs/fence.ts';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { createDatabase, dialects, type TestDatabase } from '../helpers/databases.ts';

const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;

for (const dialect of dialects()) {
  describe(`blob write marks on ${dialect}`, () => {
    let td: TestDatabase;
    let db: Db;
    let statements: string[] = [];
    let counted: Db;
    before(async () => {
      td = await createDatabase(dialect);
      db = (await openDatabase(td.url)).db;
      const counter: KyselyPlugin = {
        transformQuery: (a) => (statements.push(a.node.kind), a.node),
        transformResult: async (a) => a.result,
      };
      counted = db.withPlugin(counter) as Db;
    });
    after(async () => {
      await db.destroy();
      await td.drop();
    });

    test('marks asked for together are one statement; every caller finds its mark committed', async () => {
      const marks = new Marks(counted);
      statements = [];
      const callers = Array.from({ length: 20 }, (_, i) => [digest(i), digest(i + 1)]);
      await Promise.all(
        callers.map(async (ds) => {
          await marks.mark(ds);
          // Committed when the caller goes on: another connection's read sees it.
          const rows = await db.selectFrom('blob_writes').select('digest').where('digest', 'in', ds).execute();
          assert.equal(rows.length, ds.length);
        }),
      );
      assert.deepEqual(statements, ['InsertQueryNode'], 'one insert for the 20 callers (21 distinct digests)');
      const all = await db.selectFrom('blob_writes').select(['digest', 'written_at']).execute();
      assert.equal(all.length, 21);
      assert.equal(new Set(all.map((r) => r.written_at)).size, 1);
    });

    test('a mark asked for after a batch went out is a batch of its own, and refreshes the time', async () => {
      const marks = new Marks(counted);
      statements = [];
      await marks.mark([digest(1)]);
      const first = (await db.selectFrom('blob_writes').select('written_at').where('digest', '=', digest(1)).executeTakeFirstOrThrow()).written_at;
      await new Promise((r) => setTimeout(r, 5));
      await marks.mark([digest(1)]);
      const second = (await db.selectFrom('blob_writes').select('written_at').where('digest', '=', digest(1)).executeTakeFirstOrThrow()).written_at;
      assert.equal(statements.length, 2);
      assert.ok(second > first, `${second} > ${first}`);
    });

    test('markWritten still refuses stored content that a collection removed meanwhile', async () => {
      await assert.rejects(markWritten(db, [digest(99)], [digest(99)], async () => false), /removed by garbage collection/);
      await markWritten(db, [digest(98)], [digest(98)], async () => true);
    });

    test('a failed statement fails every caller of its batch, and the next batch works', async () => {
      let fail = true;
      const failing: KyselyPlugin = {
        transformQuery: (a) => a.node,
        transformResult: async (a) => {
          if (fail) throw new Error('disk on fire');
          return a.result;
        },
      };
      const marks = new Marks(db.withPlugin(failing) as Db);
      const results = await Promise.allSettled([marks.mark([digest(200)]), marks.mark([digest(201)]), marks.mark([digest(202)])]);
      assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
      fail = false;
      await marks.mark([digest(203)]);
      assert.ok(await db.selectFrom('blob_writes').select('digest').where('digest', '=', digest(203)).executeTakeFirst());
    });
  });
}
