// Replays, in order, the requests the dotnet SDK (NuGet 6.x inside it) sends, since the SDK cannot be installed
// here, on every database, and checks each response against the shape the client parses (NuGet's documented
// server API, as zod schemas):
//   dotnet nuget push X.nupkg --source A --api-key TOKEN   service index → PUT PackagePublish (multipart,
//                                                          X-NuGet-ApiKey) → PUT SymbolPackagePublish (X.snupkg)
//   dotnet restore over two sources                        both service indexes → per id, every source's flat
//                                                          container index.json (a private source: 401, then Basic;
//                                                          a source without the id: 404) → the .nupkg
//   dotnet package search                                  SearchQueryService/3.5.0 ?q&skip&take&prerelease&semVerLevel=2.0.0
// and every RegistrationsBaseUrl variant advertised (nuget.exe 5.8 needs a legacy one; the legacy hive leaves
// SemVer 2.0.0 versions out, 3.6.0/Versioned keep them), paged past 128 versions.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { buildNupkg } from '../../src/formats/nuget/nupkg-fixture.ts';
import { buildAssemblyFor, buildPortablePdb, buildSnupkg, pdbIdOf } from '../../src/formats/nuget/pdb-fixture.ts';
import { dialects } from '../helpers/databases.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

// ---- the documents as the client reads them (learn.microsoft.com/nuget/api/*) ------------------------------

const ServiceIndex = z.object({
  version: z.string().regex(/^3\./),
  resources: z.array(z.object({ '@id': z.url(), '@type': z.string(), comment: z.string().optional(), clientVersion: z.string().optional() })).min(1),
});
const FlatIndex = z.object({ versions: z.array(z.string().regex(/^[^A-Z]+$/)) });
const StringOrArray = z.union([z.string(), z.array(z.string())]);
const CatalogEntry = z.object({
  '@id': z.url(),
  id: z.string(),
  version: z.string(),
  authors: StringOrArray.optional(),
  dependencyGroups: z
    .array(z.object({ targetFramework: z.string().optional(), dependencies: z.array(z.object({ id: z.string(), range: z.string().optional(), registration: z.url().optional() })).optional() }))
    .optional(),
  description: z.string().optional(),
  iconUrl: z.string().optional(),
  licenseUrl: z.string().optional(),
  licenseExpression: z.string().optional(),
  listed: z.boolean().optional(),
  minClientVersion: z.string().optional(),
  projectUrl: z.string().optional(),
  published: z.iso.datetime({ offset: true }).optional(),
  requireLicenseAcceptance: z.boolean().optional(),
  summary: z.string().optional(),
  tags: StringOrArray.optional(),
  title: z.string().optional(),
});
const RegistrationItem = z.object({ '@id': z.url(), catalogEntry: CatalogEntry, packageContent: z.url() });
const RegistrationPage = z.object({ '@id': z.url(), count: z.number().int(), items: z.array(RegistrationItem), lower: z.string(), upper: z.string(), parent: z.url() });
const LinkedPage = z.strictObject({ '@id': z.url(), '@type': z.string().optional(), count: z.number().int(), lower: z.string(), upper: z.string() });
const RegistrationIndex = z.object({ count: z.number().int(), items: z.array(z.union([RegistrationPage, LinkedPage])) });
const RegistrationLeaf = z.object({ '@id': z.url(), catalogEntry: z.url().optional(), listed: z.boolean().optional(), packageContent: z.url().optional(), published: z.string().optional(), registration: z.url().optional() });
const SearchResponse = z.object({
  totalHits: z.number().int(),
  data: z.array(
    z.object({
      id: z.string(),
      version: z.string(),
      description: z.string().optional(),
      versions: z.array(z.object({ '@id': z.url(), version: z.string(), downloads: z.number().int() })),
      authors: StringOrArray.optional(),
      iconUrl: z.string().optional(),
      licenseUrl: z.string().optional(),
      owners: StringOrArray.optional(),
      projectUrl: z.string().optional(),
      registration: z.url().optional(),
      summary: z.string().optional(),
      tags: StringOrArray.optional(),
      title: z.string().optional(),
      totalDownloads: z.number().int().optional(),
      verified: z.boolean().optional(),
      packageTypes: z.array(z.object({ name: z.string() })),
    }),
  ),
});

// ---- the client -----------------------------------------------------------------------------------------------

const SESSION = randomUUID();
const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;

/** One HTTP exchange as NuGet sends it: its user agent, session id and accepted encodings on every request. */
async function send(url: string, o: { method?: string; headers?: Record<string, string>; body?: Buffer; agent?: string } = {}) {
  return fetch(url, {
    method: o.method ?? 'GET',
    headers: { 'user-agent': o.agent ?? 'NuGet .NET Core MSBuild Task/6.8.0 (Linux 6.1.0 #1 SMP)', 'x-nuget-session-id': SESSION, 'accept-encoding': 'gzip, deflate', ...o.headers },
    body: o.body ? new Uint8Array(o.body) : undefined,
  });
}

/** GET with NuGet's credential flow: anonymous first; on 401 with a Basic challenge, again with the source's credentials. */
async function getAs(url: string, creds?: { user: string; token: string }): Promise<{ res: Response; challenged: boolean }> {
  const res = await send(url);
  if (res.status !== 401 || !creds) return { res, challenged: false };
  assert.match(res.headers.get('www-authenticate') ?? '', /^Basic /);
  return { res: await send(url, { headers: { authorization: basic(creds.user, creds.token) } }), challenged: true };
}

async function json<T extends z.ZodType>(res: Response, schema: T, what: string): Promise<z.infer<T>> {
  assert.equal(res.status, 200, `${what}: ${res.status}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, what);
  const r = schema.safeParse(await res.json());
  assert.ok(r.success, `${what} does not parse as the client reads it: ${r.error?.message}`);
  return r.data!;
}

/** The multipart body .NET's MultipartFormDataContent writes for a push: one part, a quoted boundary. */
function multipart(file: Buffer): { body: Buffer; type: string } {
  const b = randomUUID();
  return {
    body: Buffer.concat([
      Buffer.from(`--${b}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; filename=package.nupkg; filename*=utf-8''package.nupkg\r\n\r\n`),
      file,
      Buffer.from(`\r\n--${b}--\r\n`),
    ]),
    type: `multipart/form-data; boundary="${b}"`,
  };
}

const resource = (idx: z.infer<typeof ServiceIndex>, type: string) => {
  const r = idx.resources.find((x) => x['@type'] === type);
  assert.ok(r, `the service index advertises ${type}`);
  return r['@id'];
};

/** `dotnet nuget push FILE --source SRC --api-key KEY` (and FILE's .snupkg beside it, when given). */
async function dotnetPush(source: string, key: string, nupkg: Buffer, snupkg?: Buffer): Promise<void> {
  const agent = 'NuGet xplat/6.8.0 (Linux 6.1.0 #1 SMP)';
  const idx = await json(await send(source, { agent }), ServiceIndex, 'service index');
  const put = async (endpoint: string, file: Buffer) => {
    const { body, type } = multipart(file);
    return send(endpoint.replace(/\/?$/, '/'), { method: 'PUT', agent, body, headers: { 'content-type': type, 'x-nuget-apikey': key, 'x-nuget-protocol-version': '4.1.0' } });
  };
  const r = await put(resource(idx, 'PackagePublish/2.0.0'), nupkg);
  assert.equal(r.status, 201, await r.text());
  if (snupkg) {
    const s = await put(resource(idx, 'SymbolPackagePublish/4.9.0'), snupkg);
    assert.equal(s.status, 201, await s.text());
  }
}

const PDB = buildPortablePdb(pdbIdOf('0123456789abcdef0123456789abcdef'));
const REGISTRATION_TYPES = ['RegistrationsBaseUrl', 'RegistrationsBaseUrl/3.0.0-beta', 'RegistrationsBaseUrl/3.0.0-rc', 'RegistrationsBaseUrl/3.4.0', 'RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/Versioned'];
const SEMVER2_TYPES = new Set(['RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/Versioned']);

for (const dialect of dialects()) {
  describe(`the dotnet SDK's NuGet requests, replayed, on ${dialect}`, () => {
    let s: TestServer;
    let alice: string;
    let carol: string;
    const A = () => `${s.url}/nuget/alice/index.json`; // public packages, no credentials configured
    const B = () => `${s.url}/nuget/carol/index.json`; // private packages, packageSourceCredentials for carol

    before(async () => {
      s = await startWharf({ dialect });
      alice = await s.userWithToken('alice');
      carol = await s.userWithToken('carol');
      await s.core.identity.createRepo(systemActor, 'alice', 'app', 'public');
    });
    after(() => s.stop());

    test('dotnet nuget push: the service index, then the .nupkg to PackagePublish and the .snupkg to SymbolPackagePublish', async () => {
      const repo = '<repository type="git" url="https://github.com/alice/app" />';
      await dotnetPush(A(), alice, buildNupkg({ id: 'Contoso.App', version: '1.0.0', extra: repo, deps: [['Carol.Lib', '1.0.0']], dll: buildAssemblyFor(PDB) }), buildSnupkg('Contoso.App', '1.0.0', { 'lib/net6.0/Contoso.App.pdb': PDB }));
      await dotnetPush(A(), alice, buildNupkg({ id: 'Contoso.App', version: '2.0.0-beta.1', extra: repo }));
      await dotnetPush(A(), alice, buildNupkg({ id: 'Contoso.Tools', version: '1.0.0', extra: repo }));
      await dotnetPush(B(), carol, buildNupkg({ id: 'Carol.Lib', version: '1.0.0' }));
      await dotnetPush(B(), carol, buildNupkg({ id: 'Carol.Lib', version: '1.1.0' }));
      const pdb = await send(`${s.url}/nuget/alice/symbols/contoso.app.pdb/67452301ab89efcd0123456789abcdefFFFFFFFF/contoso.app.pdb`);
      assert.equal(pdb.status, 200);
    });

    test('dotnet restore over two sources: flat container versions, 401 then Basic on the private source, 404 where an id is missing', async () => {
      const sources = [
        { url: A(), creds: undefined },
        { url: B(), creds: { user: 'carol', token: carol } },
      ];
      const flat: string[] = [];
      for (const src of sources) flat.push(resource(await json((await getAs(src.url, src.creds)).res, ServiceIndex, `service index ${src.url}`), 'PackageBaseAddress/3.0.0'));
      for (const f of flat) assert.match(f, /\/$/);

      // Contoso.App: on A; B challenges the anonymous request, then, with credentials, has no such package.
      const appA = await getAs(`${flat[0]}contoso.app/index.json`);
      assert.deepEqual((await json(appA.res, FlatIndex, 'A contoso.app')).versions, ['1.0.0', '2.0.0-beta.1']);
      const appB = await getAs(`${flat[1]}contoso.app/index.json`, sources[1].creds);
      assert.equal(appB.challenged, true);
      assert.equal(appB.res.status, 404);
      const nupkg = await send(`${flat[0]}contoso.app/1.0.0/contoso.app.1.0.0.nupkg`);
      assert.equal(nupkg.status, 200);
      assert.equal(Buffer.from(await nupkg.arrayBuffer()).subarray(0, 4).toString('latin1'), 'PK\x03\x04');

      // Carol.Lib (App's dependency): A, a source of public packages only, answers a plain 404 to the anonymous
      // client (a 401 there would fail the whole restore); B has it, after the challenge.
      const libA = await getAs(`${flat[0]}carol.lib/index.json`);
      assert.equal(libA.res.status, 404);
      const libB = await getAs(`${flat[1]}carol.lib/index.json`, sources[1].creds);
      assert.equal(libB.challenged, true);
      assert.deepEqual((await json(libB.res, FlatIndex, 'B carol.lib')).versions, ['1.0.0', '1.1.0']);
      const lib = await getAs(`${flat[1]}carol.lib/1.0.0/carol.lib.1.0.0.nupkg`, sources[1].creds);
      assert.equal(lib.challenged, true);
      assert.equal(lib.res.status, 200);
      assert.equal(lib.res.headers.get('content-type'), 'application/octet-stream');
      assert.equal(Number(lib.res.headers.get('content-length')), (await lib.res.arrayBuffer()).byteLength);
    });

    test('dotnet package search: SearchQueryService/3.5.0 with q, skip, take, prerelease and semVerLevel=2.0.0', async () => {
      const search = resource(await json(await send(A()), ServiceIndex, 'service index'), 'SearchQueryService/3.5.0');
      const q = async (params: string) => json(await send(`${search}?${params}`), SearchResponse, `search ${params}`);
      const stable = await q('q=contoso&skip=0&take=20&prerelease=false&semVerLevel=2.0.0');
      assert.equal(stable.totalHits, 2);
      assert.deepEqual(stable.data.map((d) => `${d.id} ${d.version}`), ['Contoso.App 1.0.0', 'Contoso.Tools 1.0.0']);
      const pre = await q('q=contoso&skip=0&take=20&prerelease=true&semVerLevel=2.0.0');
      assert.deepEqual(pre.data[0].versions.map((v) => v.version), ['1.0.0', '2.0.0-beta.1']);
      assert.equal(pre.data[0].version, '2.0.0-beta.1');
      const paged = await q('q=contoso&skip=1&take=1&prerelease=false&semVerLevel=2.0.0');
      assert.deepEqual([paged.totalHits, paged.data.map((d) => d.id)], [2, ['Contoso.Tools']]);
      // Its registration link names the hive that has the SemVer 2.0.0 version it shows.
      const reg = await json(await send(pre.data[0].registration!), RegistrationIndex, 'registration from search');
      assert.equal(reg.items[0].upper, '2.0.0-beta.1');
      const none = await q('q=nothing-like-this&skip=0&take=20&prerelease=false&semVerLevel=2.0.0');
      assert.deepEqual(none, { totalHits: 0, data: [] });
      // Carol's private package stays out of an anonymous search, and shows with her credentials.
      const carolSearch = resource(await json(await send(B()), ServiceIndex, 'service index B'), 'SearchQueryService/3.5.0');
      const anon = await json(await send(`${carolSearch}?q=lib&skip=0&take=20&prerelease=false&semVerLevel=2.0.0`), SearchResponse, 'anonymous search B');
      assert.equal(anon.totalHits, 0);
      const mine = await json(await send(`${carolSearch}?q=lib&skip=0&take=20&prerelease=false&semVerLevel=2.0.0`, { headers: { authorization: basic('carol', carol) } }), SearchResponse, 'search B');
      assert.deepEqual(mine.data.map((d) => `${d.id} ${d.version}`), ['Carol.Lib 1.1.0']);
    });

    test('every RegistrationsBaseUrl variant advertised parses; the legacy hive leaves SemVer 2.0.0 out, 3.6.0 and Versioned keep it', async () => {
      const idx = await json(await send(A()), ServiceIndex, 'service index');
      for (const type of REGISTRATION_TYPES) {
        const base = resource(idx, type);
        const reg = await json(await send(`${base}contoso.app/index.json`), RegistrationIndex, `${type} index`);
        const page = reg.items[0] as z.infer<typeof RegistrationPage>;
        const versions = page.items.map((l) => l.catalogEntry.version);
        assert.deepEqual(versions, SEMVER2_TYPES.has(type) ? ['1.0.0', '2.0.0-beta.1'] : ['1.0.0'], type);
        assert.equal(page.items[0].catalogEntry.dependencyGroups?.[0].dependencies?.[0].id, 'Carol.Lib');
        assert.ok(page.items[0].catalogEntry.dependencyGroups?.[0].dependencies?.[0].registration?.startsWith(base), `${type}: dependency links stay in the hive`);
        const leaf = await json(await send(page.items[0]['@id']), RegistrationLeaf, `${type} leaf`);
        assert.equal((await send(leaf.packageContent!)).status, 200);
        assert.equal((await send(`${base}contoso.app/2.0.0-beta.1.json`)).status, SEMVER2_TYPES.has(type) ? 200 : 404, type);
      }
      assert.equal(idx.resources.find((r) => r['@type'] === 'RegistrationsBaseUrl/Versioned')?.clientVersion, '4.3.0-alpha');
    });

    test('a package with more than 128 versions: the index links pages of 64 (no items), each page document parses', async () => {
      for (let i = 0; i < 130; i++) {
        const { body, type } = multipart(buildNupkg({ id: 'Contoso.Many', version: `1.0.${i}` }));
        const r = await send(`${s.url}/nuget/alice/api/v2/package/`, { method: 'PUT', body, headers: { 'content-type': type, 'x-nuget-apikey': alice } });
        assert.equal(r.status, 201);
      }
      const base = resource(await json(await send(A()), ServiceIndex, 'service index'), 'RegistrationsBaseUrl/3.6.0');
      const reg = await json(await send(`${base}contoso.many/index.json`, { headers: { authorization: basic('alice', alice) } }), RegistrationIndex, 'index');
      assert.equal(reg.count, 3);
      const seen: string[] = [];
      for (const link of reg.items) {
        assert.ok(LinkedPage.safeParse(link).success, 'a linked page, without items');
        const page = await json(await send(link['@id'], { headers: { authorization: basic('alice', alice) } }), RegistrationPage, link['@id']);
        assert.deepEqual([page.count, page.lower, page.upper], [link.count, link.lower, link.upper]);
        seen.push(...page.items.map((l) => l.catalogEntry.version));
      }
      assert.deepEqual(seen, Array.from({ length: 130 }, (_, i) => `1.0.${i}`));
      assert.equal((await send(`${base}contoso.many/page/9.0.0/9.9.9.json`, { headers: { authorization: basic('alice', alice) } })).status, 404);
    });
  });
}
