import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptable, parseRange } from './routes.ts';

test('Range: bytes=a-b, a-, -n; unsatisfiable ranges are invalid', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=50-500', 100), { start: 50, end: 99 });
  assert.equal(parseRange(undefined, 100), null);
  for (const bad of ['bytes=100-', 'bytes=9-1', 'bytes=-']) assert.equal(parseRange(bad, 100), 'invalid', bad);
  for (const ignored of ['items=0-1', 'bytes=0-1,5-6']) assert.equal(parseRange(ignored, 100), null, ignored);
});

test('Accept negotiation: listed manifest types are binding, wildcards are not', () => {
  const oci = 'application/vnd.oci.image.manifest.v1+json';
  const index = 'application/vnd.oci.image.index.v1+json';
  assert.ok(acceptable(undefined, index));
  assert.ok(acceptable(`${oci}, ${index}`, index));
  assert.ok(acceptable('*/*', index));
  assert.ok(acceptable('text/plain', index), 'no manifest type listed: not a manifest negotiation');
  assert.equal(acceptable(`${oci}, application/vnd.docker.distribution.manifest.v2+json`, index), false);
});
