import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Urls, type NuGetVersionMeta, type NuGetVersionRow } from './documents.ts';
import { MAX_INLINED, PAGE_SIZE, registrationIndex, registrationPage } from './registration.ts';

const u = new Urls('http://h/nuget/alice');
const u2 = u.inHive('registration-semver2');
const row = (version: string, extra: Partial<NuGetVersionMeta> = {}): NuGetVersionRow => ({
  meta: { id: 'Hello', version, originalVersion: version, listed: true, semVer2: false, authors: 'a', description: 'd', tags: [], requireLicenseAcceptance: false, packageTypes: [], dependencyGroups: [], frameworks: [], sha512: '', size: 1, ...extra },
  createdAt: '2026-01-01T00:00:00Z',
  downloads: 0,
});
const many = (n: number) => Array.from({ length: n }, (_, i) => row(`1.0.${n - 1 - i}`));

test('registrationIndex: one inlined page, versions in NuGet order, lower-cased content URLs', () => {
  const idx = registrationIndex(u, 'Hello', [row('1.10.0'), row('1.2.0-Beta', { listed: false }), row('1.2.0')]);
  assert.equal(idx.count, 1);
  const page = idx.items[0] as { lower: string; items: { catalogEntry: { version: string; listed: boolean }; packageContent: string }[] };
  assert.deepEqual(page.items.map((l) => l.catalogEntry.version), ['1.2.0-Beta', '1.2.0', '1.10.0']);
  assert.equal(page.lower, '1.2.0-beta');
  assert.equal(page.items[0].catalogEntry.listed, false);
  assert.equal(page.items[0].packageContent, 'http://h/nuget/alice/v3/flat/hello/1.2.0-beta/hello.1.2.0-beta.nupkg');
});

test(`up to ${MAX_INLINED} versions: pages of ${PAGE_SIZE}, inlined`, () => {
  const idx = registrationIndex(u, 'Hello', many(MAX_INLINED));
  assert.equal(idx.count, 2);
  for (const p of idx.items) assert.equal((p as { items: unknown[] }).items.length, PAGE_SIZE);
  assert.equal(idx.items[0]['@id'], 'http://h/nuget/alice/v3/registration/hello/index.json#page/1.0.0/1.0.63');
});

test(`past ${MAX_INLINED} versions: pages linked (count, lower, upper, no items), each served on its own`, () => {
  const vs = many(MAX_INLINED + 1);
  const idx = registrationIndex(u2, 'Hello', vs);
  assert.equal(idx.count, 3);
  assert.deepEqual(idx.items.map((p) => [p['@id'], p.count, p.lower, p.upper, 'items' in p]), [
    ['http://h/nuget/alice/v3/registration-semver2/hello/page/1.0.0/1.0.63.json', 64, '1.0.0', '1.0.63', false],
    ['http://h/nuget/alice/v3/registration-semver2/hello/page/1.0.64/1.0.127.json', 64, '1.0.64', '1.0.127', false],
    ['http://h/nuget/alice/v3/registration-semver2/hello/page/1.0.128/1.0.128.json', 1, '1.0.128', '1.0.128', false],
  ]);
  const page = registrationPage(u2, 'Hello', vs, '1.0.64', '1.0.127')!;
  assert.equal(page['@id'], idx.items[1]['@id']);
  assert.equal(page.parent, 'http://h/nuget/alice/v3/registration-semver2/hello/index.json');
  assert.deepEqual([page.count, page.items[0].catalogEntry.version, page.items.at(-1)!.catalogEntry.version], [64, '1.0.64', '1.0.127']);
  assert.equal(registrationPage(u2, 'Hello', vs, '9.0.0', '9.1.0'), null);
});

test('the legacy hive leaves SemVer 2.0.0 versions out (their version, or a dependency on one); the semver2 hive keeps them', () => {
  const vs = [row('1.0.0'), row('2.0.0-rc.1', { semVer2: true }), row('1.5.0', { dependencyGroups: [{ targetFramework: '', dependencies: [{ id: 'X', range: '[1.0.0-beta.2, )' }] }] })];
  const versions = (idx: ReturnType<typeof registrationIndex>) => (idx.items[0] as { items: { catalogEntry: { version: string } }[] }).items.map((l) => l.catalogEntry.version);
  assert.deepEqual(versions(registrationIndex(u, 'Hello', vs)), ['1.0.0']);
  assert.deepEqual(versions(registrationIndex(u2, 'Hello', vs)), ['1.0.0', '1.5.0', '2.0.0-rc.1']);
  assert.equal(registrationIndex(u, 'Hello', [row('2.0.0-rc.1', { semVer2: true })]).count, 0);
});
