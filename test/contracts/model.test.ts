// The generic model and the one authorize function, proven on every database dialect.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { ALL_SCOPES, anonymous, type Actor } from '../../src/core/auth/actor.ts';
import { parseScopes } from '../../src/core/auth/tokens.ts';
import { openCore, type Core } from '../../src/core/core.ts';
import { WharfError } from '../../src/core/errors.ts';
import { createDatabase, dialects, type TestDatabase } from '../helpers/databases.ts';
import { tempDir } from '../helpers/wharf.ts';

for (const dialect of dialects()) {
  describe(`model and authorize on ${dialect}`, () => {
    let core: Core;
    let db: TestDatabase;
    const users: Record<string, Actor> = {};

    const userActor = async (name: string, scopes = ALL_SCOPES, admin = false): Promise<Actor> => {
      const o = await core.identity.createUser(systemActor, { name, isAdmin: admin });
      return { kind: 'user', user: { id: o.id, name: o.name, isAdmin: admin }, scopes, tokenId: null };
    };
    const blob = (content = randomBytes(64)) => core.blobs.put(Readable.from([content]), { extraDigests: ['sha1', 'sha512'] });
    const publish = async (actor: Actor, owner: string, name: string, version: string, repositoryId: number | null = null) => {
      const o = await core.identity.requireOwner(owner);
      return core.publisher.createVersion({
        ownerId: o.id, type: 'test', name, version, metadata: { version }, files: [{ name: `${name}-${version}.bin`, blob: await blob(), contentType: 'application/octet-stream', primary: true }],
        tags: ['latest'], repositoryId, actor,
      });
    };

    before(async () => {
      const dir = tempDir();
      db = await createDatabase(dialect, dir);
      core = await openCore(loadConfig({ WHARF_DATA: dir, WHARF_DATABASE_URL: db.url }));
      users.alice = await userActor('alice');
      users.bob = await userActor('bob');
      users.carol = await userActor('carol');
      users.root = await userActor('root', ALL_SCOPES, true);
      await core.identity.createOrg(systemActor, 'acme', 'alice');
      await core.identity.addOrgMember(systemActor, 'acme', 'bob', 'member');
    });
    after(async () => {
      await core.close();
      await db.drop();
    });

    test('50 concurrent publishes of distinct versions all land, with no lost update', async () => {
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => publish(users.alice, 'alice', 'many', `1.0.${i}`)));
      assert.deepEqual(results.filter((r) => r.status === 'rejected'), []);
      const pkg = (await core.packages.find('alice', 'test', 'many'))!;
      assert.equal((await core.packages.versions(pkg.id)).length, 50);
      assert.equal(pkg.revision, 51, 'every publish bumped the revision once');
    });

    test('10 concurrent publishes of the same version: exactly one wins, the rest are Conflict', async () => {
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => publish(users.alice, 'alice', 'race', '1.0.0')));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as WharfError).kind, 'Conflict', String(r.reason));
      const pkg = (await core.packages.find('alice', 'test', 'race'))!;
      assert.equal((await core.packages.versions(pkg.id)).length, 1);
    });

    test('delete hides a version, restore brings it back within the window, not after', async () => {
      const { pkg, version } = await publish(users.alice, 'alice', 'gone', '1.0.0');
      await core.publisher.deleteVersion(pkg.id, version.id, users.alice);
      assert.equal(await core.packages.version(pkg.id, '1.0.0'), undefined);
      assert.equal(await core.packages.file(pkg.id, '1.0.0', 'gone-1.0.0.bin'), undefined);
      await core.publisher.restoreVersion(pkg.id, version.id, users.alice);
      assert.ok(await core.packages.version(pkg.id, '1.0.0'));
      await core.publisher.deleteVersion(pkg.id, version.id, users.alice);
      await core.db.updateTable('package_versions').set({ deleted_at: new Date(Date.now() - 31 * 864e5).toISOString() }).where('id', '=', version.id).execute();
      await assert.rejects(core.publisher.restoreVersion(pkg.id, version.id, users.alice), (e: any) => e.kind === 'NotFound');
      // An unpublished version can never be published again: versions are immutable.
      await assert.rejects(publish(users.alice, 'alice', 'gone', '1.0.0'), (e: any) => e.kind === 'Conflict');
    });

    test('tags point at live versions; deleting a package hides it until restored', async () => {
      const { pkg } = await publish(users.alice, 'alice', 'tagged', '1.0.0');
      await publish(users.alice, 'alice', 'tagged', '2.0.0');
      await core.publisher.setTag(pkg.id, 'stable', '1.0.0', users.alice);
      assert.deepEqual((await core.packages.tags(pkg.id)).map((t) => [t.name, t.version]), [['latest', '2.0.0'], ['stable', '1.0.0']]);
      await assert.rejects(core.publisher.setTag(pkg.id, 'x', '9.9.9', users.alice), (e: any) => e.kind === 'NotFound');
      await core.publisher.removeTag(pkg.id, 'stable', users.alice);
      await core.publisher.deletePackage(pkg.id, users.alice);
      assert.equal(await core.packages.find('alice', 'test', 'tagged'), undefined);
      await core.publisher.restorePackage(pkg.id, users.alice);
      assert.ok(await core.packages.find('alice', 'test', 'tagged'));
    });

    test('list facts: live version counts, the newest live version, live tags, whether a recorded latest is live', async () => {
      const { pkg: a } = await publish(users.alice, 'alice', 'listed-a', '1.0.0');
      await publish(users.alice, 'alice', 'listed-a', '1.1.0');
      const { version: gone } = await publish(users.alice, 'alice', 'listed-a', '1.2.0');
      await core.publisher.setTag(a.id, 'stable', '1.0.0', users.alice);
      await core.publisher.deleteVersion(a.id, gone.id, users.alice); // yanked: the latest tag went with it
      const { pkg: b } = await publish(users.alice, 'alice', 'listed-b', '2.0.0');
      const { pkg: c, version: only } = await publish(users.alice, 'alice', 'listed-c', '3.0.0');
      await core.publisher.deleteVersion(c.id, only.id, users.alice);
      const facts = await core.packages.listFacts([a.id, b.id, c.id], new Map([[a.id, '1.2.0'], [b.id, '2.0.0']]));
      assert.deepEqual(facts.get(a.id), { versions: 2, newest: '1.1.0', tags: [{ name: 'stable', version: '1.0.0' }], wantedLive: false });
      assert.deepEqual(facts.get(b.id), { versions: 1, newest: '2.0.0', tags: [{ name: 'latest', version: '2.0.0' }], wantedLive: true });
      assert.equal(facts.has(c.id), false, 'no live version');
      assert.equal((await core.packages.listFacts([], new Map())).size, 0);
      assert.deepEqual(await core.packages.packageIdsOfVersions([gone.id, only.id]), new Map([[gone.id, a.id], [only.id, c.id]]));
    });

    test('the same content published twice is one blob', async () => {
      const content = randomBytes(128);
      const o = await core.identity.requireOwner('alice');
      for (const v of ['1.0.0', '1.0.1']) {
        await core.publisher.createVersion({ ownerId: o.id, type: 'test', name: 'dedup', version: v, metadata: {}, files: [{ name: `f-${v}`, blob: await blob(content), contentType: 'x', primary: true }], repositoryId: null, actor: users.alice });
      }
      const pkg = (await core.packages.find('alice', 'test', 'dedup'))!;
      const files = await core.packages.allFiles(pkg.id);
      assert.equal(files.length, 2);
      assert.equal(files[0].blob_digest, files[1].blob_digest);
      const blobs = await core.db.selectFrom('blobs').selectAll().where('digest', '=', files[0].blob_digest).execute();
      assert.equal(blobs.length, 1);
    });

    describe('authorize', () => {
      test('a new unlinked package is private: owner admin, others NotFound, anonymous Unauthorized', async () => {
        const { pkg } = await publish(users.alice, 'alice', 'secret', '1.0.0');
        assert.equal(pkg.visibility, 'private');
        assert.equal(await core.authz.authorize(users.alice, 'admin', pkg), 'admin');
        await assert.rejects(core.authz.authorize(users.bob, 'read', pkg), (e: any) => e.kind === 'NotFound');
        await assert.rejects(core.authz.authorize(anonymous, 'read', pkg), (e: any) => e.kind === 'Unauthorized');
        assert.equal(await core.authz.authorize(users.root, 'delete', pkg), 'admin', 'site admins');
      });

      test('public is readable by all, internal by signed-in actors only; reading is not writing', async () => {
        const { pkg } = await publish(users.alice, 'alice', 'vis', '1.0.0');
        await core.publisher.updateSettings(pkg.id, { visibility: 'public' }, users.alice);
        let p = (await core.packages.byId(pkg.id))!;
        assert.equal(await core.authz.authorize(anonymous, 'read', p), 'read');
        await assert.rejects(core.authz.authorize(users.bob, 'write', p), (e: any) => e.kind === 'Forbidden');
        await assert.rejects(core.authz.authorize(anonymous, 'write', p), (e: any) => e.kind === 'Unauthorized');
        await core.publisher.updateSettings(pkg.id, { visibility: 'internal' }, users.alice);
        p = (await core.packages.byId(pkg.id))!;
        assert.equal(await core.authz.authorize(users.bob, 'read', p), 'read');
        await assert.rejects(core.authz.authorize(anonymous, 'read', p), (e: any) => e.kind === 'Unauthorized');
      });

      test('token scopes cap everything', async () => {
        const { pkg } = await publish(users.alice, 'alice', 'scoped', '1.0.0');
        const readOnly: Actor = { ...(users.alice as any), scopes: parseScopes('read:packages') };
        const noDelete: Actor = { ...(users.alice as any), scopes: parseScopes('write:packages') };
        assert.equal(await core.authz.authorize(readOnly, 'read', pkg), 'admin');
        await assert.rejects(core.authz.authorize(readOnly, 'write', pkg), /write:packages/);
        await assert.rejects(core.authz.authorize(noDelete, 'delete', pkg), /delete:packages/);
        await assert.rejects(core.authz.authorizeCreate(readOnly, (await core.identity.requireOwner('alice')), null), (e: any) => e.kind === 'Forbidden');
      });

      test('orgs: owners administer, members may create packages and administer what they created', async () => {
        const acme = await core.identity.requireOrg('acme');
        await core.authz.authorizeCreate(users.bob, acme, null);
        await assert.rejects(core.authz.authorizeCreate(users.carol, acme, null), (e: any) => e.kind === 'Forbidden');
        await assert.rejects(core.authz.authorizeCreate(users.bob, await core.identity.requireOwner('carol'), null), (e: any) => e.kind === 'Forbidden');
        const { pkg } = await publish(users.bob, 'acme', 'tool', '1.0.0');
        assert.equal(await core.authz.authorize(users.bob, 'admin', pkg), 'admin');
        assert.equal(await core.authz.authorize(users.alice, 'admin', pkg), 'admin');
        await assert.rejects(core.authz.authorize(users.carol, 'read', pkg), (e: any) => e.kind === 'NotFound');
      });

      test('a linked package inherits its repository: visibility and collaborators; inheritance off uses package grants', async () => {
        const repo = await core.identity.createRepo(systemActor, 'alice', 'linked', 'private');
        const { pkg } = await publish(users.alice, 'alice', 'linked-pkg', '1.0.0', repo.id);
        await assert.rejects(core.authz.authorize(users.carol, 'read', pkg), (e: any) => e.kind === 'NotFound');
        await core.identity.grantRepo(systemActor, 'alice/linked', 'carol', 'write');
        assert.equal(await core.authz.authorize(users.carol, 'write', pkg), 'write');
        await assert.rejects(core.authz.authorize(users.carol, 'delete', pkg), (e: any) => e.kind === 'Forbidden');
        await core.identity.setRepoVisibility(systemActor, repo.id, 'public');
        assert.equal(await core.authz.authorize(anonymous, 'read', pkg), 'read');
        // Inheritance off: the package's own visibility (private) and grants apply.
        await core.publisher.updateSettings(pkg.id, { inheritAccess: false }, users.alice);
        const p = (await core.packages.byId(pkg.id))!;
        await assert.rejects(core.authz.authorize(anonymous, 'read', p), (e: any) => e.kind === 'Unauthorized');
        await assert.rejects(core.authz.authorize(users.carol, 'read', p), (e: any) => e.kind === 'NotFound');
        await core.publisher.grant(p.id, { userId: (users.carol as any).user.id }, 'read', users.alice);
        assert.equal(await core.authz.authorize(users.carol, 'read', p), 'read');
        await assert.rejects(core.authz.authorize(users.carol, 'write', p), (e: any) => e.kind === 'Forbidden');
      });

      test('job tokens write their repository\'s packages, read what it was granted, nothing else', async () => {
        const repo = await core.identity.createRepo(systemActor, 'alice', 'ci', 'private');
        const other = await core.identity.createRepo(systemActor, 'alice', 'other', 'private');
        const job: Actor = { kind: 'job', repositoryId: repo.id, repositoryOwnerId: repo.owner_id, repositoryName: 'alice/ci', scopes: parseScopes('read:packages,write:packages'), tokenId: 0 };
        const alice = await core.identity.requireOwner('alice');
        await core.authz.authorizeCreate(job, alice, repo.id);
        await assert.rejects(core.authz.authorizeCreate(job, alice, other.id), (e: any) => e.kind === 'Forbidden');
        await assert.rejects(core.authz.authorizeCreate(job, alice, null), (e: any) => e.kind === 'Forbidden');
        await assert.rejects(core.authz.authorizeCreate(job, await core.identity.requireOwner('bob'), repo.id), (e: any) => e.kind === 'Forbidden');
        const { pkg: own } = await publish(job, 'alice', 'ci-pkg', '1.0.0', repo.id);
        assert.equal(await core.authz.authorize(job, 'write', own), 'write');
        await assert.rejects(core.authz.authorize(job, 'delete', own), (e: any) => e.kind === 'Forbidden');
        const { pkg: lib } = await publish(users.alice, 'alice', 'lib', '1.0.0', other.id);
        await assert.rejects(core.authz.authorize(job, 'read', lib), (e: any) => e.kind === 'NotFound');
        await core.publisher.updateSettings(lib.id, { inheritAccess: false }, users.alice);
        await core.publisher.grant(lib.id, { repositoryId: repo.id }, 'read', users.alice);
        assert.equal(await core.authz.authorize(job, 'read', (await core.packages.byId(lib.id))!), 'read');
        await assert.rejects(core.authz.authorize(job, 'write', (await core.packages.byId(lib.id))!), (e: any) => e.kind === 'Forbidden');
      });

      test('a job reaches a linked package while it inherits; after that only through a grant (a job keeps what it created)', async () => {
        const repo = await core.identity.createRepo(systemActor, 'alice', 'ci2', 'private');
        const job: Actor = { kind: 'job', repositoryId: repo.id, repositoryOwnerId: repo.owner_id, repositoryName: 'alice/ci2', scopes: parseScopes('read:packages,write:packages'), tokenId: 0 };
        // Published by a person, linked to the repository: the job writes it while it inherits.
        const { pkg: byAlice } = await publish(users.alice, 'alice', 'by-alice', '1.0.0', repo.id);
        assert.equal(await core.authz.authorize(job, 'write', byAlice), 'write');
        await core.publisher.updateSettings(byAlice.id, { inheritAccess: false }, users.alice);
        const restricted = (await core.packages.byId(byAlice.id))!;
        await assert.rejects(core.authz.authorize(job, 'read', restricted), (e: any) => e.kind === 'NotFound', 'managed on its own: the job is no one to it');
        await assert.rejects(publish(job, 'alice', 'by-alice', '1.0.1', repo.id), (e: any) => e.kind === 'NotFound');
        await core.publisher.grant(byAlice.id, { repositoryId: repo.id }, 'write', users.alice);
        assert.equal(await core.authz.authorize(job, 'write', (await core.packages.byId(byAlice.id))!), 'write', 'granted again, explicitly');
        // Created by the job: its repository is granted write with the package, and keeps it past inheritance.
        const { pkg: byJob } = await publish(job, 'alice', 'by-job', '1.0.0', repo.id);
        const grants = await core.db.selectFrom('package_access').selectAll().where('package_id', '=', byJob.id).execute();
        assert.deepEqual(grants.map((g) => [g.user_id, g.repository_id, g.role]), [[null, repo.id, 'write']]);
        await core.publisher.updateSettings(byJob.id, { inheritAccess: false }, users.alice);
        assert.equal(await core.authz.authorize(job, 'write', (await core.packages.byId(byJob.id))!), 'write');
        await core.publisher.revoke(byJob.id, { repositoryId: repo.id }, users.alice);
        await assert.rejects(core.authz.authorize(job, 'read', (await core.packages.byId(byJob.id))!), (e: any) => e.kind === 'NotFound', 'revoked: gone');
      });

      test('a fine-grained token reaches only what it names, as far as it names it, and manages nothing', async () => {
        const dave = await userActor('dave');
        const daveOwner = await core.identity.requireOwner('dave');
        const repo = await core.identity.createRepo(systemActor, 'dave', 'app', 'private');
        const { pkg: named } = await publish(dave, 'dave', 'named', '1.0.0');
        const { pkg: inRepo } = await publish(dave, 'dave', 'in-repo', '1.0.0', repo.id);
        const { pkg: other } = await publish(dave, 'dave', 'other', '1.0.0');
        const { pkg: pub } = await publish(dave, 'dave', 'pub', '1.0.0');
        await core.publisher.updateSettings(pub.id, { visibility: 'public' }, dave);
        for (const p of [named, inRepo, other]) await core.publisher.updateSettings(p.id, { visibility: 'private' }, dave);
        const u = dave.kind === 'user' ? dave.user : assert.fail();
        const limited: Actor = {
          kind: 'user', user: u, scopes: ALL_SCOPES, tokenId: 9001,
          limit: { resources: [{ ownerId: u.id, packageId: named.id, reach: 'write' }, { ownerId: u.id, repositoryId: repo.id, reach: 'read' }, { ownerId: u.id, type: 'test', name: 'NEW-one', reach: 'write' }] },
        };
        const fresh = async (p: { id: number }) => (await core.packages.byId(p.id))!;
        assert.equal(await core.authz.authorize(limited, 'write', await fresh(named)), 'admin');
        await assert.rejects(core.authz.authorize(limited, 'delete', await fresh(named)), /reaches this package for write only/);
        assert.equal(await core.authz.authorize(limited, 'read', await fresh(inRepo)), 'admin');
        await assert.rejects(core.authz.authorize(limited, 'write', await fresh(inRepo)), (e: any) => e.kind === 'Forbidden');
        // Outside the selection: private things do not exist, public ones are readable as by anyone, never writable.
        await assert.rejects(core.authz.authorize(limited, 'read', await fresh(other)), (e: any) => e.kind === 'NotFound');
        assert.equal(await core.authz.canRead(limited, await fresh(other)), false);
        assert.equal(await core.authz.canRead(limited, await fresh(named)), true);
        assert.equal(await core.authz.authorize(limited, 'read', await fresh(pub)), 'admin');
        await assert.rejects(core.authz.authorize(limited, 'write', await fresh(pub)), (e: any) => e.kind === 'Forbidden');
        // Creating: only the name it names (case-insensitive), of its type.
        await core.authz.authorizeCreate(limited, daveOwner, null, { type: 'test', name: 'new-one' });
        await assert.rejects(core.authz.authorizeCreate(limited, daveOwner, null, { type: 'test', name: 'new-two' }), (e: any) => e.kind === 'Forbidden');
        await assert.rejects(core.authz.authorizeCreate(limited, daveOwner, null, { type: 'npm', name: 'new-one' }), (e: any) => e.kind === 'Forbidden');
        await core.authz.authorizePushUnder(limited, daveOwner, 'test');
        await assert.rejects(core.authz.authorizePushUnder(limited, daveOwner, 'npm'), (e: any) => e.kind === 'Forbidden');
        await assert.rejects(core.authz.authorizePushUnder(limited, await core.identity.requireOwner('alice'), 'test'), (e: any) => e.kind === 'Forbidden');
        // Managing: nothing; a repository it cannot see stays unseen.
        await assert.rejects(core.authz.manage(limited, { what: 'tokens', userId: u.id }), /manages nothing/);
        await assert.rejects(core.authz.manage(limited, { what: 'repo', repo }), /manages nothing/);
        const hidden = await core.identity.createRepo(systemActor, 'dave', 'hidden', 'private');
        await assert.rejects(core.authz.manage(limited, { what: 'repo', repo: hidden }), (e: any) => e.kind === 'NotFound');
        assert.equal(await core.authz.canReadRepo(limited, hidden), false);
        assert.equal(await core.authz.canReadRepo(limited, repo), true);
        assert.equal(await core.authz.canSeeMembers(limited, daveOwner), false);
        // A repository names the packages that inherit its access: one managed on its own is outside it.
        await core.publisher.updateSettings(inRepo.id, { inheritAccess: false }, dave);
        await assert.rejects(core.authz.authorize(limited, 'read', await fresh(inRepo)), (e: any) => e.kind === 'NotFound');
        // The person behind it, unlimited, still reaches everything.
        assert.equal(await core.authz.authorize(dave, 'delete', await fresh(other)), 'admin');
      });

      test('a trusted publisher writes what its policy names and nothing else, and never deletes or manages', async () => {
        const erin = await userActor('erin');
        const erinOwner = await core.identity.requireOwner('erin');
        const { pkg: mine } = await publish(erin, 'erin', 'tool', '1.0.0');
        const { pkg: notMine } = await publish(erin, 'erin', 'secret', '1.0.0');
        for (const p of [mine, notMine]) await core.publisher.updateSettings(p.id, { visibility: 'private' }, erin);
        const publisher: Actor = {
          kind: 'publisher', name: 'github:erin/tool', policyId: 1, claims: { repository: 'erin/tool' }, scopes: parseScopes('read:packages,write:packages'), tokenId: 9002,
          limit: { resources: [{ ownerId: erinOwner.id, type: 'test', name: 'tool', reach: 'write' }, { ownerId: erinOwner.id, type: 'test', name: 'tool-cli', reach: 'write' }] },
        };
        const fresh = async (p: { id: number }) => (await core.packages.byId(p.id))!;
        assert.equal(await core.authz.authorize(publisher, 'write', await fresh(mine)), 'write');
        await assert.rejects(core.authz.authorize(publisher, 'delete', await fresh(mine)), (e: any) => e.kind === 'Forbidden');
        await assert.rejects(core.authz.authorize(publisher, 'admin', await fresh(mine)), (e: any) => e.kind === 'Forbidden');
        await assert.rejects(core.authz.authorize(publisher, 'read', await fresh(notMine)), (e: any) => e.kind === 'NotFound');
        await core.authz.authorizeCreate(publisher, erinOwner, null, { type: 'test', name: 'tool-cli' });
        await assert.rejects(core.authz.authorizeCreate(publisher, erinOwner, null, { type: 'test', name: 'other' }), (e: any) => e.kind === 'Forbidden');
        const { version } = await publish(publisher, 'erin', 'tool-cli', '0.1.0');
        assert.equal(version.version, '0.1.0');
        await assert.rejects(core.authz.manage(publisher, { what: 'owner', owner: erinOwner }), /manages nothing/);
      });
    });

    test('a repository URL links by its last two path segments, under the same owner only', async () => {
      const repo = await core.identity.createRepo(systemActor, 'alice', 'hello');
      const alice = await core.identity.requireOwner('alice');
      for (const url of ['https://github.com/alice/hello.git', 'git+ssh://git@host/alice/hello', 'git@github.com:alice/hello.git', 'github:alice/hello', 'https://gitlab.example/group/ALICE/Hello/']) {
        assert.equal((await core.identity.repoForSourceUrl(alice.id, url))?.id, repo.id, url);
      }
      for (const url of ['https://github.com/bob/hello', 'https://github.com/alice/nope', 'hello', '', null]) {
        assert.equal(await core.identity.repoForSourceUrl(alice.id, url), undefined, String(url));
      }
    });

    test('download counts: every version of a large batch lands, added to the day, a removed version does not wedge the rest', async () => {
      const { pkg } = await publish(users.alice, 'alice', 'counted', '0.0.0');
      const now = new Date().toISOString();
      // More versions than one flush statement takes (500), so the batch spans chunks.
      const ids: number[] = [];
      await core.db.transaction().execute(async (trx) => {
        for (let i = 1; i <= 1203; i++) {
          const row = await trx.insertInto('package_versions').values({ package_id: pkg.id, version: `1.0.${i}`, lower_version: `1.0.${i}`, metadata: '{}', created_by: null, created_at: now, updated_at: now, deleted_at: null }).returning('id').executeTakeFirstOrThrow();
          ids.push(Number(row.id));
        }
      });
      const counts = async () => {
        const rows = await core.db.selectFrom('downloads').select(['version_id', 'count']).where('version_id', 'in', ids).execute();
        return new Map(rows.map((r) => [Number(r.version_id), Number(r.count)]));
      };
      ids.forEach((id, i) => { for (let k = 0; k <= i % 3; k++) core.downloads.record(id); });
      await core.downloads.flush();
      let got = await counts();
      assert.equal(got.size, ids.length);
      ids.forEach((id, i) => assert.equal(got.get(id), (i % 3) + 1, `version ${id}`));

      // The next flush of the same day adds to the rows. A version removed after its download (a purge) has no
      // row to count against: its count is dropped, the others land, and later flushes still work.
      const gone = ids[700];
      ids.forEach((id) => core.downloads.record(id));
      await core.db.deleteFrom('package_versions').where('id', '=', gone).execute();
      await core.downloads.flush();
      assert.equal(core.downloads.pendingFor(ids[0]), 0);
      got = await counts();
      assert.equal(got.has(gone), false, 'the removed version\'s rows went with it');
      ids.forEach((id, i) => id !== gone && assert.equal(got.get(id), (i % 3) + 2, `version ${id}`));
      core.downloads.record(ids[0]);
      await core.downloads.flush();
      assert.equal((await counts()).get(ids[0]), 3);
    });

    test('tokens: only a hash is stored; expired and revoked tokens stop working', async () => {
      const { token, info } = await core.tokens.createPersonal(systemActor, 'carol', { scopes: 'read:packages' });
      assert.match(token, /^whp_[0-9A-Za-z]{36}$/);
      const rows = await core.db.selectFrom('tokens').selectAll().where('id', '=', info.id).execute();
      assert.ok(!JSON.stringify(rows).includes(token.slice(4)), 'the clear token is nowhere in the row');
      assert.equal(((await core.tokens.authenticate(token)) as any).user.name, 'carol');
      assert.equal(await core.tokens.authenticate(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), null, 'bad checksum');
      await core.tokens.revoke(systemActor, token);
      assert.equal(await core.tokens.authenticate(token), null);
      const short = await core.tokens.createPersonal(systemActor, 'carol', { scopes: 'read:packages', expiresInMs: 1 });
      await new Promise((r) => setTimeout(r, 5));
      assert.equal(await core.tokens.authenticate(short.token), null);
    });
  });
}
