// Read caches (token rows, package and file lookups, roles) never serve what another process or node has
// changed: two cores over the same database stand for the server and the CLI (SQLite) or two nodes (PostgreSQL).
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { CompiledQuery } from 'kysely';
import { loadConfig } from '../../src/config.ts';
import { ALL_SCOPES, anonymous, type Actor } from '../../src/core/auth/actor.ts';
import { ROLE_TABLES } from '../../src/core/auth/authorize.ts';
import { cacheStats } from '../../src/core/stats.ts';
import { openCore, type Core } from '../../src/core/core.ts';
import { Changes, GenerationCache, isRelevantWrite, scopedGeneration, writtenTables } from '../../src/db/changes.ts';
import { createDatabase, dialects, type TestDatabase } from '../helpers/databases.ts';
import { eventually, tempDir } from '../helpers/wharf.ts';

for (const dialect of dialects()) {
  describe(`read caches on ${dialect}: two processes over one database`, () => {
    let a: Core; // the server, reading through its caches
    let b: Core; // the CLI, or another node
    let db: TestDatabase;
    let alice: Actor;
    let bob: Actor;
    // SQLite: the other process's commit is seen within a millisecond (data_version); PostgreSQL: once NOTIFY arrives.
    const seen = dialect === 'sqlite' ? (check: () => Promise<boolean>, what: string) => eventually(check, what, 50) : eventually;

    before(async () => {
      const dir = tempDir();
      db = await createDatabase(dialect, dir);
      a = await openCore(loadConfig({ WHARF_DATA: dir, WHARF_DATABASE_URL: db.url }));
      b = await openCore(loadConfig({ WHARF_DATA: dir, WHARF_DATABASE_URL: db.url }));
      const u = await a.identity.createUser(systemActor, { name: 'alice' });
      alice = { kind: 'user', user: { id: u.id, name: 'alice', isAdmin: false }, scopes: ALL_SCOPES, tokenId: null };
      const v = await a.identity.createUser(systemActor, { name: 'bob' });
      bob = { kind: 'user', user: { id: v.id, name: 'bob', isAdmin: false }, scopes: ALL_SCOPES, tokenId: null };
      // Let PostgreSQL's listeners connect before the first cached read.
      if (dialect === 'postgres') await new Promise((r) => setTimeout(r, 300));
    });
    after(async () => {
      await a.close();
      await b.close();
      await db.drop();
    });

    const publish = async (core: Core, name: string, version: string) =>
      core.publisher.createVersion({
        ownerId: alice.kind === 'user' ? alice.user.id : 0, type: 'test', name, version, metadata: {},
        files: [{ name: `${name}-${version}.bin`, blob: await core.blobs.put(Readable.from([randomBytes(32)])), contentType: 'application/octet-stream' }],
        repositoryId: null, actor: alice,
      });

    test('a token revoked by the other process stops working on this one', async () => {
      const { token } = await b.tokens.createPersonal(systemActor, 'alice', { name: 't', scopes: 'read:packages' });
      for (let i = 0; i < 3; i++) assert.equal((await a.authn.fromAuthorization(`Bearer ${token}`)).kind, 'user', 'cached and reused');
      await b.tokens.revoke(systemActor, token);
      await seen(async () => (await a.tokens.authenticate(token)) === null, 'revocation');
      await assert.rejects(a.authn.fromAuthorization(`Bearer ${token}`), /revoked/);
    });

    test('a visibility change by the other process is what this one decides on', async () => {
      await publish(a, 'vis', '1.0.0');
      const pkg = (await a.packages.find('alice', 'test', 'vis'))!;
      assert.equal(await a.authz.canRead(anonymous, pkg), false);
      assert.equal(await a.authz.canRead(anonymous, (await a.packages.find('alice', 'test', 'vis'))!), false, 'cached');
      await b.publisher.updateSettings(pkg.id, { visibility: 'public' }, alice);
      await seen(async () => a.authz.canRead(anonymous, (await a.packages.find('alice', 'test', 'vis'))!), 'made public');
      await b.publisher.updateSettings(pkg.id, { visibility: 'private' }, alice);
      await seen(async () => !(await a.authz.canRead(anonymous, (await a.packages.find('alice', 'test', 'vis'))!)), 'made private again');
    });

    test('a grant and its removal by the other process', async () => {
      const pkg = (await a.packages.find('alice', 'test', 'vis'))!;
      assert.equal(await a.authz.canRead(bob, pkg), false);
      await b.publisher.grant(pkg.id, { userId: bob.kind === 'user' ? bob.user.id : 0 }, 'read', systemActor);
      await seen(async () => a.authz.canRead(bob, (await a.packages.find('alice', 'test', 'vis'))!), 'granted');
      await b.publisher.revoke(pkg.id, { userId: bob.kind === 'user' ? bob.user.id : 0 }, systemActor);
      await seen(async () => !(await a.authz.canRead(bob, (await a.packages.find('alice', 'test', 'vis'))!)), 'revoked');
    });

    test('files published, deleted and restored elsewhere are found (or not) here', async () => {
      const pkg = (await a.packages.find('alice', 'test', 'vis'))!;
      assert.equal(await a.packages.file(pkg.id, '2.0.0', 'vis-2.0.0.bin'), undefined);
      const { version } = await publish(b, 'vis', '2.0.0');
      await seen(async () => (await a.packages.file(pkg.id, '2.0.0', 'vis-2.0.0.bin')) !== undefined, 'published');
      await b.publisher.deleteVersion(pkg.id, version.id, alice);
      await seen(async () => (await a.packages.file(pkg.id, '2.0.0', 'vis-2.0.0.bin')) === undefined, 'deleted');
      await b.publisher.restoreVersion(pkg.id, version.id, alice);
      await seen(async () => (await a.packages.file(pkg.id, '2.0.0', 'vis-2.0.0.bin')) !== undefined, 'restored');
    });

    test("publishing leaves the token lookups' generation alone; revoking moves it", async () => {
      const { token } = await a.tokens.createPersonal(systemActor, 'alice', { scopes: 'read:packages' });
      const gen = scopedGeneration(a.changes, ['tokens', 'owners', 'repositories']);
      assert.ok(await a.tokens.authenticate(token));
      // PostgreSQL: this node hears its own NOTIFY of the token's creation a little later; let it arrive first.
      if (dialect === 'postgres') await new Promise((r) => setTimeout(r, 300));
      const before = gen.current();
      await publish(a, 'scoped', '1.0.0');
      assert.equal(gen.current(), before, 'a publish writes none of the tables a token row is read from');
      await a.tokens.revoke(systemActor, token);
      assert.notEqual(gen.current(), before);
      assert.equal(await a.tokens.authenticate(token), null);
    });

    test('cached roles outlive publishing; memberships, collaborators and visibility (from either process) move them', async () => {
      const acme = await a.identity.createOrg(systemActor, 'acme', 'alice');
      const repo = await a.identity.createRepo(systemActor, 'acme', 'site', 'private');
      await a.publisher.createVersion({
        ownerId: acme.id, type: 'test', name: 'site', version: '1.0.0', metadata: {},
        files: [{ name: 'site-1.0.0.bin', blob: await a.blobs.put(Readable.from([randomBytes(32)])), contentType: 'application/octet-stream' }],
        repositoryId: repo.id, actor: alice,
      });
      const pkg = async () => (await a.packages.find('acme', 'test', 'site'))!;
      const roles = scopedGeneration(a.changes, ROLE_TABLES);
      const site = await pkg();
      // On PostgreSQL this node also hears its own NOTIFYs of the writes above, a little later (later still on a
      // loaded machine), and those do move the roles: the check is repeated until none arrives in between. With
      // roles that every write empties, it never holds.
      let attempt = 0;
      await eventually(async () => {
        assert.equal(await a.authz.canRead(bob, site), false, 'bob is not in acme'); // cached now
        const before = roles.current();
        const misses = cacheStats('access').misses;
        await publish(a, 'busy', `1.0.${attempt++}`);
        if (dialect === 'postgres') await publish(b, 'busy', `1.0.${attempt++}`); // another node names what it wrote
        await new Promise((r) => setTimeout(r, dialect === 'postgres' ? 200 : 0));
        assert.equal(await a.authz.canRead(bob, site), false);
        return roles.current() === before && cacheStats('access').misses === misses;
      }, "bob's role stays cached while packages are published (here, and on another node)", 10_000);
      await b.identity.addOrgMember(systemActor, 'acme', 'bob');
      await seen(async () => a.authz.canRead(bob, await pkg()), 'a member of acme reads its repository');
      await b.identity.removeOrgMember(systemActor, 'acme', 'bob');
      await seen(async () => !(await a.authz.canRead(bob, await pkg())), 'removed from acme');
      await b.identity.grantRepo(systemActor, 'acme/site', 'bob', 'read');
      await seen(async () => a.authz.canRead(bob, await pkg()), 'a collaborator');
      await b.identity.revokeRepo(systemActor, 'acme/site', 'bob');
      await seen(async () => !(await a.authz.canRead(bob, await pkg())), 'no longer a collaborator');
      assert.equal(await a.authz.canRead(anonymous, await pkg()), false);
      await b.identity.setRepoVisibility(systemActor, repo.id, 'public');
      await seen(async () => a.authz.canRead(anonymous, await pkg()), 'the repository made public');
      await a.identity.setRepoVisibility(systemActor, repo.id, 'private');
      assert.equal(await a.authz.canRead(anonymous, await pkg()), false, 'made private here: at once');
      // A deleted user takes memberships and grants with it by cascade: the owners statement moves the roles.
      const moved = roles.current();
      await a.identity.createUser(systemActor, { name: 'carol' });
      await a.identity.deleteUser(systemActor, 'carol');
      assert.notEqual(roles.current(), moved);
    });

    test('this process sees its own changes at once', async () => {
      const { token } = await a.tokens.createPersonal(systemActor, 'alice', { name: 'own', scopes: 'read:packages' });
      assert.ok(await a.tokens.authenticate(token));
      await a.tokens.revoke(systemActor, token);
      assert.equal(await a.tokens.authenticate(token), null);
      await publish(a, 'own', '1.0.0');
      const pkg = (await a.packages.find('alice', 'test', 'own'))!;
      assert.equal(await a.authz.canRead(anonymous, pkg), false);
      await a.publisher.updateSettings(pkg.id, { visibility: 'public' }, alice);
      assert.equal(await a.authz.canRead(anonymous, (await a.packages.find('alice', 'test', 'own'))!), true);
    });
  });
}

describe('which writes move the change generation', () => {
  const q = (sql: string, query: object) => ({ ...CompiledQuery.raw(sql), query }) as unknown as CompiledQuery;
  const table = (name: string) => ({ kind: 'TableNode', table: { identifier: { name } } });
  test('writes to the model count; counters and bookkeeping do not', () => {
    assert.equal(isRelevantWrite(q('insert into packages ...', { kind: 'InsertQueryNode', into: table('packages') })), true);
    assert.equal(isRelevantWrite(q('update tokens set revoked_at', { kind: 'UpdateQueryNode', table: table('tokens'), updates: [{ column: { column: { name: 'revoked_at' } } }] })), true);
    assert.equal(isRelevantWrite(q('update tokens set last_used_at', { kind: 'UpdateQueryNode', table: table('tokens'), updates: [{ column: { column: { name: 'last_used_at' } } }] })), false);
    assert.equal(isRelevantWrite(q('insert into downloads', { kind: 'InsertQueryNode', into: table('downloads') })), false);
    assert.equal(isRelevantWrite(q('delete from package_tags', { kind: 'DeleteQueryNode', from: { froms: [table('package_tags')] } })), true);
    assert.equal(isRelevantWrite(q('select 1', { kind: 'SelectQueryNode' })), false);
    assert.equal(isRelevantWrite(q('select 1', { kind: 'RawNode' })), false);
    assert.equal(isRelevantWrite(q('update packages set x = 1', { kind: 'RawNode' })), true);
  });

  test('which tables a write names: known for built queries, every table for raw SQL', () => {
    assert.deepEqual(writtenTables(q('insert into packages ...', { kind: 'InsertQueryNode', into: table('packages') })), ['packages']);
    assert.deepEqual(writtenTables(q('update tokens set revoked_at', { kind: 'UpdateQueryNode', table: table('tokens'), updates: [{ column: { column: { name: 'revoked_at' } } }] })), ['tokens']);
    assert.deepEqual(writtenTables(q('update tokens as t', { kind: 'UpdateQueryNode', table: { kind: 'AliasNode', node: table('tokens') } })), ['tokens']);
    assert.deepEqual(writtenTables(q('delete from downloads', { kind: 'DeleteQueryNode', from: { froms: [table('downloads')] } })), []);
    assert.deepEqual(writtenTables(q('select 1', { kind: 'SelectQueryNode' })), []);
    assert.equal(writtenTables(q('update packages set x = 1', { kind: 'RawNode' })), null);
    assert.equal(writtenTables(q('insert into ???', { kind: 'InsertQueryNode', into: { kind: 'Unknown' } })), null);
  });

  test('a scoped generation moves with its tables, unknown writes and other processes; not with other tables', async () => {
    const changes = new Changes();
    let other = 0;
    changes.watchOtherProcesses(() => other);
    const tokens = changes.scoped(['tokens', 'owners']);
    const cache = new GenerationCache<number>(tokens);
    let loads = 0;
    const get = () => cache.get('k', async () => ++loads);
    await get();
    changes.committed(['packages', 'package_versions']);
    changes.bump(['package_tags']);
    await get();
    assert.equal(loads, 1, 'writes to other tables keep the cached value');
    const whole = changes.current();
    changes.committed(['owners']);
    assert.notEqual(changes.current(), whole, 'the whole generation moves with every change');
    await get();
    assert.equal(loads, 2, 'a write to one of its tables drops it');
    changes.committed(null);
    await get();
    assert.equal(loads, 3, 'a write of unknown tables drops it');
    other++;
    await new Promise((r) => setTimeout(r, 2)); // the other-process check runs at most once a millisecond
    await get();
    assert.equal(loads, 4, "another process's commit drops it");
    changes.setReliable(false);
    await get();
    await get();
    assert.equal(loads, 6, 'without a reliable change feed nothing is cached');
    assert.equal(scopedGeneration({ current: () => 7 }, ['tokens']).current(), 7, 'a plain generation is kept whole');
  });
});
