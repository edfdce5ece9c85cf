// Fuzzing NuGet's parsers with fast-check (seeded, see property.ts): the .nupkg and .snupkg readers on corrupt
// zips, the .nuspec parser on hostile XML, the portable PDB reader, the v2 OData $filter and $orderby parsers
// (and evaluating what they accept), and over HTTP, pushes of corrupt packages and feed queries with hostile
// $filter and paths: a value or a client error, never a crash; a 4xx, never a 500.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { BlobStore, StagedBlob } from '../../src/core/blobs/blob-store.ts';
import { buildNupkg, nuspecOf, zipOf } from '../../src/formats/nuget/nupkg-fixture.ts';
import { DEFAULT_NUPKG_LIMITS, readNupkg } from '../../src/formats/nuget/nupkg.ts';
import { parseNuspec } from '../../src/formats/nuget/nuspec.ts';
import { buildAssemblyFor, buildPortablePdb, buildSnupkg, pdbIdOf } from '../../src/formats/nuget/pdb-fixture.ts';
import { PDB_HEAD_BYTES, portablePdbId } from '../../src/formats/nuget/pdb.ts';
import { readSnupkg } from '../../src/formats/nuget/snupkg.ts';
import { assemblyDebugInfo, pdbMatches } from '../../src/formats/nuget/pe.ts';
import { comparator, evaluate, parseFilter, parseOrderBy, PROPERTIES, type Row } from '../../src/formats/nuget/v2-odata.ts';
import { startWharf, tempDir, type TestServer } from '../helpers/wharf.ts';
import { assertClientStatus, mutated, mutatedText, params, returnsOrRefuses, returnsOrRefusesSync } from './property.ts';

const LIMITS = { ...DEFAULT_NUPKG_LIMITS, maxUnpacked: 64 * 1024 * 1024 };

/** A blob store that only reads what it is given: the .snupkg reader stages each PDB in one. */
const drainingStore = {
  async put(source: Readable): Promise<StagedBlob> {
    let size = 0;
    for await (const c of source) size += (c as Buffer).length;
    return { digest: 'sha256:0', size, extra: {}, cancel: async () => {} } as unknown as StagedBlob;
  },
} as unknown as BlobStore;

const FILTER_WORDS = [...Object.keys(PROPERTIES), 'eq', 'ne', 'gt', 'ge', 'lt', 'le', 'and', 'or', 'not', 'tolower', 'toupper', 'trim', 'length', 'substringof', 'startswith', 'endswith', 'indexof', 'true', 'false', 'null', "'x'", "'it''s'", "'", '(', ')', ',', '1', '-1', '1.5', '1e308', '9007199254740993', "datetime'2020-01-01'", '/', '$', ' ', 'Id/Id', '__proto__', 'constructor'];
/** A $filter: a sequence of OData words and hostile bits, most of them almost valid. */
const filterText = fc.oneof(
  fc.array(fc.constantFrom(...FILTER_WORDS), { maxLength: 25 }).map((ws) => ws.join(' ')),
  fc.constantFrom("tolower(Id) eq 'a'", "substringof('x', Tags) and IsLatestVersion", 'not (DownloadCount gt 5) or length(Title) le 3', "indexof(Id, 'a') eq -1").chain((f) => mutatedText(f)),
  fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.constantFrom('(', 'not ', 'tolower(')).map(([n, p]) => `${p.repeat(n)}Id`),
  fc.string({ maxLength: 80 }),
);
const ROW: Row = Object.fromEntries(Object.entries(PROPERTIES).map(([k, t]) => [k, t === 'string' ? 'A.b' : t === 'number' ? 7 : true]));

describe('NuGet parsers', () => {
  let dir: string;
  let nupkg: Buffer;
  let snupkg: Buffer;
  before(() => {
    dir = tempDir('wharf-fuzz-nuget-');
    nupkg = buildNupkg({ id: 'Fuzz.Me', version: '1.2.3-beta.1', deps: [['Other', '[1.0, 2.0)']], extra: '<readme>docs/README.md</readme><tags>a b</tags>', files: { 'docs/README.md': '# hi', 'lib/net6.0/%41.dll': 'MZ' } });
    snupkg = buildSnupkg('Fuzz.Me', '1.2.3-beta.1', { 'lib/net6.0/Fuzz.Me.pdb': buildPortablePdb(pdbIdOf('00112233445566778899aabbccddeeff')) });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  let n = 0;
  const fileOf = (bytes: Buffer) => {
    const f = path.join(dir, `${++n}.zip`);
    fs.writeFileSync(f, bytes);
    return f;
  };

  test('.nupkg reader on corrupt zips: facts or a client error', async (t) => {
    await fc.assert(
      fc.asyncProperty(mutated(nupkg), async (bytes) => {
        const f = fileOf(bytes);
        await returnsOrRefuses(() => readNupkg(f, 0, bytes.length, LIMITS));
        fs.rmSync(f);
      }),
      params(t, 1200),
    );
  });

  test('.nupkg reader on hostile entry names and .nuspec documents: facts or a client error', async (t) => {
    const name = mutatedText('lib/net6.0/x.dll', ['%E0%A4%A', '%', '%2F', '%2e%2e', '/', '\\', '..']);
    const spec = mutatedText(nuspecOf({ id: 'Fuzz.Me', version: '1.0.0', extra: '<readme>R.md</readme><dependencies><group targetFramework="net6.0"><dependency id="A" version="1.0" /></group></dependencies>' }), ['<!DOCTYPE x [<!ENTITY a "b">]>', '&a;', '<readme>', '</metadata>', '<version>', '<id>', '<![CDATA[', 'targetFramework="', '&#x0;']);
    await fc.assert(
      fc.asyncProperty(name, spec, async (entry, xml) => {
        const bytes = zipOf([['Fuzz.Me.nuspec', xml], [entry, 'MZ'], ['R.md', 'hi']]);
        const f = fileOf(bytes);
        await returnsOrRefuses(() => readNupkg(f, 0, bytes.length, LIMITS));
        fs.rmSync(f);
      }),
      params(t, 300),
    );
  });

  test('.nuspec parser on hostile XML: a Nuspec or a client error', async (t) => {
    const base = nuspecOf({ id: 'Fuzz.Me', version: '1.0.0', deps: [['A', '1.0']], extra: '<packageTypes><packageType name="Dependency" /></packageTypes><repository type="git" url="https://x" /><license type="expression">MIT</license>' });
    await fc.assert(
      fc.property(fc.oneof(mutatedText(base, ['<!DOCTYPE', '&lt;', '<dependency id="" version="[" />', '<group>', 'xmlns:x="y"', '<x:id>', '<?xml ?>']), fc.string({ maxLength: 200 })), fc.boolean(), (xml, symbols) => returnsOrRefusesSync(() => parseNuspec(xml, { symbols }))),
      params(t, 2000),
    );
  });

  test('.snupkg reader on corrupt zips: PDBs or a client error', async (t) => {
    await fc.assert(
      fc.asyncProperty(mutated(snupkg), async (bytes) => {
        const f = fileOf(bytes);
        await returnsOrRefuses(() => readSnupkg(f, 0, bytes.length, drainingStore, 1 << 20, LIMITS));
        fs.rmSync(f);
      }),
      params(t, 800),
    );
  });

  test('portable PDB id reader on corrupt PDBs: an id or a client error', async (t) => {
    const pdb = buildPortablePdb(pdbIdOf('00112233445566778899aabbccddeeff'));
    await fc.assert(
      fc.property(fc.oneof(mutated(pdb), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b))), (bytes) => returnsOrRefusesSync(() => portablePdbId(bytes.subarray(0, PDB_HEAD_BYTES), 'x.pdb'))),
      params(t, 2000),
    );
  });

  test('assembly debug-directory reader on corrupt PE files: records, null, never a throw; a PDB matches only its own', async (t) => {
    const pdb = buildPortablePdb(pdbIdOf('00112233445566778899aabbccddeeff'));
    const dll = buildAssemblyFor(pdb);
    const other = buildPortablePdb(pdbIdOf('ffeeddccbbaa99887766554433221100'));
    await fc.assert(
      fc.property(fc.oneof(mutated(dll), fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b))), (bytes) => {
        const info = assemblyDebugInfo(bytes);
        // Whatever the bytes, another PDB's id never matches through them unless they name it.
        if (info && !info.codeView.some((c) => c.guid === 'ffeeddccbbaa99887766554433221100')) assert.equal(pdbMatches(info, portablePdbId(other, 'o.pdb').id, '0'.repeat(64)), false);
      }),
      params(t, 2000),
    );
  });

  test('OData $filter and $orderby: an expression that evaluates, or a client error', async (t) => {
    await fc.assert(
      fc.property(filterText, fc.oneof(fc.constantFrom('Id', 'Id desc', 'DownloadCount asc, Id', 'Nope', 'Id sideways', ''), fc.string({ maxLength: 30 })), (filter, order) => {
        returnsOrRefusesSync(() => evaluate(parseFilter(filter), ROW));
        returnsOrRefusesSync(() => [ROW, { ...ROW, Id: 'B' }].sort(comparator(parseOrderBy(order))));
      }),
      params(t, 3000),
    );
  });
});

describe('NuGet over HTTP', () => {
  let s: TestServer;
  let token: string;
  let nupkg: Buffer;
  // One database is enough: what is fuzzed here is parsing, which happens before any query.
  before(async () => {
    s = await startWharf({ dialect: 'sqlite' });
    token = await s.userWithToken('alice');
    nupkg = buildNupkg({ id: 'Fuzz.Http', version: '1.0.0', deps: [['Other', '1.0']] });
    const r = await s.app.inject({ method: 'PUT', url: '/nuget/alice/api/v2/package/', headers: { 'x-nuget-apikey': token, 'content-type': 'application/octet-stream' }, payload: nupkg });
    assert.equal(r.statusCode, 201, r.body);
  });
  after(() => s.stop());

  test('PUT /api/v2/package with a corrupt .nupkg → 4xx (or 201), never 500', async (t) => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(mutated(buildNupkg({ id: 'Fuzz.Push', version: '1.0.0', files: { 'lib/net6.0/a.dll': 'MZ' } })), async (bytes) => {
        const url = `/nuget/alice/api/v2/${++n % 2 ? 'package' : 'symbolpackage'}/`;
        const r = await s.app.inject({ method: 'PUT', url, headers: { 'x-nuget-apikey': token, 'content-type': 'application/octet-stream' }, payload: bytes });
        assertClientStatus(r.statusCode, r.body, `PUT ${url}`, true);
      }),
      params(t, 250),
    );
  });

  test('GET the v2 feed with hostile $filter, $orderby, $top and paths → 4xx (or 200), never 500', async (t) => {
    const fn = fc.constantFrom('Packages()', 'Packages', 'Search()', 'FindPackagesById()', 'GetUpdates()', 'Packages()/$count', "Packages(Id='Fuzz.Http',Version='1.0.0')", "Packages(Id='%E0%A4%A',Version='x')");
    const num = fc.oneof(fc.constantFrom('', '-1', '1e999', 'NaN', '0x10', '99999999999999999999'), fc.nat().map(String));
    await fc.assert(
      fc.asyncProperty(fn, filterText, fc.string({ maxLength: 20 }), num, num, fc.string({ maxLength: 20 }), async (f, filter, order, top, skip, term) => {
        const q = new URLSearchParams({ $filter: filter, $orderby: order, $top: top, $skip: skip, searchTerm: `'${term}'`, id: `'${term}'`, packageIds: `'${term}'`, versions: `'${term}'`, semVerLevel: top });
        const r = await s.app.inject({ method: 'GET', url: `/nuget/alice/api/v2/${f}?${q}`, headers: { 'x-nuget-apikey': token } });
        assertClientStatus(r.statusCode, r.body, `GET ${f}?${q}`, true);
      }),
      params(t, 600),
    );
  });

  test('GET v3 paths with hostile ids and versions → 4xx (or 200), never 500', async (t) => {
    const seg = fc.oneof(mutatedText('Fuzz.Http', ['%E0%A4%A', '%', '%2F', '..']), fc.string({ maxLength: 20 }).map(encodeURIComponent));
    const ver = fc.oneof(mutatedText('1.0.0', ['%E0%A4%A', '+', '-', '..']), fc.string({ maxLength: 20 }).map(encodeURIComponent));
    await fc.assert(
      fc.asyncProperty(seg, ver, fc.constantFrom('flat', 'registration', 'registration-semver2', 'search', 'symbols'), async (id, v, where) => {
        const url =
          where === 'flat' ? `/nuget/alice/v3/flat/${id}/${v}/${id}.${v}.nupkg` : where === 'search' ? `/nuget/alice/v3/search?q=${id}&skip=${v}&take=${v}` : where === 'symbols' ? `/nuget/alice/symbols/${id}/${v}/${id}` : `/nuget/alice/v3/${where}/${id}/${v}.json`;
        const r = await s.app.inject({ method: 'GET', url, headers: { 'x-nuget-apikey': token } });
        assert.ok(r.statusCode < 500, `GET ${url} → ${r.statusCode}: ${r.body.slice(0, 300)}`);
      }),
      params(t, 400),
    );
  });
});
