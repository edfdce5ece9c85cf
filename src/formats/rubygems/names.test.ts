import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { checkGemName, checkGemVersion, checkPlatform, compareVersions, fullName, isPrerelease } from './names.ts';

test('gem names, versions and platforms: good ones pass, hostile ones are refused', () => {
  for (const n of ['rails', 'net-http', 'foo_bar', 'a.b', 'x2']) assert.equal(checkGemName(n), n);
  for (const n of ['', '../x', '.hidden', '-x', 'a/b', 'a b', '123', 'x'.repeat(101)]) assert.throws(() => checkGemName(n), /invalid gem name/);
  for (const v of ['1', '1.0.0', '1.0.0.pre', '2.0.0.rc1', '0.1.a.2']) assert.equal(checkGemVersion(v), v);
  for (const v of ['', '1.0-beta', 'v1', '1..0', '1.0/..', ' 1.0']) assert.throws(() => checkGemVersion(v), /invalid gem version/);
  for (const p of ['x86_64-linux', 'arm64-darwin-22', 'java', 'x64-mingw-ucrt']) assert.equal(checkPlatform(p), p);
  for (const p of ['', '../x', 'a b', '-x', '2.1', '_x86', '4-linux']) assert.throws(() => checkPlatform(p), /invalid gem platform/);
  assert.equal(fullName('x', '1.0', 'ruby'), 'x-1.0');
  assert.equal(fullName('x', '1.0', 'x86_64-linux'), 'x-1.0-x86_64-linux');
  assert.equal(isPrerelease('1.0.0.pre'), true);
  assert.equal(isPrerelease('1.0.0'), false);
});

test('version order matches Gem::Version#<=> in ruby', () => {
  const versions = ['1.0.0', '1.0', '1.0.a', '1.0.0.pre', '1.0.0.rc1', '1.0.0.rc10', '1.0.0.rc2', '0.9', '1.10', '1.9', '2.0.0.beta.1', '2.0.0.beta', '2', '1.0.1', '10.0', '1.0.0.0.1'];
  const mine = [...versions].sort((a, b) => compareVersions(a, b) || (a < b ? -1 : a > b ? 1 : 0));
  const theirs = JSON.parse(
    execFileSync('ruby', ['-rjson', '-e', 'puts JSON.generate(JSON.parse(STDIN.read).sort { |a, b| (Gem::Version.new(a) <=> Gem::Version.new(b)).nonzero? || (a <=> b) })'], { input: JSON.stringify(versions) }).toString(),
  );
  assert.deepEqual(mine, theirs);
});
