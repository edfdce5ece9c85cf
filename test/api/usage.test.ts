// Storage usage over REST and the web UI on every dialect: who manages the owner sees it, others do not; site admins
// set quotas; the figures follow publishes and deletes (core/usage.ts).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { Sessions } from '../../src/core/auth/sessions.ts';
import { buildNupkg } from '../../src/formats/nuget/nupkg-fixture.ts';
import { buildAssemblyFor, buildPortablePdb, buildSnupkg, pdbIdOf } from '../../src/formats/nuget/pdb-fixture.ts';
import { dialects } from '../helpers/databases.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

for (const dialect of dialects()) {
  describe(`usage REST and page on ${dialect}`, () => {
    let w: TestServer;
    let alice: string;
    let bob: string;
    let admin: string;
    const call = async (method: string, url: string, token?: string, payload?: unknown) => {
      const r = await w.app.inject({ method: method as 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(payload ? { payload: payload as object } : {}) });
      return { status: r.statusCode, body: String(r.headers['content-type'] ?? '').includes('json') ? r.json() : r.body };
    };
    before(async () => {
      w = await startWharf({ dialect });
      alice = await w.userWithToken('alice', 'read:packages,write:packages,delete:packages,user');
      bob = await w.userWithToken('bob', 'read:packages,write:packages,delete:packages,user');
      admin = await w.userWithToken('root', 'read:packages,write:packages,delete:packages,user,admin:org,site_admin', { admin: true });
      const tgz = Buffer.from('not really a tarball but bytes');
      const put = (name: string, data: Buffer) => w.app.inject({ method: 'PUT', url: `/generic/alice/${name}/1.0.0/file.bin`, headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/octet-stream' }, payload: data });
      assert.equal((await put('one', tgz)).statusCode, 201);
      assert.equal((await put('two', tgz)).statusCode, 201);
    });
    after(async () => w.stop());

    test('GET /users/:user/settings/billing/packages: the owner and site admins; a blob shared by two packages counts once', async () => {
      const r = await call('GET', '/api/v1/users/alice/settings/billing/packages', alice);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.storage_bytes, 30);
      assert.equal(r.body.package_count, 2);
      assert.deepEqual(r.body.packages.map((p: any) => [p.name, p.storage_bytes, p.version_count]), [['one', 30, 1], ['two', 30, 1]]);
      assert.equal((await call('GET', '/api/v1/users/alice/settings/billing/packages', admin)).status, 200);
      assert.ok([403, 404].includes((await call('GET', '/api/v1/users/alice/settings/billing/packages', bob)).status));
      assert.ok([401, 403, 404].includes((await call('GET', '/api/v1/users/alice/settings/billing/packages')).status));
    });

    test('PUT /admin/quotas/:owner: site admins only; the generic upload over it is refused, reads still work', async () => {
      assert.equal((await call('PUT', '/api/v1/admin/quotas/alice', alice, { storage: '1GiB' })).status, 403);
      const set = await call('PUT', '/api/v1/admin/quotas/alice', admin, { storage: 40, packages: null });
      assert.deepEqual(set.body, { storage_bytes: 40, packages: null, source: 'owner' });
      const r = await w.app.inject({ method: 'PUT', url: '/generic/alice/three/1.0.0/big.bin', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(100, 1) });
      assert.equal(r.statusCode, 413, r.body);
      assert.match(r.body, /storage quota exceeded for alice: 30 bytes used of 40 bytes, and this upload adds 100 bytes/);
      assert.equal((await w.app.inject({ method: 'GET', url: '/generic/alice/one/1.0.0/file.bin', headers: { authorization: `Bearer ${alice}` } })).statusCode, 200, 'reads are never blocked');
      assert.equal((await call('GET', '/api/v1/users/alice/settings/billing/packages', alice)).body.package_count, 2);
      assert.equal((await call('DELETE', '/api/v1/admin/quotas/alice', admin)).status, 204);
    });

    test('a first OCI upload over the quota is refused (403 DENIED) before its repository appears', async () => {
      assert.equal((await call('PUT', '/api/v1/admin/quotas/alice', admin, { storage: 40, packages: null })).status, 200);
      const digest = `sha256:${createHash('sha256').update(Buffer.alloc(100, 2)).digest('hex')}`;
      const r = await w.app.inject({ method: 'POST', url: `/v2/alice/over/blobs/uploads/?digest=${digest}`, headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(100, 2) });
      assert.equal(r.statusCode, 403, r.body);
      assert.match(r.body, /DENIED/);
      assert.equal(await w.core.packages.find('alice', 'container', 'over'), undefined, 'no repository was made');
      assert.equal((await call('GET', '/api/v1/users/alice/settings/billing/packages', alice)).body.package_count, 2);
      assert.equal((await call('DELETE', '/api/v1/admin/quotas/alice', admin)).status, 204);
    });

    test('an OCI body of undeclared size (chunked) is cut off where the quota ends: DENIED, and nothing is kept', async () => {
      assert.equal((await call('PUT', '/api/v1/admin/quotas/alice', admin, { storage: 40, packages: null })).status, 200);
      // A repository of alice's to push into (made while the quota allows it).
      const small = Buffer.alloc(4, 3);
      const smallDigest = `sha256:${createHash('sha256').update(small).digest('hex')}`;
      assert.equal((await w.app.inject({ method: 'POST', url: `/v2/alice/streamed/blobs/uploads/?digest=${smallDigest}`, headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/octet-stream' }, payload: small })).statusCode, 201);
      const big = Buffer.alloc(200, 4);
      const bigDigest = `sha256:${createHash('sha256').update(big).digest('hex')}`;
      // fetch with a stream body sends it chunked, with no Content-Length (as docker's PATCH does).
      const streamed = (method: string, url: string) => fetch(`${w.url}${url}`, {
        method, headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/octet-stream' }, body: new Blob([big]).stream(), duplex: 'half',
      } as RequestInit);
      const mono = await streamed('POST', `/v2/alice/streamed/blobs/uploads/?digest=${bigDigest}`);
      const monoBody = await mono.text();
      assert.equal(mono.status, 403, monoBody);
      assert.match(monoBody, /DENIED.*quota|quota.*DENIED/s);
      assert.equal(await w.core.blobs.stat(bigDigest), null, 'nothing kept');
      const start = await w.app.inject({ method: 'POST', url: '/v2/alice/streamed/blobs/uploads/', headers: { authorization: `Bearer ${alice}` } });
      assert.equal(start.statusCode, 202);
      const location = String(start.headers.location);
      const patch = await streamed('PATCH', location);
      assert.equal(patch.status, 403, await patch.text());
      const status = await w.app.inject({ method: 'GET', url: location, headers: { authorization: `Bearer ${alice}` } });
      assert.equal(status.headers.range, '0-0', 'the refused chunk is not kept in the upload');
      assert.equal((await call('DELETE', '/api/v1/admin/quotas/alice', admin)).status, 204);
      // Without a quota the same streamed body goes through.
      const ok = await streamed('POST', `/v2/alice/streamed/blobs/uploads/?digest=${bigDigest}`);
      assert.equal(ok.status, 201, await ok.text());
    });

    test('the Storage settings page: its owner sees figures, another user gets 404', async () => {
      const sessions = new Sessions(w.core.db);
      const as = async (name: string) => `wharf_session=${(await sessions.create((await w.core.identity.findOwner(name))!.id)).secret}`;
      const page = await w.app.inject({ method: 'GET', url: '/alice/-/settings/usage', headers: { cookie: await as('alice') } });
      assert.equal(page.statusCode, 200, page.body.slice(0, 500));
      assert.match(page.body, /Storage and quota/);
      assert.match(page.body, /30 bytes/);
      assert.equal((await w.app.inject({ method: 'GET', url: '/alice/-/settings/usage', headers: { cookie: await as('bob') } })).statusCode, 404);
    });

    test('a Maven SNAPSHOT file deployed again counts net of the file it replaces; growing past the quota is refused', async () => {
      await w.core.identity.createRepo(systemActor, 'bob', 'lib', 'public');
      const jar = (n: number, fill: number) => w.app.inject({
        method: 'PUT', url: '/maven/bob/lib/com/example/snap/1.0-SNAPSHOT/snap-1.0-20300101.120000-1.jar',
        headers: { authorization: `Bearer ${bob}`, 'content-type': 'application/java-archive' }, payload: Buffer.alloc(n, fill),
      });
      assert.equal((await jar(50, 1)).statusCode, 201);
      const used = async () => (await call('GET', '/api/v1/users/bob/settings/billing/packages', bob)).body.storage_bytes as number;
      assert.equal(await used(), 50);
      // Full to the byte: the same size again (a rebuild) frees what it adds.
      assert.equal((await call('PUT', '/api/v1/admin/quotas/bob', admin, { storage: 50, packages: null })).status, 200);
      const again = await jar(50, 2);
      assert.equal(again.statusCode, 201, again.body);
      assert.equal(await used(), 50);
      // Smaller is fine too; larger than the quota allows is refused, before (declared length) and in the core.
      assert.equal((await jar(40, 3)).statusCode, 201);
      assert.equal(await used(), 40);
      const over = await jar(60, 4);
      assert.equal(over.statusCode, 413, over.body);
      assert.match(over.body, /storage quota exceeded for bob: 40 bytes used of 50 bytes, and this upload adds 20 bytes/);
      // The transaction's own check, without the route's early one (a body of undeclared length).
      const pkg = (await w.core.packages.find('bob', 'maven', 'com.example:snap'))!;
      const version = await w.core.db.selectFrom('package_versions').select('id').where('package_id', '=', pkg.id).executeTakeFirstOrThrow();
      const staged = await w.core.blobs.putBytes(Buffer.alloc(60, 5));
      await assert.rejects(
        w.core.publisher.addFiles(pkg.id, version.id, [{ name: 'snap-1.0-20300101.120000-1.jar', blob: staged, contentType: 'application/java-archive', primary: true }], [], systemActor, { replace: true }),
        /storage quota exceeded for bob: 40 bytes used of 50 bytes, and this upload adds 20 bytes/,
      );
      const served = await w.app.inject({ method: 'GET', url: '/maven/bob/lib/com/example/snap/1.0-SNAPSHOT/snap-1.0-20300101.120000-1.jar', headers: { authorization: `Bearer ${bob}` } });
      assert.deepEqual(served.rawPayload, Buffer.alloc(40, 3), 'the refused deploys changed nothing');
      assert.equal(await used(), 40);
      assert.equal((await call('DELETE', '/api/v1/admin/quotas/bob', admin)).status, 204);
    });

    test('a NuGet symbol package over the quota is refused, and nothing is attached', async () => {
      const push = (endpoint: string, file: Buffer) => {
        const b = 'quota-boundary-7f3e';
        const body = Buffer.concat([Buffer.from(`--${b}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; filename=package.nupkg\r\n\r\n`), file, Buffer.from(`\r\n--${b}--\r\n`)]);
        return w.app.inject({ method: 'PUT', url: `/nuget/bob/api/v2/${endpoint}/`, headers: { 'x-nuget-apikey': bob, 'content-type': `multipart/form-data; boundary=${b}` }, payload: body });
      };
      const pdb = buildPortablePdb(pdbIdOf('0123456789abcdef0123456789abcdef'));
      const nupkg = buildNupkg({ id: 'Bob.Sym', version: '1.0.0', dll: buildAssemblyFor(pdb) });
      const pushed = await push('package', nupkg);
      assert.equal(pushed.statusCode, 201, pushed.body);
      const before = (await call('GET', '/api/v1/users/bob/settings/billing/packages', bob)).body.storage_bytes as number;
      assert.equal((await call('PUT', '/api/v1/admin/quotas/bob', admin, { storage: before + 10, packages: null })).status, 200);
      const snupkg = buildSnupkg('Bob.Sym', '1.0.0', { 'lib/net6.0/Bob.Sym.pdb': pdb });
      const refused = await push('symbolpackage', snupkg);
      assert.equal(refused.statusCode, 413, refused.body);
      assert.match(refused.body, /storage quota exceeded for bob/);
      assert.equal((await call('GET', '/api/v1/users/bob/settings/billing/packages', bob)).body.storage_bytes, before);
      const pkg = (await w.core.packages.find('bob', 'nuget', 'Bob.Sym'))!;
      const files = await w.core.db.selectFrom('package_files').innerJoin('package_versions', 'package_versions.id', 'package_files.version_id').select('package_files.name').where('package_versions.package_id', '=', pkg.id).execute();
      assert.deepEqual(files.map((f) => f.name.toLowerCase()).filter((n) => n.endsWith('.snupkg')), [], 'no symbol package attached');
      // Within the quota, the same push goes through.
      assert.equal((await call('DELETE', '/api/v1/admin/quotas/bob', admin)).status, 204);
      const ok = await push('symbolpackage', snupkg);
      assert.equal(ok.statusCode, 201, ok.body);
      const after = await w.core.db.selectFrom('package_files').innerJoin('package_versions', 'package_versions.id', 'package_files.version_id').select('package_files.name').where('package_versions.package_id', '=', pkg.id).execute();
      assert.equal(after.filter((f) => f.name.toLowerCase().endsWith('.snupkg')).length, 1);
    });
  });
}
