import assert from 'node:assert/strict';
import { test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import type { NuGetVersionMeta } from './documents.ts';
import { dependenciesString, entryDocument, esc, V2Urls } from './v2-atom.ts';

test('esc escapes markup and drops what XML 1.0 cannot carry', () => {
  assert.equal(esc(`<a href="x">&'\u0001\uFFFF\uD800`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
  assert.equal(esc('😀'), '😀');
});

const meta = (over: Partial<NuGetVersionMeta> = {}): NuGetVersionMeta => ({
  id: 'A', version: '1.0.0', originalVersion: '1.0', listed: true, semVer2: false, authors: 'x', description: 'd', tags: [], requireLicenseAcceptance: false,
  packageTypes: [], dependencyGroups: [], frameworks: [], sha512: 'abc=', size: 3, ...over,
});

test('Dependencies in v2 spelling: id:range:tfm|..., an empty group as ::tfm, any version as an empty range', () => {
  const m = meta({ dependencyGroups: [{ targetFramework: 'net45', dependencies: [{ id: 'B', range: '[1.0.0, )' }, { id: 'C', range: '(, )' }] }, { targetFramework: 'netstandard2.0', dependencies: [] }] });
  assert.equal(dependenciesString(m), 'B:[1.0.0, ):net45|C::net45|::netstandard2.0');
});

test('an entry is well-formed XML whatever the metadata holds', () => {
  const u = new V2Urls('http://h/nuget/o/api/v2');
  const doc = entryDocument(u, { id: 'A', row: { versionId: 1, meta: meta({ description: '<script>&\u0007</script>', title: "it's" }), createdAt: '2024-01-02 03:04:05', downloads: 2 }, isLatest: true, isAbsoluteLatest: true, packageDownloads: 7 });
  const e = new XMLParser({ removeNSPrefix: true, ignoreAttributes: false, parseTagValue: false }).parse(doc).entry;
  assert.equal(e.properties.Description, '<script>&</script>');
  assert.equal(e.properties.Title, "it's");
  assert.equal(e.properties.Created['#text'], '2024-01-02T03:04:05.000Z');
  assert.equal(e.content['@_src'], 'http://h/nuget/o/api/v2/package/A/1.0.0');
  assert.equal(e.id, "http://h/nuget/o/api/v2/Packages(Id='A',Version='1.0.0')");
});
