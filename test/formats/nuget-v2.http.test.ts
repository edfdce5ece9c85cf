// The NuGet v2 OData feed over HTTP, on every database: the service document, $metadata, Packages(Id=,Version=)
// in each version form nuget.exe 2.8.7 tries, FindPackagesById with the query 2.8.7 sends, Search(), GetUpdates(),
// $filter/$orderby/$top/$skip/$inlinecount/$count, server paging with a next link, download, push through
// PUT api/v2/ (2.x's multipart) and api/v2/package, 409 on a re-push, DELETE = unlist, private packages (anonymous
// → 401 challenge, a stranger → 404), the sign-in URL auth/api/v2, and bad query options → 400 in OData's XML.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { buildNupkg, type FixturePackage } from '../../src/formats/nuget/nupkg-fixture.ts';
import { dialects } from '../helpers/databases.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true, parseTagValue: false, isArray: (n) => n === 'entry' || n === 'FunctionImport' || n === 'link' });

/** The body nuget.exe 2.8.7 sends: an unquoted boundary and a bare LF before the closing delimiter. */
function multipart2x(nupkg: Buffer): { body: Buffer; type: string } {
  const b = '---------------------------8df5063f78823de';
  const body = Buffer.concat([
    Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="package"; filename="package"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    nupkg,
    Buffer.from(`\n--${b}--`),
  ]);
  return { body, type: `multipart/form-data; boundary=${b}` };
}

type Props = Record<string, string | { '#text'?: string; '@null'?: string; '@type'?: string }>;
interface Entry {
  title: { '#text': string };
  content: { '@src': string; '@type': string };
  properties: Props;
}
const prop = (e: Entry, name: string) => {
  const v = e.properties[name];
  return typeof v === 'string' ? v : v?.['@null'] === 'true' ? null : (v?.['#text'] ?? '');
};

for (const dialect of dialects()) {
  describe(`NuGet v2 OData feed over HTTP on ${dialect}`, () => {
    let s: TestServer;
    let alice: string;
    let bob: string;
    const bytes = new Map<string, Buffer>();

    before(async () => {
      s = await startWharf({ dialect });
      alice = await s.userWithToken('alice');
      bob = await s.userWithToken('bob');
      await s.core.identity.createRepo(systemActor, 'alice', 'hello', 'public');
    });
    after(() => s.stop());

    const feed = () => `${s.url}/nuget/alice/api/v2`;
    const get = (p: string, headers: Record<string, string> = {}) => fetch(`${feed()}${p}`, { headers });
    const getXml = async (p: string, headers: Record<string, string> = {}, status = 200) => {
      const r = await get(p, headers);
      const text = await r.text();
      assert.equal(r.status, status, `${p}: ${text}`);
      return xml.parse(text) as Record<string, any>;
    };
    const entries = async (p: string, headers: Record<string, string> = {}) => ((await getXml(p, headers)).feed.entry ?? []) as Entry[];
    const idsAndVersions = (es: Entry[]) => es.map((e) => `${prop(e, 'Id')} ${prop(e, 'Version')}`);
    const push = (p: FixturePackage, path = '/', headers: Record<string, string> = { 'x-nuget-apikey': alice }) => {
      const nupkg = buildNupkg(p);
      bytes.set(`${p.id}@${p.version}`, nupkg);
      const { body, type } = multipart2x(nupkg);
      return fetch(`${feed()}${path}`, { method: 'PUT', headers: { 'content-type': type, ...headers }, body: new Uint8Array(body) });
    };
    const linked = '<repository type="git" url="https://github.com/alice/hello" />';

    test('the service document at api/v2 and api/v2/: one collection, Packages', async () => {
      for (const p of ['', '/']) {
        const r = await get(p);
        assert.equal(r.status, 200);
        assert.match(r.headers.get('content-type')!, /^application\/atomsvc\+xml/);
        const doc = xml.parse(await r.text());
        assert.equal(doc.service['@base'], `${feed()}/`);
        assert.equal(doc.service.workspace.collection['@href'], 'Packages');
      }
      assert.equal((await fetch(`${s.url}/nuget/nobody/api/v2/`)).status, 404);
    });

    test('$metadata: the Packages entity set first, Search / FindPackagesById / GetUpdates, V2FeedPackage properties', async () => {
      const doc = await getXml('/$metadata');
      const schemas = doc.Edmx.DataServices.Schema;
      const container = schemas.find((x: any) => x.EntityContainer).EntityContainer;
      assert.equal(container.EntitySet['@Name'], 'Packages');
      assert.deepEqual(container.FunctionImport.map((f: any) => f['@Name']), ['Search', 'FindPackagesById', 'GetUpdates']);
      const type = schemas.find((x: any) => x.EntityType).EntityType;
      const names = type.Property.map((p: any) => p['@Name']);
      for (const n of ['Id', 'Version', 'NormalizedVersion', 'Dependencies', 'IsLatestVersion', 'IsAbsoluteLatestVersion', 'Listed', 'PackageHash', 'PackageHashAlgorithm', 'PackageSize']) assert.ok(names.includes(n), n);
    });

    test('push: PUT api/v2/ (nuget.exe 2.x) and PUT api/v2/package/ → 201; the same version again → 409', async () => {
      for (const [p, path] of [
        [{ id: 'Contoso.Hello', version: '1.0', extra: linked }, '/'],
        [{ id: 'contoso.hello', version: '1.5.0-beta', extra: linked }, '/package/'],
        [{ id: 'Contoso.Hello', version: '2.0.0', extra: `${linked}<title>Hello &lt;b&gt; &amp; "friends"</title><tags>greeting demo</tags>`, deps: [['Contoso.Dep', '1.0'], ['Contoso.Other', '[1.0, 2.0)']] }, '/'],
        [{ id: 'Contoso.Hello', version: '3.0.0-rc.1+build.5', extra: linked }, '/'],
        [{ id: 'Contoso.Dep', version: '1.0.0', extra: linked, description: 'A dependency' }, '/'],
        [{ id: 'Secret', version: '1.0.0' }, '/'],
      ] as [FixturePackage, string][]) {
        const r = await push(p, path);
        assert.equal(r.status, 201, `${p.id} ${p.version}: ${await r.text()}`);
      }
      const again = await push({ id: 'CONTOSO.HELLO', version: '1.0.0.0', extra: linked });
      assert.equal(again.status, 409);
      assert.equal((await push({ id: 'X', version: '1.0.0' }, '/', {})).status, 401);
      assert.equal((await push({ id: 'X', version: '1.0.0' }, '/', { 'x-nuget-apikey': bob })).status, 403);
    });

    test('Packages(Id=,Version=): 1.0, 1.0.0 and 1.0.0.0 name the same entry; ids match whatever their case', async () => {
      for (const v of ['1.0', '1.0.0', '1.0.0.0']) {
        const r = await get(`/Packages(Id='contoso.HELLO',Version='${v}')`);
        assert.equal(r.status, 200);
        assert.match(r.headers.get('content-type')!, /^application\/atom\+xml;type=entry/);
        const e = xml.parse(await r.text()).entry[0] as Entry;
        assert.equal(e.title['#text'], 'Contoso.Hello');
        assert.equal(prop(e, 'Id'), 'Contoso.Hello');
        assert.equal(prop(e, 'Version'), '1.0.0');
        assert.equal(e.content['@src'], `${feed()}/package/Contoso.Hello/1.0.0`);
      }
      const e = (await getXml(`/Packages(Id='Contoso.Hello',Version='2.0.0')`)).entry[0] as Entry;
      const nupkg = bytes.get('Contoso.Hello@2.0.0')!;
      assert.equal(prop(e, 'PackageHash'), createHash('sha512').update(nupkg).digest('base64'));
      assert.equal(prop(e, 'PackageHashAlgorithm'), 'SHA512');
      assert.equal(prop(e, 'PackageSize'), String(nupkg.length));
      assert.equal(prop(e, 'Dependencies'), 'Contoso.Dep:[1.0.0, ):net6.0|Contoso.Other:[1.0, 2.0):net6.0');
      assert.equal(prop(e, 'Title'), 'Hello <b> & "friends"');
      assert.equal(prop(e, 'Tags'), 'greeting demo');
      assert.equal(prop(e, 'IsLatestVersion'), 'true');
      assert.equal(prop(e, 'IsAbsoluteLatestVersion'), 'false', 'the SemVer 2 prerelease 3.0.0-rc.1 is newer');
      assert.equal(prop(e, 'IsPrerelease'), 'false');
      assert.equal(prop(e, 'Listed'), 'true');
      assert.equal(prop(e, 'Copyright'), null);
      const missing = await get(`/Packages(Id='Contoso.Hello',Version='9.9.9')`);
      assert.equal(missing.status, 404);
      assert.match(await missing.text(), /<m:error [^>]*><m:code>NotFound<\/m:code><m:message xml:lang="en-US">Contoso.Hello 9.9.9 not found/);
    });

    test("FindPackagesById as nuget.exe 2.8.7 asks: $filter=IsLatestVersion&$orderby=Version desc&$top=1&id='X'", async () => {
      const latest = await entries(`/FindPackagesById()?$filter=IsLatestVersion&$orderby=Version%20desc&$top=1&id='CONTOSO.HELLO'`);
      assert.deepEqual(idsAndVersions(latest), ['Contoso.Hello 2.0.0']);
      assert.deepEqual(idsAndVersions(await entries(`/FindPackagesById()?id='contoso.hello'`)), ['Contoso.Hello 1.0.0', 'Contoso.Hello 1.5.0-beta', 'Contoso.Hello 2.0.0']);
      const all = await entries(`/FindPackagesById()?id='contoso.hello'&semVerLevel=2.0.0&$filter=IsAbsoluteLatestVersion`);
      assert.deepEqual(idsAndVersions(all), ['Contoso.Hello 3.0.0-rc.1']);
      assert.deepEqual(await entries(`/FindPackagesById()?id='Nope'`, { authorization: basic('alice', alice) }), []);
      assert.equal((await get('/FindPackagesById()')).status, 400);
    });

    test('Search(): terms, includePrerelease, the IsLatestVersion filter and $orderby=Id that nuget list sends', async () => {
      const list = await entries(`/Search()?$filter=IsLatestVersion&$orderby=Id&$skip=0&$top=30&searchTerm=''&targetFramework=''&includePrerelease=false`);
      assert.deepEqual(idsAndVersions(list), ['Contoso.Dep 1.0.0', 'Contoso.Hello 2.0.0']);
      const pre = await entries(`/Search()?$filter=IsAbsoluteLatestVersion&searchTerm='greeting'&targetFramework='net45'&includePrerelease=true`);
      assert.deepEqual(idsAndVersions(pre), ['Contoso.Hello 2.0.0'], 'the SemVer 2 3.0.0-rc.1 is left out, latest included');
      const hello = await entries(`/Search()?searchTerm='hello'&includePrerelease=true`);
      assert.deepEqual(idsAndVersions(hello), ['Contoso.Hello 1.0.0', 'Contoso.Hello 1.5.0-beta', 'Contoso.Hello 2.0.0']);
      assert.deepEqual(idsAndVersions(await entries(`/Search()?searchTerm='dependency'`)), ['Contoso.Dep 1.0.0']);
      assert.equal((await get(`/Search()?includePrerelease=maybe`)).status, 400);
    });

    test('Packages(): $filter on ids, $orderby, $top/$skip, $inlinecount, /$count', async () => {
      assert.deepEqual(idsAndVersions(await entries(`/Packages()?$filter=tolower(Id) eq 'contoso.hello'&$orderby=Version desc`)), ['Contoso.Hello 2.0.0', 'Contoso.Hello 1.5.0-beta', 'Contoso.Hello 1.0.0']);
      assert.deepEqual(idsAndVersions(await entries(`/Packages?$filter=Id eq 'Contoso.Dep'`)), ['Contoso.Dep 1.0.0']);
      assert.deepEqual(idsAndVersions(await entries(`/Packages()?$filter=(Id eq 'Contoso.Dep' or IsPrerelease) and not IsLatestVersion`)), ['Contoso.Hello 1.5.0-beta']);
      assert.deepEqual(idsAndVersions(await entries(`/Packages()?$orderby=Id desc,Version&$skip=1&$top=2`)), ['Contoso.Hello 1.5.0-beta', 'Contoso.Hello 2.0.0']);
      const counted = await getXml(`/Packages()?$inlinecount=allpages&$top=1`);
      assert.equal(counted.feed.count, '4');
      assert.equal(counted.feed.entry.length, 1);
      const c = await get(`/Packages()/$count?$filter=startswith(Id,'Contoso.H')`);
      assert.equal(await c.text(), '3');
      assert.deepEqual(idsAndVersions(await entries(`/GetUpdates()?packageIds='Contoso.Hello|contoso.dep'&versions='1.0|1.0.0'&includePrerelease=false&includeAllVersions=false&targetFrameworks=''&versionConstraints=''`)), ['Contoso.Hello 2.0.0']);
      assert.deepEqual(idsAndVersions(await entries(`/GetUpdates()?packageIds='Contoso.Hello'&versions='1.0'&includePrerelease=true&includeAllVersions=true&versionConstraints='(1.0,2.0)'`)), ['Contoso.Hello 1.5.0-beta']);
    });

    test('bad query options → 400 with an OData error document, never evaluated', async () => {
      for (const q of [
        `$filter=Id eq`,
        `$filter=Secret eq 'x'`,
        `$filter=System.IO.File eq 'x'`,
        `$filter=Id eq 1`,
        `$filter=Id`,
        `$filter=tolower(Id, Id) eq 'x'`,
        `$filter=Id eq 'unterminated`,
        `$filter=Id eq 'x'; drop table packages`,
        `$filter=${'('.repeat(40)}IsLatestVersion${')'.repeat(40)}`,
        `$orderby=Evil`,
        `$top=-1`,
        `$skip=x`,
        `$inlinecount=some`,
      ]) {
        const r = await get(`/Packages()?${q.replace(/ /g, '%20').replace(/;/g, '%3B')}`);
        assert.equal(r.status, 400, q);
        assert.match(r.headers.get('content-type')!, /^application\/xml/);
        assert.match(await r.text(), /^<\?xml[^>]*>\n<m:error xmlns:m="http:\/\/schemas.microsoft.com\/ado\/2007\/08\/dataservices\/metadata"><m:code>Invalid<\/m:code><m:message xml:lang="en-US">[^<]+<\/m:message><\/m:error>$/, q);
      }
      assert.equal((await get('/Nope()')).status, 404);
    });

    test('download: package/ID/VERSION (any case, any version form), package/ID = the latest, Packages(...)/$value', async () => {
      for (const p of ['/package/Contoso.Hello/1.0.0', '/package/contoso.hello/1.0.0.0', `/Packages(Id='Contoso.Hello',Version='1.0')/$value`]) {
        const r = await get(p);
        assert.equal(r.status, 200, p);
        assert.equal(r.headers.get('content-type'), 'application/zip');
        assert.deepEqual(Buffer.from(await r.arrayBuffer()), bytes.get('Contoso.Hello@1.0'), p);
      }
      const latest = await get('/package/contoso.hello');
      assert.deepEqual(Buffer.from(await latest.arrayBuffer()), bytes.get('Contoso.Hello@2.0.0'));
      assert.equal((await get('/package/Contoso.Hello/7.0.0')).status, 404);
    });

    test('server paging: past 100 entries, a next link carrying $skip (and what is left of $top)', async () => {
      for (let i = 0; i < 101; i++) assert.equal((await push({ id: 'Many', version: `1.0.${i}`, extra: linked })).status, 201);
      const first = await getXml(`/FindPackagesById()?id='Many'`);
      assert.equal(first.feed.entry.length, 100);
      const next = first.feed.link.find((l: any) => l['@rel'] === 'next')['@href'];
      assert.equal(next, `${feed()}/FindPackagesById()?id='Many'&$skip=100`);
      const rest = (await (await fetch(next)).text()) as string;
      assert.deepEqual(idsAndVersions(xml.parse(rest).feed.entry), ['Many 1.0.100']);
      const topped = await getXml(`/FindPackagesById()?id='Many'&$top=150&$skip=0`);
      assert.equal(topped.feed.link.find((l: any) => l['@rel'] === 'next')['@href'], `${feed()}/FindPackagesById()?id='Many'&$top=50&$skip=100`);
      const small = await getXml(`/FindPackagesById()?id='Many'&$top=10`);
      assert.equal(small.feed.entry.length, 10);
      assert.equal(small.feed.link.find((l: any) => l['@rel'] === 'next'), undefined);
    });

    test('DELETE api/v2/ID/VERSION unlists: not the latest any more, out of Search, still there by version', async () => {
      const del = (h: Record<string, string>) => fetch(`${feed()}/Contoso.Hello/2.0.0`, { method: 'DELETE', headers: h });
      assert.equal((await del({})).status, 401);
      assert.equal((await del({ 'x-nuget-apikey': bob })).status, 403);
      assert.equal((await del({ 'x-nuget-apikey': alice })).status, 204);
      assert.deepEqual(idsAndVersions(await entries(`/FindPackagesById()?$filter=IsLatestVersion&$orderby=Version%20desc&$top=1&id='Contoso.Hello'`)), ['Contoso.Hello 1.0.0']);
      assert.deepEqual(idsAndVersions(await entries(`/Search()?searchTerm='hello'`)), ['Contoso.Hello 1.0.0']);
      const e = (await getXml(`/Packages(Id='Contoso.Hello',Version='2.0.0')`)).entry[0] as Entry;
      assert.equal(prop(e, 'Listed'), 'false');
      assert.equal(prop(e, 'Published'), '1900-01-01T00:00:00Z');
      assert.equal((await get('/package/Contoso.Hello/2.0.0')).status, 200);
    });

    test('a private package: anonymous → 401 + Basic challenge, a stranger → 404 (or nothing listed), the owner → 200', async () => {
      const anon = await get(`/Packages(Id='Secret',Version='1.0.0')`);
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="Wharf"');
      assert.equal((await get(`/FindPackagesById()?id='Secret'`)).status, 401);
      assert.equal((await get('/package/Secret/1.0.0')).status, 401);
      const b = { authorization: basic('bob', bob) };
      assert.equal((await get(`/Packages(Id='Secret',Version='1.0.0')`, b)).status, 404);
      assert.equal((await get('/package/Secret/1.0.0', b)).status, 404);
      assert.deepEqual(await entries(`/FindPackagesById()?id='Secret'`, b), []);
      assert.ok(!idsAndVersions(await entries('/Packages()', b)).includes('Secret 1.0.0'));
      assert.ok(!idsAndVersions(await entries(`/Search()`)).includes('Secret 1.0.0'));
      const a = { authorization: basic('alice', alice) };
      assert.equal((await get(`/Packages(Id='Secret',Version='1.0.0')`, a)).status, 200);
      assert.deepEqual(idsAndVersions(await entries(`/Search()?searchTerm='secret'`, a)), ['Secret 1.0.0']);
    });

    test('auth/api/v2: the same feed, but every anonymous request is challenged (so nuget.exe 2.x sends credentials)', async () => {
      const signIn = `${s.url}/nuget/alice/auth/api/v2`;
      for (const p of ['', `/Packages(Id='Contoso.Dep',Version='1.0.0')`, '/package/Contoso.Dep/1.0.0']) {
        const r = await fetch(`${signIn}${p}`);
        assert.equal(r.status, 401, p);
        assert.equal(r.headers.get('www-authenticate'), 'Basic realm="Wharf"');
      }
      const a = { authorization: basic('alice', alice) };
      const svc = xml.parse(await (await fetch(`${signIn}/`, { headers: a })).text());
      assert.equal(svc.service['@base'], `${signIn}/`);
      const e = xml.parse(await (await fetch(`${signIn}/Packages(Id='Secret',Version='1.0.0')`, { headers: a })).text()).entry[0] as Entry;
      assert.equal(e.content['@src'], `${signIn}/package/Secret/1.0.0`);
      const { body, type } = multipart2x(buildNupkg({ id: 'Secret', version: '2.0.0' }));
      const r = await fetch(`${signIn}/package/`, { method: 'PUT', headers: { 'content-type': type, 'x-nuget-apikey': alice }, body: new Uint8Array(body) });
      assert.equal(r.status, 201, await r.text());
    });
  });
}
