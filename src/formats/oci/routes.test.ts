import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Core } from '../../core/core.ts';
import type { Access } from './access.ts';
import { ociErrorOf } from './errors.ts';
import { acceptable } from './handlers/manifests.ts';
import { parseRange } from './handlers/blobs.ts';
import { matchRoute, ociResources } from './routes.ts';

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

test('every route declares its access: reads pull, writes push, deletes delete', () => {
  const resources = ociResources({ core: {} as Core, access: {} as Access });
  const d = `sha256:${'a'.repeat(64)}`;
  const id = '0b6c5c7e-1a2b-4c3d-8e9f-0123456789ab';
  const expected: [string, string, string, string, string[]][] = [
    ['GET', `alice/app/manifests/v1`, 'pull', 'alice/app', ['v1']],
    ['HEAD', `alice/team/app/manifests/${d}`, 'pull', 'alice/team/app', [d]],
    ['PUT', `alice/app/manifests/v1`, 'push', 'alice/app', ['v1']],
    ['DELETE', `alice/app/manifests/v1`, 'delete', 'alice/app', ['v1']],
    ['GET', `alice/app/blobs/${d}`, 'pull', 'alice/app', [d]],
    ['HEAD', `alice/app/blobs/${d}`, 'pull', 'alice/app', [d]],
    ['DELETE', `alice/app/blobs/${d}`, 'delete', 'alice/app', [d]],
    ['POST', `alice/app/blobs/uploads/`, 'push', 'alice/app', []],
    ['POST', `alice/app/blobs/uploads`, 'push', 'alice/app', []],
    ['PATCH', `alice/app/blobs/uploads/${id}`, 'push', 'alice/app', [id]],
    ['PUT', `alice/app/blobs/uploads/${id}`, 'push', 'alice/app', [id]],
    ['GET', `alice/app/blobs/uploads/${id}`, 'push', 'alice/app', [id]],
    ['DELETE', `alice/app/blobs/uploads/${id}`, 'push', 'alice/app', [id]],
    ['GET', `alice/app/tags/list`, 'pull', 'alice/app', []],
    ['GET', `alice/app/referrers/${d}`, 'pull', 'alice/app', [d]],
  ];
  for (const [method, path, access, name, params] of expected) {
    const found = matchRoute(resources, method, path);
    assert.ok(found, `${method} ${path}`);
    assert.deepEqual([found.route.access, found.name, found.params], [access, name, params], `${method} ${path}`);
  }
  for (const r of resources) for (const route of Object.values(r.methods)) assert.ok(['pull', 'push', 'delete'].includes(route!.access));
  // Only starting an upload and putting a manifest may create the repository.
  const creating = expected.filter(([method, path]) => matchRoute(resources, method, path)!.route.creates).map(([method, path]) => `${method} ${path}`);
  assert.deepEqual(creating, ['PUT alice/app/manifests/v1', 'POST alice/app/blobs/uploads/', 'POST alice/app/blobs/uploads']);
  assert.equal(matchRoute(resources, 'GET', 'alice/app/nothing/here'), undefined);
  assert.throws(() => matchRoute(resources, 'PATCH', 'alice/app/manifests/v1'), (e: any) => e.code === 'METHOD_UNSUPPORTED' && ociErrorOf(e).status === 405);
  assert.throws(() => matchRoute(resources, 'POST', 'alice/app/tags/list'), (e: any) => e.code === 'METHOD_UNSUPPORTED');
});
