// Migration 0023: a job token no longer reaches a linked package that does not inherit its repository's access;
// an image a job had started before the upgrade (linked, not yet inheriting, no version) keeps its job's reach
// through the grant a job's new package gets today, and nothing else gains a grant.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { Migrations } from '../../src/db/migrations.ts';
import { createDatabase, dialects, type TestDatabase } from '../helpers/databases.ts';

for (const dialect of dialects()) {
  describe(`migration 0023 (job-created grants) on ${dialect}`, () => {
    let tdb: TestDatabase;
    let db: Kysely<any>;
    after(async () => {
      await db?.destroy();
      await tdb?.drop();
    });

    test('a pending job image gets its repository\'s grant; other packages are left as they were', async () => {
      tdb = await createDatabase(dialect);
      db = new Kysely<any>({
        dialect: dialect === 'sqlite'
          ? new SqliteDialect({ database: new SQLite(tdb.url.slice('sqlite:'.length)) })
          : new PostgresDialect({ pool: new pg.Pool({ connectionString: tdb.url, max: 2 }) }),
      });
      const migrator = new Migrator({ db, provider: new Migrations(dialect) });
      const before = await migrator.migrateTo('0022-usage-quotas');
      assert.equal(before.error, undefined);
      const now = new Date().toISOString();
      const owner = await db.insertInto('owners').values({ kind: 'user', name: 'alice', lower_name: 'alice', is_admin: 0, created_at: now }).returning('id').executeTakeFirstOrThrow();
      const repo = await db.insertInto('repositories').values({ owner_id: owner.id, name: 'ci', lower_name: 'ci', visibility: 'private', created_at: now }).returning('id').executeTakeFirstOrThrow();
      const pkg = async (name: string, inherit: number, linked: boolean) =>
        Number((await db.insertInto('packages').values({ owner_id: owner.id, type: 'container', name, lower_name: name, visibility: 'private', repository_id: linked ? repo.id : null, inherit_access: inherit, metadata: '{}', revision: 1, created_at: now, updated_at: now }).returning('id').executeTakeFirstOrThrow()).id);
      const pending = await pkg('pending', 0, true);
      const published = await pkg('published', 0, true);
      await db.insertInto('package_versions').values({ package_id: published, version: 'sha256:1', lower_version: 'sha256:1', metadata: '{}', created_at: now, updated_at: now }).execute();
      const inheriting = await pkg('inheriting', 1, true);
      const unlinked = await pkg('unlinked', 0, false);
      const granted = await pkg('granted', 0, true);
      await db.insertInto('package_access').values({ package_id: granted, user_id: null, repository_id: repo.id, role: 'read' }).execute();

      const latest = await migrator.migrateToLatest();
      assert.equal(latest.error, undefined);
      const rows = await db.selectFrom('package_access').select(['package_id', 'user_id', 'repository_id', 'role']).orderBy('package_id').execute();
      assert.deepEqual(
        rows.map((r) => [Number(r.package_id), r.user_id, Number(r.repository_id), r.role]),
        [[pending, null, Number(repo.id), 'write'], [granted, null, Number(repo.id), 'read']],
        `only the pending image gains a grant (published ${published}, inheriting ${inheriting}, unlinked ${unlinked} do not; an existing grant is kept as it is)`,
      );
    });
  });
}
