import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseScopes } from './tokens.ts';
import { checkKnownTypes, defaultReach, formatResource, parseResource } from './selection.ts';

test('parseResource: OWNER, OWNER/REPO, TYPE:OWNER/NAME, each with an optional =REACH', () => {
  assert.deepEqual(parseResource('acme'), { owner: 'acme' });
  assert.deepEqual(parseResource(' acme=read '), { owner: 'acme', permission: 'read' });
  assert.deepEqual(parseResource('acme/app.js'), { owner: 'acme', repository: 'app.js' });
  assert.deepEqual(parseResource('acme/app=admin'), { owner: 'acme', repository: 'app', permission: 'admin' });
  assert.deepEqual(parseResource('npm:acme/web=write'), { owner: 'acme', package: { type: 'npm', name: 'web' }, permission: 'write' });
  // npm's own spelling, nested image names, Maven coordinates.
  assert.deepEqual(parseResource('npm:@acme/web'), { owner: 'acme', package: { type: 'npm', name: 'web' } });
  assert.deepEqual(parseResource('container:acme/tools/api'), { owner: 'acme', package: { type: 'container', name: 'tools/api' } });
  assert.deepEqual(parseResource('maven:acme/com.acme:core=read'), { owner: 'acme', package: { type: 'maven', name: 'com.acme:core' }, permission: 'read' });
});

test('parseResource refuses what is none of the forms, with a reason (Invalid: a 400)', () => {
  for (const [text, why] of [
    ['', /invalid owner name/],
    ['acme=owner', /invalid permission "owner"/],
    ['a/b/c', /a repository is OWNER\/REPO/],
    ['npm:acme', /a package is TYPE:OWNER\/NAME/],
    ['npm:acme/', /invalid package name/],
    ['npm:acme/a b', /invalid package name/],
    ['NPM:acme/web', /invalid package type/],
    ['-acme', /invalid owner name/],
    ['acme/..', /invalid repository name/],
    ['x'.repeat(501), /a resource is OWNER/],
  ] as const) {
    assert.throws(() => parseResource(text), (e: any) => e.kind === 'Invalid' && why.test(e.message), text);
  }
});

test('formatResource writes what parseResource reads', () => {
  for (const t of ['acme', 'acme=read', 'acme/app=delete', 'npm:acme/web', 'container:acme/tools/api=write']) assert.equal(formatResource(parseResource(t)), t);
});

test('without a permission a resource reaches as far as the package scopes go, never admin', () => {
  assert.equal(defaultReach(parseScopes('read:packages')), 'read');
  assert.equal(defaultReach(parseScopes('write:packages')), 'write');
  assert.equal(defaultReach(parseScopes('write:packages,delete:packages')), 'delete');
});

test('checkKnownTypes refuses a package type no format serves', () => {
  checkKnownTypes([parseResource('npm:acme/web'), parseResource('acme')], ['npm']);
  assert.throws(() => checkKnownTypes([parseResource('pypi:acme/web')], ['npm', 'container']), /unknown package type "pypi": use one of npm, container/);
});
