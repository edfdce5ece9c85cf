import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkId, compareVersions, normalizeRange, normalizeVersion, parseVersion } from './versions.ts';

test('normalizeVersion: 1.0 → 1.0.0, leading zeros, zero fourth part and build metadata dropped', () => {
  assert.equal(normalizeVersion('1.0'), '1.0.0');
  assert.equal(normalizeVersion('1'), '1.0.0');
  assert.equal(normalizeVersion('01.002.03'), '1.2.3');
  assert.equal(normalizeVersion('1.0.0.0'), '1.0.0');
  assert.equal(normalizeVersion('1.2.3.4'), '1.2.3.4');
  assert.equal(normalizeVersion('1.0.0-Beta.1+build.5'), '1.0.0-Beta.1');
  assert.throws(() => normalizeVersion('1.0.0-'), /not a valid NuGet version/);
  assert.throws(() => normalizeVersion('../1.0'), /not a valid/);
  assert.equal(parseVersion('1.2.3.4.5'), null);
});

test('compareVersions: numbers, then releases above prereleases, labels per SemVer', () => {
  const sorted = ['2.0.0', '1.0.0-beta.2', '1.0.0', '1.0.0-alpha', '1.0.0-beta.10', '1.0.0.1', '1.0.0-beta'].sort(compareVersions);
  assert.deepEqual(sorted, ['1.0.0-alpha', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.10', '1.0.0', '1.0.0.1', '2.0.0']);
});

test('checkId: letters, digits, dots, dashes, underscores; no traversal', () => {
  assert.equal(checkId('Contoso.Utils-Core_2'), 'Contoso.Utils-Core_2');
  for (const bad of ['', '..', 'a/b', 'a..b', '.a', 'a.', 'x'.repeat(101), 'a b']) assert.throws(() => checkId(bad), /not a valid package id/);
});

test('normalizeRange: a bare version means at least that version', () => {
  assert.equal(normalizeRange('1.0'), '[1.0.0, )');
  assert.equal(normalizeRange('[1.0,2.0)'), '[1.0,2.0)');
  assert.equal(normalizeRange(''), '(, )');
});
