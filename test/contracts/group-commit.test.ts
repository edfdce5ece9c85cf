// Group commit (src/db/group-commit.ts) on SQLite: changes queued together share one transaction, each in its own
// savepoint; a failing change is undone alone and its caller gets its own error; nobody hears of success before the
// commit; a lone change runs as before. Publishing through it is covered by the format suites (the server uses it
// on SQLite); this checks its promises directly.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openDatabase, isUniqueViolation, type Db } from '../../src/db/database.ts';
import { GroupCommit } from '../../src/db/group-commit.ts';
import { createDatabase, type TestDatabase } from '../helpers/databases.ts';

describe('group commit on sqlite', () => {
  let td: TestDatabase;
  let db: Db;
  before(async () => {
    td = await createDatabase('sqlite');
    db = (await openDatabase(td.url)).db;
    await db.insertInto('owners').values({ kind: 'user', name: 'g', lower_name: 'g', email: null, password_hash: null, is_admin: 0, created_at: '2026-01-01' }).execute();
  });
  after(async () => {
    await db.destroy();
    await td.drop();
  });

  const owner = async () => (await db.selectFrom('owners').select('id').where('name', '=', 'g').executeTakeFirstOrThrow()).id;
  const addPackage = (trx: Db, ownerId: number, name: string) =>
    trx.insertInto('packages').values({
      owner_id: ownerId, type: 'npm', name, lower_name: name, visibility: 'private', repository_id: null, inherit_access: 1, metadata: '{}', revision: 1, created_at: '2026-01-01', updated_at: '2026-01-01', deleted_at: null,
    }).execute();
  const names = async () => (await db.selectFrom('packages').select('name').orderBy('name').execute()).map((r) => r.name);

  test('ten changes queued together: one transaction, each in a savepoint; the failing ones are undone alone', async () => {
    const g = new GroupCommit(db);
    const id = await owner();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        g.run(async (trx) => {
          await addPackage(trx, id, `p${i}`);
          if (i === 3 || i === 7) throw new Error(`change ${i} fails after writing`);
          return i;
        }),
      ),
    );
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    assert.match(String((results[3] as PromiseRejectedResult).reason), /change 3 fails/);
    assert.deepEqual(await names(), ['p0', 'p1', 'p2', 'p4', 'p5', 'p6', 'p8', 'p9']);
  });

  test('two changes writing the same unique row in one group: exactly one wins, the other gets the unique violation', async () => {
    const g = new GroupCommit(db);
    const id = await owner();
    const results = await Promise.allSettled([g.run((trx) => addPackage(trx, id, 'twice')), g.run((trx) => addPackage(trx, id, 'twice')), g.run((trx) => addPackage(trx, id, 'once'))]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.ok(isUniqueViolation((results[1] as PromiseRejectedResult).reason));
    assert.equal((await names()).filter((n) => n === 'twice').length, 1);
    assert.ok((await names()).includes('once'));
  });

  test('nobody hears of success before the commit: a reader on resolve sees the row; a lone change fails as a whole', async () => {
    const g = new GroupCommit(db);
    const id = await owner();
    const seen = await Promise.all(
      ['r1', 'r2', 'r3'].map(async (n) => {
        await g.run((trx) => addPackage(trx, id, n));
        // Outside the transaction (it would wait for the connection until the commit otherwise): committed.
        return !!(await db.selectFrom('packages').select('id').where('name', '=', n).executeTakeFirst());
      }),
    );
    assert.deepEqual(seen, [true, true, true]);
    await assert.rejects(
      g.run(async (trx) => {
        await addPackage(trx, id, 'alone');
        throw new Error('lone failure');
      }),
      /lone failure/,
    );
    assert.ok(!(await names()).includes('alone'));
  });

  test('changes queued while a group runs form the next group, in order', async () => {
    const g = new GroupCommit(db, 4);
    const id = await owner();
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        g.run(async (trx) => {
          order.push(i);
          await addPackage(trx, id, `o${i}`);
        }),
      ),
    );
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.equal((await names()).filter((n) => /^o\d+$/.test(n)).length, 12);
  });
});
