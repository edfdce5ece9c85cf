import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PackageVersion } from '../../db/tables.ts';
import { abbreviatedPackument, distTags, fullPackument, maintainersOf } from './packument.ts';

const v = (version: string, meta: Record<string, unknown> = {}): PackageVersion => ({
  id: 1, package_id: 1, version, lower_version: version, created_by: null, deleted_at: null,
  created_at: `2026-01-0${version[0]}T00:00:00.000Z`, updated_at: '2026-01-01T00:00:00.000Z',
  metadata: JSON.stringify({ name: '@a/b', version, description: `d${version}`, readme: `# r${version}`, scripts: { test: 'x' }, dependencies: { x: '^1' }, dist: { integrity: 'sha512-x', shasum: 'ab' }, ...meta }),
});
const input = (versions: PackageVersion[], tags = [{ name: 'latest', version: '2.0.0' }]) => ({
  full: '@a/b', revision: 7, createdAt: 'c', updatedAt: 'm', versions, tags, tarballUrl: (ver: string) => `http://h/npm/@a/b/-/b-${ver}.tgz`,
});

test('full packument: versions with tarball URLs, time, readme and description of latest', () => {
  const p = fullPackument(input([v('1.0.0'), v('2.0.0')])) as any;
  assert.equal(p._id, '@a/b');
  assert.equal(p['dist-tags'].latest, '2.0.0');
  assert.equal(p.versions['1.0.0'].dist.tarball, 'http://h/npm/@a/b/-/b-1.0.0.tgz');
  assert.equal(p.versions['1.0.0'].dist.integrity, 'sha512-x');
  assert.equal(p.versions['1.0.0'].readme, undefined, 'readme only at the top');
  assert.equal(p.readme, '# r2.0.0');
  assert.equal(p.description, 'd2.0.0');
  assert.equal(p.time['2.0.0'], '2026-01-02T00:00:00.000Z');
  assert.match(p._rev, /^7-/);
});

test('abbreviated packument keeps install fields only', () => {
  const p = abbreviatedPackument(input([v('1.0.0', { deprecated: 'old' })])) as any;
  assert.deepEqual(Object.keys(p).sort(), ['dist-tags', 'modified', 'name', 'versions']);
  assert.deepEqual(p.versions['1.0.0'], { name: '@a/b', version: '1.0.0', deprecated: 'old', dependencies: { x: '^1' }, dist: { integrity: 'sha512-x', shasum: 'ab', tarball: 'http://h/npm/@a/b/-/b-1.0.0.tgz' } });
});

test('latest falls back to the highest stable version when its tag is gone', () => {
  assert.equal(distTags({ tags: [], versions: [v('1.0.0'), v('3.0.0-rc.1'), v('2.0.0')] }).latest, '2.0.0');
  assert.equal(distTags({ tags: [], versions: [v('3.0.0-rc.1')] }).latest, '3.0.0-rc.1');
  assert.deepEqual(distTags({ tags: [], versions: [] }), {});
});

test('maintainers: the people who published, once each, with their email when recorded (else empty, which npm prints as nothing); jobs are not people', () => {
  const versions = [
    v('1.0.0', { _npmUser: { name: 'alice', email: 'alice@example.com' }, maintainers: [{ name: 'claimed', email: 'c@x' }] }),
    v('1.1.0', { _npmUser: { name: 'bob' } }),
    v('1.2.0', { _npmUser: { name: 'job:alice/hello' } }),
    v('2.0.0', { _npmUser: { name: 'alice' } }),
  ];
  assert.deepEqual(maintainersOf(versions), [{ name: 'alice', email: 'alice@example.com' }, { name: 'bob', email: '' }]);
  const p = fullPackument(input(versions)) as any;
  assert.deepEqual(p.maintainers, [{ name: 'alice', email: 'alice@example.com' }, { name: 'bob', email: '' }], "the registry's list, not the package.json's");
  // Versions published before publishers were recorded: the package.json's field stays.
  assert.deepEqual((fullPackument(input([v('2.0.0', { maintainers: [{ name: 'm' }] })])) as any).maintainers, [{ name: 'm' }]);
});
