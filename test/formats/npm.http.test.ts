// The npm registry protocol over HTTP, with hostile inputs: every bad publish gets npm's error format and writes nothing.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { createHash, createVerify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { dialects } from '../helpers/databases.ts';
import { npmTarball, publish, publishBody, putPackage, tarOf } from '../helpers/npm-body.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

/** Every committed blob in the store (for "nothing was written"). */
function storedBlobs(dataDir: string): string[] {
  const root = path.join(dataDir, 'blobs', 'sha256');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).flatMap((d) => fs.readdirSync(path.join(root, d)));
}
const tmpFiles = (dataDir: string) => fs.readdirSync(path.join(dataDir, 'blobs', 'tmp'));

for (const dialect of dialects()) {
  describe(`npm registry over HTTP on ${dialect}`, () => {
    let s: TestServer;
    let alice: string;
    let bob: string;
    let aliceRead: string;

    before(async () => {
      s = await startWharf({ dialect, env: { WHARF_NPM_MAX_BODY: String(2 * 1024 * 1024) } });
      alice = await s.userWithToken('alice');
      bob = await s.userWithToken('bob');
      aliceRead = (await s.core.tokens.createPersonal(systemActor, 'alice', { scopes: 'read:packages' })).token;
    });
    after(() => s.stop());

    const get = (p: string, token?: string, accept = 'application/json') =>
      fetch(`${s.url}${p}`, { headers: { accept, ...(token ? { authorization: `Bearer ${token}` } : {}) } });

    test('PUT publish → 201; GET packument (full and abbreviated) → the version with a working tarball URL', async () => {
      const r = await publish(s.url, alice, '@alice/first', '1.0.0', { description: 'first!', dependencies: { x: '^1.0.0' } });
      assert.equal(r.status, 201, await r.clone().text());
      const full = await (await get('/npm/@alice%2ffirst', alice)).json();
      assert.equal(full.name, '@alice/first');
      assert.equal(full['dist-tags'].latest, '1.0.0');
      assert.equal(full.description, 'first!');
      const tarUrl = full.versions['1.0.0'].dist.tarball;
      assert.equal(tarUrl, `${s.url}/npm/@alice/first/-/first-1.0.0.tgz`);
      const corgi = await get('/npm/@alice%2ffirst', alice, 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*');
      assert.match(corgi.headers.get('content-type')!, /application\/vnd\.npm\.install-v1\+json/);
      const abbrev = await corgi.json();
      assert.deepEqual(abbrev.versions['1.0.0'].dependencies, { x: '^1.0.0' });
      assert.equal(abbrev.versions['1.0.0'].description, undefined);
      const tgz = await fetch(tarUrl, { headers: { authorization: `Bearer ${alice}` } });
      assert.equal(tgz.status, 200);
      const bytes = Buffer.from(await tgz.arrayBuffer());
      assert.equal(`sha512-${createHash('sha512').update(bytes).digest('base64')}`, full.versions['1.0.0'].dist.integrity);
      // Both URL forms of a scoped name work.
      assert.equal((await get('/npm/@alice/first', alice)).status, 200);
    });

    test('conditional GET: ETag → 304 until the package changes', async () => {
      const r1 = await get('/npm/@alice%2ffirst', alice);
      const etag = r1.headers.get('etag')!;
      assert.ok(etag);
      const r2 = await fetch(`${s.url}/npm/@alice%2ffirst`, { headers: { authorization: `Bearer ${alice}`, 'if-none-match': etag } });
      assert.equal(r2.status, 304);
      assert.equal((await publish(s.url, alice, '@alice/first', '1.1.0')).status, 201);
      const r3 = await fetch(`${s.url}/npm/@alice%2ffirst`, { headers: { authorization: `Bearer ${alice}`, 'if-none-match': etag } });
      assert.equal(r3.status, 200);
      assert.ok((await r3.json()).versions['1.1.0'], 'the cached document was not served stale');
    });

    test('republishing a version → 409 with npm\'s message', async () => {
      const r = await publish(s.url, alice, '@alice/first', '1.0.0');
      assert.equal(r.status, 409);
      assert.match((await r.json()).error, /cannot publish over the previously published versions: 1\.0\.0/);
    });

    test('private by default: other users get 404, anonymous gets 401 with a Bearer challenge', async () => {
      const other = await get('/npm/@alice%2ffirst', bob);
      assert.equal(other.status, 404);
      assert.deepEqual(await other.json(), { error: 'package @alice/first not found' });
      assert.equal((await get('/npm/@alice%2fmissing', bob)).status, 404, 'a missing package looks the same');
      const anon = await get('/npm/@alice%2ffirst');
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get('www-authenticate'), 'Bearer realm="Wharf"');
      assert.equal((await get('/npm/@alice%2fmissing')).status, 401, 'anonymous: missing and private are indistinguishable');
      assert.equal((await get('/npm/@alice/first/-/first-1.0.0.tgz', bob)).status, 404);
    });

    const refused = async (name: string, body: unknown, status: number, pattern: RegExp, token = alice) => {
      const before = storedBlobs(s.dataDir).length;
      const r = await putPackage(s.url, token, name, body);
      assert.equal(r.status, status, `${name}: ${await r.clone().text()}`);
      const json = await r.json();
      assert.match(json.error, pattern);
      assert.equal(storedBlobs(s.dataDir).length, before, 'no blob was stored');
      assert.deepEqual(tmpFiles(s.dataDir), [], 'no temp file was left');
      return json;
    };

    test('bad names and scopes are refused: unscoped, upper-case, traversal, another owner\'s scope, unknown scope', async () => {
      const tgz = await npmTarball('@alice/x', '1.0.0');
      await refused('hello', publishBody({ name: 'hello', version: '1.0.0', tarball: tgz }), 400, /must be scoped/);
      await refused('@alice/Hello', publishBody({ name: '@alice/Hello', version: '1.0.0', tarball: tgz }), 400, /lower-case/);
      const r = await fetch(`${s.url}/npm/@alice%2f..%2fx`, { method: 'PUT', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: '{}' });
      assert.equal(r.status, 400);
      await refused('@bob/x', publishBody({ name: '@bob/x', version: '1.0.0', tarball: await npmTarball('@bob/x', '1.0.0') }), 403, /may not publish packages to bob/);
      await refused('@nobody/x', publishBody({ name: '@nobody/x', version: '1.0.0', tarball: await npmTarball('@nobody/x', '1.0.0') }), 404, /no user or organization/);
      assert.equal((await get('/npm/@alice/x/-/..%2f..%2fwharf.db', alice)).status, 404);
    });

    test('bad versions, mismatched documents and bad tarballs are refused and write nothing', async () => {
      const n = '@alice/bad';
      const good = await npmTarball(n, '1.0.0');
      await refused(n, publishBody({ name: n, version: '1.0', tarball: await npmTarball(n, '1.0') }), 400, /invalid version/);
      await refused(n, publishBody({ name: n, version: '1.0.0', tarball: good, integrity: `sha512-${createHash('sha512').update('other').digest('base64')}` }), 400, /integrity mismatch/);
      await refused(n, publishBody({ name: n, version: '1.0.0', tarball: good, shasum: 'deadbeef' }), 400, /shasum mismatch/);
      await refused(n, publishBody({ name: n, version: '1.0.0', tarball: good.subarray(0, good.length - 30) }), 400, /gzip|tar/);
      await refused(n, publishBody({ name: n, version: '1.0.0', tarball: Buffer.from('this is not gzip') }), 400, /not valid gzip/);
      await refused(n, publishBody({ name: n, version: '1.0.0', tarball: gzipSync(await tarOf([{ name: 'package/index.js', body: 'x' }])) }), 400, /no package.json/);
      await refused(n, publishBody({ name: n, version: '1.0.0', tarball: await npmTarball('@alice/other', '1.0.0') }), 400, /package.json says @alice\/other@1.0.0/);
      await refused(n, publishBody({ name: n, version: '1.0.0', tarball: await npmTarball(n, '2.0.0') }), 400, /not @alice\/bad@1.0.0/);
      await refused(n, publishBody({ name: n, version: '1.0.0', tarball: gzipSync(await tarOf([{ name: 'package/package.json', body: JSON.stringify({ name: n, version: '1.0.0' }) }, { name: '../../evil', body: 'x' }])) }), 400, /outside the package/);
      await refused(n, '{"name":"@alice/bad", "versions": {', 400, /JSON/);
      await refused(n, { ...publishBody({ name: n, version: '1.0.0', tarball: good }), name: '@alice/elsewhere' }, 400, /does not match/);
      const twoVersions = publishBody({ name: n, version: '1.0.0', tarball: good }) as any;
      twoVersions.versions['1.0.1'] = { ...twoVersions.versions['1.0.0'], version: '1.0.1' };
      await refused(n, twoVersions, 400, /exactly one version/);
      const badTag = publishBody({ name: n, version: '1.0.0', tarball: good, tags: { latest: '9.9.9' } });
      await refused(n, badTag, 400, /must point at the published version/);
      const encoded = good.toString('base64');
      for (const data of [`${encoded.slice(0, 8)}!!!!${encoded.slice(12)}`, `${encoded.slice(0, 6)}=A${encoded.slice(8)}`, `${encoded} `, encoded.slice(1), 42]) {
        const body = publishBody({ name: n, version: '1.0.0', tarball: good }) as any;
        for (const att of Object.values(body._attachments) as any[]) att.data = data;
        await refused(n, body, 400, /not valid base64/);
      }
      assert.equal((await get(`/npm/${n.replace('/', '%2f')}`, alice)).status, 404, 'nothing became visible');
    });

    test('an oversized body → 413 while streaming, and nothing is written', async () => {
      const big = Buffer.alloc(3 * 1024 * 1024, 7);
      await refused('@alice/huge', publishBody({ name: '@alice/huge', version: '1.0.0', tarball: big }), 413, /exceeds/);
    });

    test('credentials: missing → 401, unknown/revoked → 401, read-only token → 403, expired → 401', async () => {
      const body = publishBody({ name: '@alice/auth', version: '1.0.0', tarball: await npmTarball('@alice/auth', '1.0.0') });
      const anon = await putPackage(s.url, null, '@alice/auth', body);
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get('www-authenticate'), 'Bearer realm="Wharf"');
      assert.equal((await putPackage(s.url, 'whp_notarealtokennotarealtokennotarealt', '@alice/auth', body)).status, 401);
      const ro = await putPackage(s.url, aliceRead, '@alice/auth', body);
      assert.equal(ro.status, 403);
      assert.match((await ro.json()).error, /write:packages/);
      const { token } = await s.core.tokens.createPersonal(systemActor, 'alice', { scopes: 'write:packages' });
      await s.core.tokens.revoke(systemActor, token);
      assert.equal((await putPackage(s.url, token, '@alice/auth', body)).status, 401);
      const short = await s.core.tokens.createPersonal(systemActor, 'alice', { scopes: 'write:packages', expiresInMs: 1 });
      await new Promise((r) => setTimeout(r, 10));
      assert.equal((await putPackage(s.url, short.token, '@alice/auth', body)).status, 401);
      assert.equal((await get('/npm/-/whoami', alice).then((r) => r.json())).username, 'alice');
    });

    test('50 concurrent publishes of distinct versions all land; 10 of the same version: one 201, the rest 409', async () => {
      const n = '@alice/busy';
      const distinct = await Promise.all(Array.from({ length: 50 }, (_, i) => publish(s.url, alice, n, `1.0.${i}`)));
      assert.deepEqual(distinct.map((r) => r.status), Array(50).fill(201));
      const doc = await (await get('/npm/@alice%2fbusy', alice)).json();
      assert.equal(Object.keys(doc.versions).length, 50);
      const same = await Promise.all(Array.from({ length: 10 }, () => publish(s.url, alice, n, '2.0.0')));
      const statuses = same.map((r) => r.status).sort();
      assert.equal(statuses.filter((x) => x === 201).length, 1, String(statuses));
      assert.ok(statuses.every((x) => x === 201 || x === 409 || x === 403), String(statuses));
    });

    test('dist-tags: add, list, remove; latest cannot be removed; tags must not be versions', async () => {
      const put = (tag: string, body: string, token = alice) => fetch(`${s.url}/npm/-/package/@alice%2ffirst/dist-tags/${tag}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
      assert.equal((await put('beta', '"1.0.0"')).status, 201);
      assert.deepEqual(await (await get('/npm/-/package/@alice%2ffirst/dist-tags', alice)).json(), { beta: '1.0.0', latest: '1.1.0' });
      assert.equal((await put('2.0.0', '"1.0.0"')).status, 400);
      assert.equal((await put('nope', '"9.9.9"')).status, 404);
      assert.equal((await put('beta', '"1.0.0"', aliceRead)).status, 403);
      const del = (tag: string) => fetch(`${s.url}/npm/-/package/@alice%2ffirst/dist-tags/${tag}`, { method: 'DELETE', headers: { authorization: `Bearer ${alice}` } });
      assert.equal((await del('latest')).status, 400);
      assert.equal((await del('beta')).status, 200);
      assert.deepEqual(await (await get('/npm/-/package/@alice%2ffirst/dist-tags', alice)).json(), { latest: '1.1.0' });
    });

    test('registry signatures: every version is signed over name@version:integrity, verifiable with /-/npm/v1/keys as npm does', async () => {
      const { keys } = await (await get('/npm/-/npm/v1/keys')).json();
      assert.equal(keys.length, 1);
      assert.equal(keys[0].keytype, 'ecdsa-sha2-nistp256');
      assert.match(keys[0].keyid, /^SHA256:/);
      const pem = `-----BEGIN PUBLIC KEY-----\n${keys[0].key}\n-----END PUBLIC KEY-----`;
      const doc = await (await get('/npm/@alice%2ffirst', alice)).json();
      for (const [version, v] of Object.entries<any>(doc.versions)) {
        const [sig] = v.dist.signatures;
        assert.equal(sig.keyid, keys[0].keyid);
        // What pacote does under `npm audit signatures`.
        const verifier = createVerify('SHA256');
        verifier.end(`@alice/first@${version}:${v.dist.integrity}`);
        assert.ok(verifier.verify(pem, sig.sig, 'base64'), `signature of ${version}`);
        const tampered = createVerify('SHA256');
        tampered.end(`@alice/first@${version}:sha512-${'A'.repeat(86)}==`);
        assert.equal(tampered.verify(pem, sig.sig, 'base64'), false);
      }
      const abbrev = await (await get('/npm/@alice%2ffirst', alice, 'application/vnd.npm.install-v1+json')).json();
      assert.ok(abbrev.versions['1.0.0'].dist.signatures[0].sig);
    });

    test('download counts are recorded per version without a write per request', async () => {
      for (let i = 0; i < 3; i++) await (await get('/npm/@alice/first/-/first-1.0.0.tgz', alice)).arrayBuffer();
      await s.core.flush();
      const rows = await s.core.db.selectFrom('downloads').innerJoin('package_versions', 'package_versions.id', 'downloads.version_id').select(['package_versions.version', 'downloads.count']).where('package_versions.version', '=', '1.0.0').execute();
      assert.ok(rows.reduce((n, r) => n + Number(r.count), 0) >= 3);
    });

    test('the publisher: _npmUser and maintainers carry the email when the user has one, and an empty one otherwise (npm prints a missing one as <undefined>)', async () => {
      // alice has alice@example.com (the helper gives every user one); dave has none.
      await s.core.identity.createUser(systemActor, { name: 'dave' });
      const dave = (await s.core.tokens.createPersonal(systemActor, 'dave', { scopes: 'read:packages,write:packages' })).token;
      assert.equal((await publish(s.url, alice, '@alice/people', '1.0.0')).status, 201);
      const r = await publish(s.url, dave, '@dave/solo', '1.0.0');
      assert.equal(r.status, 201, await r.text());

      const withEmail = await (await get('/npm/@alice%2fpeople', alice)).json();
      assert.deepEqual(withEmail.versions['1.0.0']._npmUser, { name: 'alice', email: 'alice@example.com' });
      assert.deepEqual(withEmail.maintainers, [{ name: 'alice', email: 'alice@example.com' }]);
      const text = await (await get('/npm/@dave%2fsolo', dave)).text();
      assert.ok(!text.includes('undefined'), text);
      const without = JSON.parse(text);
      assert.deepEqual(without.versions['1.0.0']._npmUser, { name: 'dave', email: '' });
      assert.deepEqual(without.maintainers, [{ name: 'dave', email: '' }]);
      // One version's document (GET /@scope%2fname/VERSION) says the same.
      assert.deepEqual((await (await get('/npm/@alice%2fpeople/1.0.0', alice)).json())._npmUser, { name: 'alice', email: 'alice@example.com' });
      // The email comes with the token's cached lookup, which follows the owners table: a new email is used at once.
      await s.core.db.updateTable('owners').set({ email: 'dave@example.com' }).where('name', '=', 'dave').execute();
      assert.equal((await publish(s.url, dave, '@dave/solo', '1.0.1')).status, 201);
      assert.deepEqual((await (await get('/npm/@dave%2fsolo/1.0.1', dave)).json())._npmUser, { name: 'dave', email: 'dave@example.com' });
    });
  });
}
