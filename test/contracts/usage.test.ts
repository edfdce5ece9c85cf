// Storage usage on every dialect: the figures the publish verbs keep equal a recount from scratch after any mix of
// publishes (sharing blobs within and across owners), added and replaced files, deletes, restores and garbage
// collection; quotas refuse what would go over and change nothing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../src/config.ts';
import { ALL_SCOPES, systemActor, type Actor } from '../../src/core/auth/actor.ts';
import { collectGarbage } from '../../src/core/blobs/gc.ts';
import { openCore, type Core } from '../../src/core/core.ts';
import { WharfError } from '../../src/core/errors.ts';
import type { StoredBlob } from '../../src/core/publish.ts';
import { recomputeUsage } from '../../src/core/usage-recount.ts';
import { formatSize, parseSize, quotaExceeded } from '../../src/core/usage.ts';
import { ociErrorOf } from '../../src/formats/oci/errors.ts';
import { npmErrorOf } from '../../src/formats/npm/errors.ts';
import { createDatabase, dialects, type TestDatabase } from '../helpers/databases.ts';
import { tempDir } from '../helpers/wharf.ts';

test('parseSize and formatSize', () => {
  assert.equal(parseSize('10GiB'), 10 * 1024 ** 3);
  assert.equal(parseSize('500MB'), 500e6);
  assert.equal(parseSize('1.5 KiB'), 1536);
  assert.equal(parseSize('2k'), 2000);
  assert.equal(parseSize('1234'), 1234);
  assert.equal(parseSize('ten'), undefined);
  assert.equal(formatSize(1536), '1.5 KiB');
  assert.equal(formatSize(12), '12 bytes');
});

test('WHARF_QUOTA_STORAGE and WHARF_QUOTA_PACKAGES: instance defaults, empty is unlimited', () => {
  assert.deepEqual(loadConfig({}).quota, { storageBytes: null, packages: null });
  assert.deepEqual(loadConfig({ WHARF_QUOTA_STORAGE: '10GiB', WHARF_QUOTA_PACKAGES: '100' }).quota, { storageBytes: 10 * 1024 ** 3, packages: 100 });
  assert.throws(() => loadConfig({ WHARF_QUOTA_STORAGE: 'lots' }), /WHARF_QUOTA_STORAGE/);
});

test('a quota refusal in each protocol: OCI DENIED 403, npm E413', () => {
  const e = quotaExceeded('storage quota exceeded for alice');
  assert.deepEqual([ociErrorOf(e).code, ociErrorOf(e).status], ['DENIED', 403]);
  assert.equal(npmErrorOf(e).status, 413);
});

/** Every usage row, sorted, zero owner rows left out (the recount writes one for every owner). */
async function snapshot(core: Core) {
  const db = core.db;
  const num = <T extends Record<string, unknown>>(rows: T[]) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && k !== 'digest' ? Number(v) : v])));
  return {
    owners: num(await db.selectFrom('usage_owners').selectAll().orderBy('owner_id').execute()).filter((r) => r.bytes || r.packages || r.versions),
    packages: num(await db.selectFrom('usage_packages').selectAll().orderBy('package_id').execute()),
    packageBlobs: num(await db.selectFrom('usage_package_blobs').selectAll().orderBy('package_id').orderBy('digest').execute()),
    ownerBlobs: num(await db.selectFrom('usage_owner_blobs').selectAll().orderBy('owner_id').orderBy('digest').execute()),
  };
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('publish' as const), owner: fc.nat(1), pkg: fc.nat(2), blobs: fc.uniqueArray(fc.nat(5), { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant('addFile' as const), owner: fc.nat(1), pkg: fc.nat(2), blob: fc.nat(5), replace: fc.boolean() }),
  fc.record({ kind: fc.constant('deleteVersion' as const), owner: fc.nat(1), pkg: fc.nat(2), pick: fc.nat() }),
  fc.record({ kind: fc.constant('restoreVersion' as const), owner: fc.nat(1), pkg: fc.nat(2), pick: fc.nat() }),
  // Retention's batch delete: versions deleted together, the later ones with the first (restoring it brings them back).
  fc.record({ kind: fc.constant('deleteVersions' as const), owner: fc.nat(1), pkg: fc.nat(2), count: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('deletePackage' as const), owner: fc.nat(1), pkg: fc.nat(2) }),
  fc.record({ kind: fc.constant('restorePackage' as const), owner: fc.nat(1), pkg: fc.nat(2) }),
  fc.record({ kind: fc.constant('gc' as const) }),
);

for (const dialect of dialects()) {
  describe(`storage usage on ${dialect}`, () => {
    let core: Core;
    let db: TestDatabase;
    const actors: Actor[] = [];
    const ownerIds: number[] = [];
    const bytes: Buffer[] = [];
    /** Pool blob `i`, stored again first (garbage collection takes what nothing references). */
    const pool = async (i: number): Promise<StoredBlob> => {
      const s = await core.blobs.put(Readable.from([bytes[i]!]));
      await s.commit();
      return { digest: s.digest, size: s.size };
    };
    let n = 0;

    before(async () => {
      const dir = tempDir();
      db = await createDatabase(dialect, dir);
      core = await openCore(loadConfig({ WHARF_DATA: dir, WHARF_DATABASE_URL: db.url }));
      for (const name of ['alice', 'bob']) {
        const u = await core.identity.createUser(systemActor, { name });
        ownerIds.push(u.id);
        actors.push({ kind: 'user', user: { id: u.id, name, isAdmin: false }, scopes: ALL_SCOPES, tokenId: null });
      }
      for (let i = 0; i < 6; i++) bytes.push(randomBytes(100 * (i + 1)));
    });
    after(async () => {
      await core.close();
      await db.drop();
    });

    const find = (owner: number, pkg: number) => core.db.selectFrom('packages').selectAll().where('owner_id', '=', ownerIds[owner]!).where('name', '=', `p${pkg}`).executeTakeFirst();
    const versionsOf = async (packageId: number, deleted: boolean) =>
      core.db.selectFrom('package_versions').select('id').where('package_id', '=', packageId).where('deleted_at', deleted ? 'is not' : 'is', null).orderBy('id').execute();

    async function run(o: any): Promise<void> {
      const actor = actors[o.owner ?? 0]!;
      const p = o.pkg !== undefined ? await find(o.owner, o.pkg) : undefined;
      switch (o.kind) {
        case 'publish':
          await core.publisher.createVersion({
            ownerId: ownerIds[o.owner]!, type: 'test', name: `p${o.pkg}`, version: String(++n), metadata: {},
            files: await Promise.all(o.blobs.map(async (b: number, i: number) => ({ name: `f${i}`, blob: await pool(b), contentType: 'x' }))), repositoryId: null, actor,
          });
          return;
        case 'addFile': {
          if (!p || p.deleted_at) return;
          const live = await versionsOf(p.id, false);
          if (!live.length) return;
          await core.publisher.addFiles(p.id, live[live.length - 1]!.id, [{ name: o.replace ? 'f0' : `extra${++n}`, blob: await pool(o.blob), contentType: 'x' }], [], actor, { replace: o.replace });
          return;
        }
        case 'deleteVersion':
        case 'restoreVersion': {
          if (!p) return;
          const vs = await versionsOf(p.id, o.kind === 'restoreVersion');
          if (!vs.length) return;
          const v = vs[o.pick % vs.length]!.id;
          if (o.kind === 'deleteVersion') await core.publisher.deleteVersion(p.id, v, actor);
          else await core.publisher.restoreVersion(p.id, v, actor);
          return;
        }
        case 'deleteVersions': {
          if (!p || p.deleted_at) return;
          const vs = (await versionsOf(p.id, false)).slice(0, o.count);
          if (!vs.length) return;
          await core.publisher.deleteVersions(p.id, vs.map((v, i) => ({ versionId: v.id, ...(i > 0 ? { withVersion: vs[0]!.id } : {}) })), actor);
          return;
        }
        case 'deletePackage':
          if (p && !p.deleted_at) await core.publisher.deletePackage(p.id, actor);
          return;
        case 'restorePackage':
          if (p?.deleted_at) await core.publisher.restorePackage(p.id, actor);
          return;
        case 'gc':
          await collectGarbage(core, { graceMs: 0 });
      }
    }

    test('the incremental figures equal a recount after any sequence of publishes, deletes, restores and gc', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 15 }), async (ops) => {
          await core.db.deleteFrom('packages').execute();
          await recomputeUsage(core.db);
          for (const o of ops) {
            try {
              await run(o);
            } catch (e) {
              // A file name the version has already (addFile without replace) is refused and changes nothing.
              if (!(e instanceof WharfError && e.kind === 'Conflict')) throw e;
            }
          }
          const kept = await snapshot(core);
          await recomputeUsage(core.db);
          assert.deepEqual(kept, await snapshot(core));
        }),
        { numRuns: Number(process.env.USAGE_RUNS ?? (dialect === 'sqlite' ? 25 : 10)) },
      );
    });

    test('a blob shared by versions and packages counts once per owner; each owner counts what it references', async () => {
      const [a, b] = ownerIds as [number, number];
      await core.db.deleteFrom('packages').execute();
      await recomputeUsage(core.db);
      const big = await pool(5);
      for (const [owner, pkg] of [[0, 'x'], [0, 'y'], [1, 'x']] as const) {
        for (const v of ['1', '2']) {
          await core.publisher.createVersion({ ownerId: ownerIds[owner]!, type: 'test', name: `shared-${pkg}`, version: v, metadata: {}, files: [{ name: 'layer', blob: big, contentType: 'x' }], repositoryId: null, actor: actors[owner]! });
        }
      }
      assert.deepEqual(await core.publisher.usage.owner(a), { bytes: big.size, packages: 2, versions: 4 });
      assert.deepEqual(await core.publisher.usage.owner(b), { bytes: big.size, packages: 1, versions: 2 });
      assert.deepEqual((await core.publisher.usage.packages(a)).map((p) => [p.name, p.bytes, p.versions]), [['shared-x', big.size, 2], ['shared-y', big.size, 2]]);
    });

    test('over quota: a publish is refused with the limit and the usage, nothing changes; deletes and reads still work', async () => {
      const a = ownerIds[0]!;
      const before = await core.publisher.usage.owner(a);
      await core.publisher.usage.setQuota(a, { storageBytes: before.bytes + 150 });
      const publish = (name: string, blob: StoredBlob) => core.publisher.createVersion({ ownerId: a, type: 'test', name, version: '1', metadata: {}, files: [{ name: 'f', blob, contentType: 'x' }], repositoryId: null, actor: actors[0]! });
      await assert.rejects(publish('too-big', await pool(1)), (e: WharfError) => {
        assert.equal(e.code, 'QUOTA_EXCEEDED');
        assert.equal(e.status, 413);
        assert.match(e.message, /storage quota exceeded for alice: .* used of .*, and this upload adds 200 bytes/);
        return true;
      });
      assert.equal(await core.db.selectFrom('packages').select('id').where('name', '=', 'too-big').executeTakeFirst(), undefined, 'the refused package was not created');
      assert.deepEqual(await core.publisher.usage.owner(a), before);
      // What the owner holds already costs nothing more: the shared layer again is within the quota.
      await publish('same-layer', await pool(5));
      await publish('small', await pool(0));
      await assert.rejects(core.publisher.checkQuota(a, { bytes: 1000 }), /storage quota exceeded/);
      await core.publisher.checkQuota(a, {});
      // The package count limit.
      const now = await core.publisher.usage.owner(a);
      await core.publisher.usage.setQuota(a, { storageBytes: null, packages: now.packages });
      await assert.rejects(publish('one-more', await pool(0)), /package quota exceeded for alice: \d+ packages of \d+ allowed/);
      await core.publisher.usage.setQuota(a, { packages: null });
      assert.equal((await core.publisher.usage.quota(a)).override, false);
      const kept = await snapshot(core);
      await recomputeUsage(core.db);
      assert.deepEqual(kept, await snapshot(core));
    });
  });
}
