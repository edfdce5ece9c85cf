import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkDistTag, checkNpmVersion, parseNpmName } from './names.ts';

test('scoped lower-case names parse into scope and name', () => {
  assert.deepEqual(parseNpmName('@alice/hello'), { scope: 'alice', name: 'hello', full: '@alice/hello' });
  assert.deepEqual(parseNpmName('@my-org/a.b_c~d-e'), { scope: 'my-org', name: 'a.b_c~d-e', full: '@my-org/a.b_c~d-e' });
});

test('unscoped, upper-case, traversal and odd names are refused with EINVALIDNAME', () => {
  for (const bad of ['hello', '@Alice/hello', '@alice/Hello', '@alice/../x', '@alice/.hidden', '@alice/_x', '@alice/a/b', '@/x', '@alice/', '@a lice/x', '@alice/x%2f', '@alice/node_modules']) {
    assert.throws(() => parseNpmName(bad), (e: any) => e.code === 'EINVALIDNAME', bad);
  }
  assert.throws(() => parseNpmName('@alice/' + 'x'.repeat(214)), /214/);
});

test('versions must be canonical semver', () => {
  assert.equal(checkNpmVersion('1.0.0'), '1.0.0');
  assert.equal(checkNpmVersion('1.0.0-beta.1'), '1.0.0-beta.1');
  for (const bad of ['1.0', '1.0.0+build.5', 'v1.0.0', '01.0.0', '1.0.0 ', '../1.0.0', 7, null]) assert.throws(() => checkNpmVersion(bad as any), /invalid version/);
});

test('dist-tags cannot be versions or ranges', () => {
  assert.equal(checkDistTag('beta'), 'beta');
  for (const bad of ['1.0.0', '^1.0.0', '', 'a/b', '../x']) assert.throws(() => checkDistTag(bad));
});
