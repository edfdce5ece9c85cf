// Garbage collection on every dialect: only what nothing refers to goes, and only after its grace period.
import { systemActor } from '../../src/core/auth/actor.ts';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { ALL_SCOPES, type Actor } from '../../src/core/auth/actor.ts';
import { collectGarbage } from '../../src/core/blobs/gc.ts';
import { openCore, type Core } from '../../src/core/core.ts';
import { createDatabase, dialects, type TestDatabase } from '../helpers/databases.ts';
import { tempDir } from '../helpers/wharf.ts';

for (const dialect of dialects()) {
  describe(`garbage collection on ${dialect}`, () => {
    let core: Core;
    let db: TestDatabase;
    let alice: Actor;
    let dataDir: string;
    const old = new Date(Date.now() - 2 * 3600_000);
    const stored = async (age: 'old' | 'new') => {
      const s = await core.blobs.put(Readable.from([randomBytes(100)]));
      await s.commit();
      if (age === 'old') fs.utimesSync(core.blobs.localPath!(s.digest), old, old);
      return s;
    };
    /** Makes blobs look written before the grace period: their rows and their write marks (blobs/fence.ts). */
    const backdate = async (digests?: string[]) => {
      for (const table of ['blobs', 'blob_writes'] as const) {
        const col = table === 'blobs' ? 'created_at' : 'written_at';
        let q = core.db.updateTable(table).set({ [col]: old.toISOString() } as never);
        if (digests) q = q.where('digest', 'in', digests);
        await q.execute();
      }
    };
    before(async () => {
      const dir = tempDir();
      dataDir = dir;
      db = await createDatabase(dialect, dir);
      core = await openCore(loadConfig({ WHARF_DATA: dir, WHARF_DATABASE_URL: db.url }));
      const u = await core.identity.createUser(systemActor, { name: 'alice' });
      alice = { kind: 'user', user: { id: u.id, name: 'alice', isAdmin: false }, scopes: ALL_SCOPES, tokenId: null };
    });
    after(async () => {
      await core.close();
      await db.drop();
    });

    test('unreferenced old blobs go; referenced and recent ones stay; --dry-run only reports', async () => {
      const inVersion = await stored('old');
      const orphan = await stored('old');
      const recentOrphan = await stored('new');
      await core.publisher.createVersion({ ownerId: (alice as any).user.id, type: 'test', name: 'p', version: '1', metadata: {}, files: [{ name: 'f', blob: inVersion, contentType: 'x' }], repositoryId: null, actor: alice });
      await backdate();

      const dry = await collectGarbage(core, { dryRun: true });
      assert.equal(dry.removedBlobs, 1);
      assert.ok(await core.blobs.stat(orphan.digest), 'dry run removes nothing');

      const r = await collectGarbage(core);
      assert.equal(r.removedBlobs, 1);
      assert.equal(r.freedBytes, 100);
      assert.equal(await core.blobs.stat(orphan.digest), null);
      for (const kept of [inVersion, recentOrphan]) assert.ok(await core.blobs.stat(kept.digest), kept.digest);
    });

    test("a package's hold on a blob (an upload before its manifest) protects it only for the grace period; then blob and hold go", async () => {
      const { pkg } = await core.publisher.ensurePackage({ ownerId: (alice as any).user.id, type: 'test', name: 'holds', repositoryId: null, actor: alice });
      const abandoned = await stored('old');
      const fresh = await stored('new');
      const named = await stored('old');
      for (const b of [abandoned, fresh, named]) await core.publisher.attachBlob(pkg.id, { digest: b.digest, size: b.size });
      await backdate([abandoned.digest, named.digest]);
      // The held blob another package's version names stays, hold and all.
      await core.publisher.createVersion({ ownerId: (alice as any).user.id, type: 'test', name: 'other', version: '1', metadata: {}, files: [{ name: 'f', blob: named, contentType: 'x' }], repositoryId: null, actor: alice });

      const dry = await collectGarbage(core, { dryRun: true });
      assert.deepEqual([dry.removedBlobs, dry.releasedHolds], [1, 1]);
      assert.ok(await core.packages.heldBlob(pkg.id, abandoned.digest), 'a dry run releases nothing');

      const r = await collectGarbage(core);
      assert.deepEqual([r.removedBlobs, r.releasedHolds], [1, 1]);
      assert.equal(await core.blobs.stat(abandoned.digest), null);
      assert.equal(await core.packages.heldBlob(pkg.id, abandoned.digest), undefined, 'the hold went with the blob');
      for (const kept of [fresh, named]) {
        assert.ok(await core.blobs.stat(kept.digest), kept.digest);
        assert.ok(await core.packages.heldBlob(pkg.id, kept.digest), kept.digest);
      }
    });

    test('a version deleted past the restore window is purged, then its blob can go', async () => {
      const blob = await stored('old');
      const { pkg, version } = await core.publisher.createVersion({ ownerId: (alice as any).user.id, type: 'test', name: 'q', version: '1', metadata: {}, files: [{ name: 'f', blob, contentType: 'x' }], repositoryId: null, actor: alice });
      await core.publisher.deleteVersion(pkg.id, version.id, alice);
      assert.equal((await collectGarbage(core)).purgedVersions, 0, 'still restorable');
      await core.db.updateTable('package_versions').set({ deleted_at: new Date(Date.now() - 31 * 864e5).toISOString() }).where('id', '=', version.id).execute();
      await backdate([blob.digest]);
      const r = await collectGarbage(core);
      assert.equal(r.purgedVersions, 1);
      assert.equal(await core.packages.versionById(version.id), undefined);
      assert.equal(await core.blobs.stat(blob.digest), null);
    });

    test('a package deleted past its restore window is purged with its versions, their properties and its holds; then its blobs go', async () => {
      const inVersion = await stored('old');
      const held = await stored('old');
      const { pkg, version } = await core.publisher.createVersion({ ownerId: (alice as any).user.id, type: 'test', name: 'gone', version: '1', metadata: {}, files: [{ name: 'f', blob: inVersion, contentType: 'x' }], repositoryId: null, actor: alice });
      await core.publisher.setVersionProperty(version.id, 'oci.subject', 'sha256:' + '0'.repeat(64));
      await core.publisher.attachBlob(pkg.id, { digest: held.digest, size: held.size });
      await backdate([inVersion.digest, held.digest]);
      await core.publisher.deletePackage(pkg.id, alice);
      assert.equal((await collectGarbage(core)).purgedPackages, 0, 'still restorable');
      assert.ok(await core.blobs.stat(inVersion.digest), 'a restorable package keeps its files');
      await core.db.updateTable('packages').set({ deleted_at: new Date(Date.now() - 31 * 864e5).toISOString() }).where('id', '=', pkg.id).execute();
      const r = await collectGarbage(core);
      assert.equal(r.purgedPackages, 1);
      for (const b of [inVersion, held]) assert.equal(await core.blobs.stat(b.digest), null, b.digest);
      const left = await core.db.selectFrom('package_properties').select('id').where((eb) => eb.or([eb.and([eb('ref_type', '=', 'version'), eb('ref_id', '=', version.id)]), eb.and([eb('ref_type', '=', 'package'), eb('ref_id', '=', pkg.id)])])).execute();
      assert.deepEqual(left, [], 'no property of the purged package or its versions is left');
    });

    test('committing content identical to an old unreferenced blob refreshes it, so a collection does not take it', async () => {
      const content = randomBytes(64);
      const first = await core.blobs.put(Readable.from([content]));
      await first.commit();
      fs.utimesSync(core.blobs.localPath!(first.digest), old, old);
      const again = await core.blobs.put(Readable.from([content]));
      await again.commit(); // what a concurrent push does just before its metadata transaction
      await collectGarbage(core);
      assert.ok(await core.blobs.stat(first.digest));
    });

    test('temp files a dead writer left go after the grace period; fresh and staged ones stay; a dry run only counts', async () => {
      const staged = await core.blobs.put(Readable.from([randomBytes(300)])); // a publish in progress: not committed yet
      const crashed = path.join(dataDir, 'blobs', 'tmp', randomUUID()); // a publish whose process was killed
      fs.writeFileSync(crashed, randomBytes(1000));
      fs.utimesSync(crashed, old, old);
      const spooled = path.join(dataDir, 'tmp', 'nuget', `${randomUUID()}.upload`); // a NuGet push spooled, then a crash
      fs.mkdirSync(path.dirname(spooled), { recursive: true });
      fs.writeFileSync(spooled, randomBytes(500));
      fs.utimesSync(spooled, old, old);

      const dry = await collectGarbage(core, { dryRun: true });
      assert.equal(dry.removedTempFiles, 2);
      assert.ok(dry.freedBytes >= 1500);
      assert.ok(fs.existsSync(crashed) && fs.existsSync(spooled), 'a dry run removes nothing');

      const r = await collectGarbage(core);
      assert.equal(r.removedTempFiles, 2);
      assert.ok(!fs.existsSync(crashed) && !fs.existsSync(spooled));
      assert.ok(fs.existsSync(path.dirname(spooled)), 'folders stay');
      await staged.commit();
      assert.equal((await core.blobs.stat(staged.digest))?.size, 300, 'a write in progress is left alone');
      assert.equal((await collectGarbage(core, { dryRun: true })).removedTempFiles, 0);

      // A short --grace shortens the blobs' wait, never a temp file's: one written 10 minutes ago may be in flight.
      const recent = path.join(dataDir, 'blobs', 'tmp', randomUUID());
      fs.writeFileSync(recent, 'x');
      const tenMinutesAgo = new Date(Date.now() - 600_000);
      fs.utimesSync(recent, tenMinutesAgo, tenMinutesAgo);
      assert.equal((await collectGarbage(core, { graceMs: 0 })).removedTempFiles, 0);
      assert.ok(fs.existsSync(recent));
      fs.rmSync(recent);
    });

    test('abandoned uploads expire', async () => {
      const { pkg } = await core.publisher.ensurePackage({ ownerId: (alice as any).user.id, type: 'test', name: 'uploads', repositoryId: null, actor: alice });
      const s = await core.uploads.create(pkg.id);
      await core.uploads.append(s.id, pkg.id, Readable.from([Buffer.from('abc')]), 0);
      await core.db.updateTable('upload_sessions').set({ updated_at: new Date(Date.now() - 2 * 864e5).toISOString() }).where('id', '=', s.id).execute();
      const r = await collectGarbage(core);
      assert.equal(r.expiredUploads, 1);
      await assert.rejects(core.uploads.get(s.id, pkg.id), (e: any) => e.kind === 'NotFound');
    });
  });
}
