// Generic packages over HTTP, on every database: uploads with a token (Basic or Bearer), several files per version,
// immutability (409, nothing written), hostile names (4xx), downloads with HEAD/Range/ETag served inert, the
// visibility rules, the REST API's versions and files, delete and restore, and the events webhooks are built from.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import type { PackageEvent } from '../../src/core/events/events.ts';
import { dialects } from '../helpers/databases.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

for (const dialect of dialects()) {
  describe(`generic packages over HTTP on ${dialect}`, () => {
    let s: TestServer;
    let alice: string;
    let bob: string;
    const events: PackageEvent[] = [];
    let hookId: number;
    const BASE = '/generic/alice/tool/1.0.0';
    const tarball = Buffer.from('\x1f\x8b pretend this is tool-1.0.0-linux-amd64.tar.gz');
    const sums = Buffer.from(`${sha256(tarball)}  tool-1.0.0-linux-amd64.tar.gz\n`);

    const put = (p: string, body: string | Buffer, auth?: string, headers: Record<string, string> = {}) =>
      fetch(`${s.url}${p}`, { method: 'PUT', headers: { ...(auth ? { authorization: auth } : {}), ...headers }, body: new Uint8Array(Buffer.from(body)) });
    const get = (p: string, auth?: string, headers: Record<string, string> = {}, method = 'GET') => fetch(`${s.url}${p}`, { method, headers: { ...(auth ? { authorization: auth } : {}), ...headers } });
    const rest = (p: string, init: RequestInit = {}) => fetch(`${s.url}/api/v1${p}`, { ...init, headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json', ...(init.headers as object) } });

    before(async () => {
      s = await startWharf({ dialect, env: { WHARF_MAX_BLOB_SIZE: String(1024 * 1024) } });
      alice = await s.userWithToken('alice');
      bob = await s.userWithToken('bob');
      s.core.events.on((e) => void events.push(e));
      // A hook whose deliveries are queued with each change (the address is never reached in the test).
      const owner = (await s.core.identity.findOwner('alice'))!;
      hookId = (await s.core.webhooks.create(systemActor, { ownerId: owner.id }, { url: 'https://93.184.216.34/hook', events: ['package'] } as never)).id;
    });
    after(() => s.stop());

    test('PUT without credentials → 401 with a Basic challenge, and nothing is created', async () => {
      const r = await put(`${BASE}/x.bin`, 'x');
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Basic /);
      assert.equal(await s.core.packages.find('alice', 'generic', 'tool'), undefined);
    });

    test('PUT with Basic, then Bearer: two files in one version → 201 with the file\'s sha256 and URL', async () => {
      const r1 = await put(`${BASE}/tool-1.0.0-linux-amd64.tar.gz`, tarball, basic('alice', alice));
      assert.equal(r1.status, 201, await r1.clone().text());
      const j = (await r1.json()) as Record<string, unknown>;
      assert.equal(j.sha256, sha256(tarball));
      assert.equal(j.size, tarball.length);
      assert.equal(j.url, `${s.url}${BASE}/tool-1.0.0-linux-amd64.tar.gz`);
      const r2 = await put(`${BASE}/SHA256SUMS`, sums, `Bearer ${alice}`, { 'x-checksum-sha256': sha256(sums) });
      assert.equal(r2.status, 201);
      const pkg = (await s.core.packages.find('alice', 'generic', 'tool'))!;
      assert.equal(pkg.visibility, 'private');
      const v = (await s.core.packages.version(pkg.id, '1.0.0'))!;
      assert.deepEqual((await s.core.packages.files(v.id)).map((f) => f.name), ['tool-1.0.0-linux-amd64.tar.gz', 'SHA256SUMS']);
      assert.deepEqual(events.filter((e) => e.packageId === pkg.id).map((e) => e.type), ['version.published', 'version.updated']);
      // Webhooks: GitHub's package payload, with the version's files and a download command for each.
      const deliveries = await s.core.db.selectFrom('webhook_deliveries').selectAll().where('hook_id', '=', hookId).orderBy('id').execute();
      assert.deepEqual(deliveries.map((d) => d.action).sort(), ['published', 'updated']);
      const last = JSON.parse(deliveries.find((d) => d.action === 'updated')!.payload).package;
      assert.equal(last.package_type, 'generic');
      assert.deepEqual(last.package_version.package_files.map((f: { name: string }) => f.name), ['tool-1.0.0-linux-amd64.tar.gz', 'SHA256SUMS']);
      assert.match(last.package_version.installation_command, /\/generic\/alice\/tool\/1\.0\.0\/SHA256SUMS$/);
    });

    test('the same file again → 409 (immutable), whatever its bytes, and the first bytes stay', async () => {
      for (const body of [tarball, Buffer.from('other bytes')]) {
        const r = await put(`${BASE}/tool-1.0.0-linux-amd64.tar.gz`, body, basic('alice', alice));
        assert.equal(r.status, 409);
        assert.match(await r.text(), /immutable/);
      }
      // Case-insensitively the same name is the same file.
      assert.equal((await put(`${BASE}/TOOL-1.0.0-linux-amd64.tar.gz`, 'x', basic('alice', alice))).status, 409);
      const r = await get(`${BASE}/tool-1.0.0-linux-amd64.tar.gz`, basic('alice', alice));
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), tarball);
    });

    test('concurrent uploads to a new version: different files all land in it; the same file lands once (one 201, the rest 409)', async () => {
      const auth = basic('alice', alice);
      const many = await Promise.all(Array.from({ length: 6 }, (_, i) => put(`/generic/alice/race/1.0/f${i}.bin`, `file ${i}`, auth)));
      assert.deepEqual(many.map((r) => r.status), [201, 201, 201, 201, 201, 201]);
      const same = await Promise.all(Array.from({ length: 6 }, (_, i) => put('/generic/alice/race/2.0/same.bin', `bytes ${i}`, auth)));
      assert.deepEqual(same.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409]);
      const pkg = (await s.core.packages.find('alice', 'generic', 'race'))!;
      assert.equal((await s.core.packages.files((await s.core.packages.version(pkg.id, '1.0'))!.id)).length, 6);
      const winner = same.findIndex((r) => r.status === 201);
      assert.equal(await (await get('/generic/alice/race/2.0/same.bin', auth)).text(), `bytes ${winner}`);
    });

    test('bad input → clear 4xx: hostile names, traversal, a checksum mismatch, a body over the limit', async () => {
      const auth = basic('alice', alice);
      const cases: [string, number][] = [
        ['/generic/alice/tool/1.0.0/..', 400], ['/generic/alice/tool/1.0.0/%2e%2e', 400], ['/generic/alice/tool/1.0.0/a%2Fb', 400],
        ['/generic/alice/tool/1.0.0/.env', 400], ['/generic/alice/tool/1.0.0/a%0d%0ab', 400], [`/generic/alice/tool/1.0.0/${'f'.repeat(201)}`, 400],
        ['/generic/alice/t%20ol/1.0.0/f', 400], ['/generic/alice/tool/1%2F0/f', 400], ['/generic/alice/tool/1.0.0', 400],
        ['/generic/alice/tool', 404], ['/generic/nobody/tool/1.0.0/f', 404], ['/generic/a_b/tool/1.0.0/f', 404],
      ];
      for (const [p, status] of cases) {
        const r = await put(p, 'x', auth);
        assert.equal(r.status, status, `PUT ${p}`);
        assert.ok((await r.text()).length > 3, `PUT ${p} says why`);
      }
      const bad = await put(`${BASE}/bad.bin`, 'content', auth, { 'x-checksum-sha256': sha256('other') });
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /checksum mismatch/);
      const big = await put(`${BASE}/big.bin`, Buffer.alloc(1024 * 1024 + 1), auth);
      assert.equal(big.status, 413);
      const pkg = (await s.core.packages.find('alice', 'generic', 'tool'))!;
      assert.equal(await s.core.packages.file(pkg.id, '1.0.0', 'bad.bin'), undefined);
      assert.equal(await s.core.packages.file(pkg.id, '1.0.0', 'big.bin'), undefined);
    });

    test('bob may not upload into alice\'s package nor create under alice: the same 403, so the package he cannot see is not confirmed', async () => {
      const hidden = await put(`${BASE}/bob.bin`, 'x', basic('bob', bob));
      const missing = await put('/generic/alice/other/1.0/bob.bin', 'x', basic('bob', bob));
      assert.equal(hidden.status, 403);
      assert.equal(missing.status, 403);
      assert.equal(await hidden.text(), await missing.text());
      assert.equal(await s.core.packages.find('alice', 'generic', 'other'), undefined);
    });

    test('GET: the bytes, inert (octet-stream, attachment, sandbox CSP, nosniff), with ETag, HEAD and Range', async () => {
      const auth = basic('alice', alice);
      const p = `${BASE}/tool-1.0.0-linux-amd64.tar.gz`;
      const r = await get(p, auth);
      assert.equal(r.status, 200);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), tarball);
      assert.equal(r.headers.get('content-type'), 'application/octet-stream');
      assert.equal(r.headers.get('content-disposition'), 'attachment; filename="tool-1.0.0-linux-amd64.tar.gz"');
      assert.match(r.headers.get('content-security-policy') ?? '', /sandbox/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('x-checksum-sha256'), sha256(tarball));
      const etag = r.headers.get('etag')!;
      assert.equal((await get(p, auth, { 'if-none-match': etag })).status, 304);
      const head = await get(p, auth, {}, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(tarball.length));
      const part = await get(p, auth, { range: 'bytes=2-5' });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), `bytes 2-5/${tarball.length}`);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), tarball.subarray(2, 6));
      assert.equal((await get(p, auth, { range: `bytes=${tarball.length}-` })).status, 416);
      // An HTML or SVG asset with a script is a download too, never a page of Wharf's origin.
      for (const f of ['evil.html', 'evil.svg']) {
        assert.equal((await put(`/generic/alice/site/1.0/${f}`, '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>', auth, { 'content-type': 'text/html' })).status, 201);
        const e = await get(`/generic/alice/site/1.0/${f}`, auth);
        assert.equal(e.headers.get('content-type'), 'application/octet-stream');
        assert.equal(e.headers.get('content-disposition'), `attachment; filename="${f}"`);
        assert.match(e.headers.get('content-security-policy') ?? '', /default-src 'none'; sandbox/);
      }
      assert.equal((await get(`${BASE}/missing.bin`, auth)).status, 404);
      assert.equal((await get('/generic/alice/tool/9.9/SHA256SUMS', auth)).status, 404);
    });

    test('a private package: anonymous → 401 challenge, bob → 404; public: anonymous reads, nobody anonymous writes', async () => {
      const p = `${BASE}/SHA256SUMS`;
      const anon = await get(p);
      assert.equal(anon.status, 401);
      assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic /);
      assert.equal((await get(p, basic('bob', bob))).status, 404);
      assert.equal((await rest('/users/alice/packages/generic/tool', { method: 'PATCH', body: JSON.stringify({ visibility: 'public' }) })).status, 200);
      const r = await get(p);
      assert.equal(r.status, 200);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), sums);
      assert.equal((await get(p, basic('bob', bob))).status, 200);
      assert.equal((await put(`${BASE}/anon.bin`, 'x')).status, 401);
      assert.equal((await put(`${BASE}/bob.bin`, 'x', basic('bob', bob))).status, 403);
    });

    test('REST: the package with its install command, its versions, and a version\'s files', async () => {
      assert.equal((await put('/generic/alice/tool/1.1.0/tool-1.1.0.zip', 'zip', basic('alice', alice))).status, 201);
      const pkg = (await (await rest('/users/alice/packages/generic/tool')).json()) as Record<string, any>;
      assert.equal(pkg.package_type, 'generic');
      assert.equal(pkg.version_count, 2);
      // Public: no credentials in the command.
      assert.match(pkg.install.install, /^curl -fLO http:\/\/127\.0\.0\.1:\d+\/generic\/alice\/tool\/1\.1\.0\/FILE$/);
      const versions = (await (await rest('/users/alice/packages/generic/tool/versions')).json()) as Record<string, any>[];
      assert.deepEqual(versions.map((v) => v.name), ['1.1.0', '1.0.0']);
      const one = (await (await rest(`/users/alice/packages/generic/tool/versions/${versions[1].id}`)).json()) as Record<string, any>;
      assert.deepEqual(one.files.map((f: { name: string }) => f.name), ['tool-1.0.0-linux-amd64.tar.gz', 'SHA256SUMS']);
      assert.equal(one.files[0].digest, `sha256:${sha256(tarball)}`);
    });

    test('DELETE the version (401/404 for others) → gone; an upload to it → 409; restore brings its files back', async () => {
      assert.equal((await get(BASE, undefined, {}, 'DELETE')).status, 401);
      assert.equal((await get(BASE, basic('bob', bob), {}, 'DELETE')).status, 403);
      assert.equal((await get(`${BASE}/SHA256SUMS`, basic('alice', alice), {}, 'DELETE')).status, 400);
      assert.equal((await get(BASE, basic('alice', alice), {}, 'DELETE')).status, 204);
      assert.equal((await get(`${BASE}/SHA256SUMS`)).status, 404);
      const late = await put(`${BASE}/late.bin`, 'x', basic('alice', alice));
      assert.equal(late.status, 409);
      assert.match(await late.text(), /deleted: restore it/);
      const pkg = (await s.core.packages.find('alice', 'generic', 'tool'))!;
      assert.ok(events.some((e) => e.type === 'version.deleted' && e.packageId === pkg.id));
      const deleted = (await (await rest('/users/alice/packages/generic/tool/versions?state=deleted')).json()) as { id: number; name: string }[];
      assert.deepEqual(deleted.map((v) => v.name), ['1.0.0']);
      assert.equal((await rest(`/users/alice/packages/generic/tool/versions/${deleted[0].id}/restore`, { method: 'POST' })).status, 204);
      const r = await get(`${BASE}/SHA256SUMS`);
      assert.equal(r.status, 200);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), sums);
    });

    test('a new package links to ?repository=NAME, or to a job token\'s repository; a job may not create it unlinked elsewhere', async () => {
      await s.core.identity.createRepo(systemActor, 'alice', 'cli', 'public');
      await s.core.identity.createRepo(systemActor, 'alice', 'ci', 'private');
      assert.equal((await put('/generic/alice/linked/1.0/a.bin?repository=cli', 'x', basic('alice', alice))).status, 201);
      const linked = (await s.core.packages.find('alice', 'generic', 'linked'))!;
      assert.equal((await s.core.identity.repoById(linked.repository_id!))?.name, 'cli');
      // Inheriting a public repository's visibility: anyone downloads it.
      assert.equal((await get('/generic/alice/linked/1.0/a.bin')).status, 200);
      assert.equal((await put('/generic/alice/other/1.0/a.bin?repository=nope', 'x', basic('alice', alice))).status, 404);
      const job = (await s.core.tokens.createJob(systemActor, 'alice/ci', { ttlMs: 600_000 })).token;
      assert.equal((await put('/generic/alice/built/1.0/a.bin', 'x', `Bearer ${job}`)).status, 201);
      const built = (await s.core.packages.find('alice', 'generic', 'built'))!;
      assert.equal((await s.core.identity.repoById(built.repository_id!))?.name, 'ci');
      assert.equal((await put('/generic/alice/stray/1.0/a.bin?repository=cli', 'x', `Bearer ${job}`)).status, 403);
      assert.equal((await put('/generic/bob/stray/1.0/a.bin', 'x', `Bearer ${job}`)).status, 403);
    });

    test('downloads are counted once per file fetched (a resumed Range is not a new download)', async () => {
      const p = '/generic/alice/tool/1.1.0/tool-1.1.0.zip';
      const pkg = (await s.core.packages.find('alice', 'generic', 'tool'))!;
      const v = (await s.core.packages.version(pkg.id, '1.1.0'))!;
      const counted = async () => {
        await s.core.flush();
        return (await s.core.packages.downloadsByVersion(pkg.id)).get(v.id) ?? 0;
      };
      const before = await counted();
      await (await get(p)).arrayBuffer();
      await (await get(p, undefined, { range: 'bytes=1-' })).arrayBuffer();
      await get(p, undefined, {}, 'HEAD');
      assert.equal((await counted()) - before, 1);
    });
  });
}
