import assert from 'node:assert/strict';
import { test } from 'node:test';
import { displayedAsText, isBelow } from './inert.ts';

test('displayedAsText: plain text and JSON (any +json) only; XML, HTML, SVG, script and binaries are not', () => {
  for (const t of ['text/plain', 'text/plain; charset=utf-8', 'application/json', 'Application/JSON;charset=utf-8', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.npm.install-v1+json']) {
    assert.equal(displayedAsText(t), true, t);
  }
  for (const t of ['application/xml', 'text/xml', 'application/atom+xml', 'image/svg+xml', 'application/xhtml+xml', 'text/html', 'text/javascript', 'application/octet-stream', 'application/zip', '', 'text/plain+html', 'text/json+xml']) {
    assert.equal(displayedAsText(t), false, t);
  }
});

test('isBelow: a prefix covers itself, its subpaths and its query, not longer names', () => {
  const prefixes = ['/maven', '/v2', '/api'];
  for (const u of ['/maven', '/maven/', '/maven/a/b.pom', '/v2?x', '/api/v1/user']) assert.equal(isBelow(u, prefixes), true, u);
  for (const u of ['/', '/mavenx/a', '/-/login', '/alice', '/v22', '/apis', '//maven/a']) assert.equal(isBelow(u, prefixes), false, u);
});
