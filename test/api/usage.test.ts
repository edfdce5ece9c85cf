// Storage usage over REST and the web UI on every dialect: who manages the owner sees it, others do not; site admins
// set quotas; the figures follow publishes and deletes (core/usage.ts).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Sessions } from '../../src/core/auth/sessions.ts';
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
  });
}
