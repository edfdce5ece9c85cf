import assert from 'node:assert/strict';
import { test } from 'node:test';
import { searchResult, serviceIndex, Urls, visibleVersions, type NuGetVersionMeta, type NuGetVersionRow } from './documents.ts';

const u = new Urls('http://h/nuget/alice');
const row = (version: string, extra: Partial<NuGetVersionMeta> = {}): NuGetVersionRow => ({
  meta: { id: 'Hello', version, originalVersion: version, listed: true, semVer2: false, authors: 'a, b', description: 'd', tags: [], requireLicenseAcceptance: false, packageTypes: [], dependencyGroups: [], frameworks: [], sha512: '', size: 1, ...extra },
  createdAt: '2026-01-01T00:00:00Z',
  downloads: 2,
});

test('serviceIndex advertises a RegistrationsBaseUrl variant nuget.exe 5.8 reads, and publish/flat/search', () => {
  const types = serviceIndex(u).resources.map((r) => r['@type']);
  for (const t of ['PackagePublish/2.0.0', 'PackageBaseAddress/3.0.0', 'RegistrationsBaseUrl/3.0.0-beta', 'RegistrationsBaseUrl/3.4.0', 'RegistrationsBaseUrl/3.6.0', 'SearchQueryService/3.5.0', 'SearchAutocompleteService']) assert.ok(types.includes(t), t);
  assert.ok(serviceIndex(u).resources.find((r) => r['@type'] === 'PackageBaseAddress/3.0.0')!['@id'].endsWith('/'));
  const reg = (t: string) => serviceIndex(u).resources.find((r) => r['@type'] === t)!['@id'];
  for (const t of ['RegistrationsBaseUrl', 'RegistrationsBaseUrl/3.0.0-beta', 'RegistrationsBaseUrl/3.0.0-rc', 'RegistrationsBaseUrl/3.4.0']) assert.equal(reg(t), 'http://h/nuget/alice/v3/registration/', t);
  for (const t of ['RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/Versioned']) assert.equal(reg(t), 'http://h/nuget/alice/v3/registration-semver2/', t);
});

test('search shows listed versions, prereleases and SemVer 2 only when asked', () => {
  const vs = [row('1.0.0'), row('2.0.0-rc.1', { semVer2: true }), row('1.5.0', { listed: false })];
  assert.deepEqual(visibleVersions(vs, { prerelease: false, semVer2: false }).map((v) => v.meta.version), ['1.0.0']);
  assert.deepEqual(visibleVersions(vs, { prerelease: true, semVer2: true }).map((v) => v.meta.version), ['1.0.0', '2.0.0-rc.1']);
  const r = searchResult(u, 'Hello', visibleVersions(vs, { prerelease: true, semVer2: true }));
  assert.equal(r.version, '2.0.0-rc.1');
  assert.deepEqual(r.authors, ['a', 'b']);
  assert.equal(r.totalDownloads, 4);
});
