// The NuGet v3 source over HTTP, on every database: the service index, push (multipart with X-NuGet-ApiKey,
// Basic), 409 on a re-push, flat container, registration, search and autocomplete, unlist/relist, access
// (public anonymous, private → 401 challenge), and hostile pushes refused with nothing stored.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildNupkg, nuspecOf, zipOf, type FixturePackage } from '../../src/formats/nuget/nupkg-fixture.ts';
import { dialects } from '../helpers/databases.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
function storedBlobs(dataDir: string): string[] {
  const root = path.join(dataDir, 'blobs', 'sha256');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).flatMap((d) => fs.readdirSync(path.join(root, d)));
}
/** The body NuGet.exe sends: one part named "package", a quoted boundary. */
function multipart(nupkg: Buffer): { body: Buffer; type: string } {
  const b = 'a1b2c3d4-0000-1111-2222-333344445555';
  const body = Buffer.concat([
    Buffer.from(`--${b}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; filename=package.nupkg; filename*=utf-8''package.nupkg\r\n\r\n`),
    nupkg,
    Buffer.from(`\r\n--${b}--\r\n`),
  ]);
  return { body, type: `multipart/form-data; boundary="${b}"` };
}

for (const dialect of dialects()) {
  describe(`NuGet v3 source over HTTP on ${dialect}`, () => {
    let s: TestServer;
    let alice: string;
    let bob: string;

    before(async () => {
      s = await startWharf({ dialect, env: { WHARF_MAX_BLOB_SIZE: String(1024 * 1024) } });
      alice = await s.userWithToken('alice');
      bob = await s.userWithToken('bob');
      await s.core.identity.createRepo(systemActor, 'alice', 'hello', 'public');
    });
    after(() => s.stop());

    const src = () => `${s.url}/nuget/alice`;
    const get = (p: string, headers: Record<string, string> = {}) => fetch(`${src()}${p}`, { headers });
    const push = (nupkg: Buffer, headers: Record<string, string> = { 'x-nuget-apikey': alice }, owner = 'alice') => {
      const { body, type } = multipart(nupkg);
      return fetch(`${s.url}/nuget/${owner}/api/v2/package/`, { method: 'PUT', headers: { 'content-type': type, ...headers }, body: new Uint8Array(body) });
    };
    const pushOk = async (p: FixturePackage) => {
      const r = await push(buildNupkg(p));
      assert.equal(r.status, 201, await r.clone().text());
    };

    test('GET index.json: publish, flat container, registration variants, search', async () => {
      const r = await get('/index.json');
      assert.equal(r.status, 200);
      const idx = (await r.json()) as { version: string; resources: { '@id': string; '@type': string }[] };
      assert.equal(idx.version, '3.0.0');
      const at = (t: string) => idx.resources.find((x) => x['@type'] === t)?.['@id'];
      assert.equal(at('PackagePublish/2.0.0'), `${src()}/api/v2/package`);
      assert.equal(at('PackageBaseAddress/3.0.0'), `${src()}/v3/flat/`);
      assert.equal(at('RegistrationsBaseUrl/3.4.0'), `${src()}/v3/registration/`);
      assert.equal(at('RegistrationsBaseUrl/3.6.0'), `${src()}/v3/registration-semver2/`);
      assert.ok(at('SearchQueryService/3.5.0') && at('SearchAutocompleteService'));
      assert.equal((await fetch(`${s.url}/nuget/nobody/index.json`)).status, 404);
    });

    test('PUT multipart with X-NuGet-ApiKey → 201; linked through <repository url>, so public; 409 on a re-push', async () => {
      await pushOk({ id: 'Contoso.Hello', version: '1.0', extra: '<repository type="git" url="https://github.com/alice/hello" /><readme>README.md</readme><license type="expression">MIT</license>', files: { 'README.md': '# Hello' } });
      await pushOk({ id: 'Contoso.Hello', version: '1.1.0-beta.1+build', extra: '<repository url="https://github.com/alice/hello" />', deps: [['Contoso.Dep', '1.0']] });
      await pushOk({ id: 'contoso.hello', version: '01.2.0.0', extra: '<repository url="https://github.com/alice/hello" />' });
      const again = await push(buildNupkg({ id: 'Contoso.Hello', version: '1.0.0' }));
      assert.equal(again.status, 409);
      const pkg = await s.core.packages.find('alice', 'nuget', 'CONTOSO.HELLO');
      assert.equal(pkg?.name, 'Contoso.Hello', 'the first casing is kept');
      assert.ok(pkg?.repository_id);
      const v = await s.core.packages.version(pkg!.id, '1.0.0');
      const meta = JSON.parse(v!.metadata);
      assert.equal(meta.readme, '# Hello');
      assert.equal(meta.licenseExpression, 'MIT');
      assert.deepEqual(meta.frameworks, ['net6.0']);
    });

    test('Basic user:token pushes too; a private package (no repository) for the rest', async () => {
      const r = await push(buildNupkg({ id: 'Secret', version: '1.0.0' }), { authorization: basic('alice', alice) });
      assert.equal(r.status, 201, await r.text());
    });

    test('flat container: lower-cased ids, normalized versions, .nupkg and .nuspec', async () => {
      const idx = await get('/v3/flat/CONTOSO.HELLO/index.json');
      assert.equal(idx.status, 200);
      assert.deepEqual(await idx.json(), { versions: ['1.0.0', '1.1.0-beta.1', '1.2.0'] });
      const n = await get('/v3/flat/contoso.hello/1.0.0/contoso.hello.1.0.0.nupkg');
      assert.equal(n.status, 200);
      const bytes = Buffer.from(await n.arrayBuffer());
      assert.equal(bytes.subarray(0, 2).toString(), 'PK');
      const spec = await get('/v3/flat/contoso.hello/1.0.0/contoso.hello.nuspec');
      assert.match(await spec.text(), /<id>Contoso.Hello<\/id>/);
      assert.equal((await get('/v3/flat/contoso.hello/9.9.9/contoso.hello.9.9.9.nupkg')).status, 404);
      assert.equal((await get('/v3/flat/contoso.hello/1.0.0/other.1.0.0.nupkg')).status, 404);
    });

    test('registration index: pages inlined, catalogEntry with dependencies, packageContent, packageHash-free leaf', async () => {
      const legacy = (await (await get('/v3/registration/contoso.hello/index.json')).json()) as { items: { items: { catalogEntry: { version: string } }[] }[] };
      assert.deepEqual(legacy.items[0].items.map((l) => l.catalogEntry.version), ['1.0.0', '1.2.0'], 'the legacy hive leaves 1.1.0-beta.1+build out');
      assert.equal((await get('/v3/registration/contoso.hello/1.1.0-beta.1.json')).status, 404);
      const r = await get('/v3/registration-semver2/contoso.hello/index.json');
      assert.equal(r.status, 200);
      const doc = (await r.json()) as { count: number; items: { items: { catalogEntry: { id: string; version: string; listed: boolean; dependencyGroups: { dependencies: { id: string; range: string }[] }[] }; packageContent: string }[] }[] };
      assert.equal(doc.count, 1);
      const leaves = doc.items[0].items;
      assert.deepEqual(leaves.map((l) => l.catalogEntry.version), ['1.0.0', '1.1.0-beta.1', '1.2.0']);
      assert.equal(leaves[0].catalogEntry.id, 'Contoso.Hello');
      assert.deepEqual(leaves[1].catalogEntry.dependencyGroups[0].dependencies.map((d) => [d.id, d.range]), [['Contoso.Dep', '[1.0.0, )']]);
      assert.equal(leaves[2].packageContent, `${src()}/v3/flat/contoso.hello/1.2.0/contoso.hello.1.2.0.nupkg`);
      assert.equal((await get('/v3/registration-semver2/contoso.hello/1.1.0-beta.1.json')).status, 200);
      const leaf = await get('/v3/registration/contoso.hello/1.2.0.json');
      assert.equal(leaf.status, 200);
    });

    test('search and autocomplete: prerelease and SemVer 2 only when asked; private hidden from strangers', async () => {
      const plain = (await (await get('/v3/search?q=hello')).json()) as { totalHits: number; data: { id: string; version: string; versions: unknown[] }[] };
      assert.equal(plain.totalHits, 1);
      assert.equal(plain.data[0].version, '1.2.0');
      assert.equal(plain.data[0].versions.length, 2);
      const all = (await (await get('/v3/search?q=&prerelease=true&semVerLevel=2.0.0', { authorization: basic('alice', alice) })).json()) as { data: { id: string; versions: unknown[] }[] };
      assert.deepEqual(all.data.map((d) => d.id), ['Contoso.Hello', 'Secret']);
      assert.equal(all.data[0].versions.length, 3);
      const bobs = (await (await get('/v3/search', { authorization: basic('bob', bob) })).json()) as { data: { id: string }[] };
      assert.deepEqual(bobs.data.map((d) => d.id), ['Contoso.Hello']);
      assert.deepEqual(await (await get('/v3/autocomplete?q=cont')).json(), { totalHits: 1, data: ['Contoso.Hello'] });
      assert.deepEqual(await (await get('/v3/autocomplete?id=contoso.hello&prerelease=true&semVerLevel=2.0.0')).json(), { totalHits: 3, data: ['1.0.0', '1.1.0-beta.1', '1.2.0'] });
    });

    test('private package: anonymous → 401 with a Basic challenge, a stranger → 404, the owner with Basic → 200', async () => {
      const anon = await get('/v3/registration/secret/index.json');
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="Wharf"');
      assert.equal((await get('/v3/flat/secret/1.0.0/secret.1.0.0.nupkg')).status, 401);
      assert.equal((await get('/v3/flat/secret/index.json', { authorization: basic('bob', bob) })).status, 404);
      assert.equal((await get('/v3/flat/secret/1.0.0/secret.1.0.0.nupkg', { authorization: basic('alice', alice) })).status, 200);
    });

    test('DELETE unlists (hidden from search, still restorable by version), POST relists; strangers may not', async () => {
      const del = (h: Record<string, string>) => fetch(`${src()}/api/v2/package/Contoso.Hello/1.2.0`, { method: 'DELETE', headers: h });
      assert.equal((await del({})).status, 401);
      assert.equal((await del({ 'x-nuget-apikey': bob })).status, 403);
      assert.equal((await del({ 'x-nuget-apikey': alice })).status, 204);
      const found = (await (await get('/v3/search?q=hello')).json()) as { data: { version: string }[] };
      assert.equal(found.data[0].version, '1.0.0');
      const reg = (await (await get('/v3/registration/contoso.hello/index.json')).json()) as { items: { items: { catalogEntry: { listed: boolean } }[] }[] };
      assert.equal(reg.items[0].items.at(-1)!.catalogEntry.listed, false);
      assert.equal((await get('/v3/flat/contoso.hello/1.2.0/contoso.hello.1.2.0.nupkg')).status, 200);
      assert.equal((await fetch(`${src()}/api/v2/package/contoso.hello/1.2.0`, { method: 'POST', headers: { 'x-nuget-apikey': alice } })).status, 200);
      const back = (await (await get('/v3/search?q=hello')).json()) as { data: { version: string }[] };
      assert.equal(back.data[0].version, '1.2.0');
    });

    test('pushes refused with nothing stored: anonymous, bad key, stranger, bad zips, bad nuspec', async () => {
      const before = storedBlobs(s.dataDir).length;
      const spec = nuspecOf({ id: 'Evil', version: '1.0.0' });
      assert.equal((await push(buildNupkg({ id: 'X', version: '1.0.0' }), {})).status, 401);
      assert.equal((await push(buildNupkg({ id: 'X', version: '1.0.0' }), { 'x-nuget-apikey': 'wharf_nope' })).status, 401);
      assert.equal((await push(buildNupkg({ id: 'X', version: '1.0.0' }), { 'x-nuget-apikey': bob })).status, 403);
      for (const bad of [
        zipOf([['Evil.nuspec', spec], ['../../etc/passwd', 'x']]),
        zipOf([['Evil.nuspec', spec], ['Other.nuspec', spec]]),
        zipOf([['Evil.nuspec', spec.replace('<?xml version="1.0" encoding="utf-8"?>', '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa">]>')]]),
        zipOf([['Evil.nuspec', nuspecOf({ id: 'Evil', version: 'x.y' })]]),
        Buffer.from('not a zip'),
      ]) {
        const r = await push(bad);
        assert.equal(r.status, 400, await r.text());
      }
      assert.equal((await push(Buffer.alloc(2 * 1024 * 1024))).status, 413);
      assert.equal(storedBlobs(s.dataDir).length, before, 'nothing stored');
      assert.equal(fs.readdirSync(path.join(s.dataDir, 'tmp', 'nuget')).length, 0, 'no spooled upload left');
      assert.equal(await s.core.packages.find('alice', 'nuget', 'Evil'), undefined);
      assert.ok(createHash);
    });
  });
}
