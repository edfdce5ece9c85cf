import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MEDIA, parseManifest } from './manifests.ts';

const d = (n: string) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${n.repeat(64)}`, size: 10 });
const buf = (o: unknown) => Buffer.from(JSON.stringify(o));

test('an OCI image manifest lists its config and layers as blobs to check', () => {
  const m = parseManifest(buf({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { ...d('a'), mediaType: MEDIA.ociConfig }, layers: [d('b'), d('c')] }), MEDIA.ociManifest);
  assert.equal(m.isIndex, false);
  assert.deepEqual(m.blobs.map((b) => b.digest[7]), ['a', 'b', 'c']);
});

test('an index lists child manifests; subject and artifactType are kept', () => {
  const m = parseManifest(buf({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ ...d('a'), mediaType: MEDIA.ociManifest, platform: { os: 'linux', architecture: 'amd64' } }], subject: { ...d('f'), mediaType: MEDIA.ociManifest }, artifactType: 'application/x' }), undefined);
  assert.equal(m.isIndex, true);
  assert.equal(m.manifests[0].platform?.architecture, 'amd64');
  assert.equal(m.subject?.digest, `sha256:${'f'.repeat(64)}`);
  assert.equal(m.artifactType, 'application/x');
});

test('schema 1, bad JSON, bad descriptors and disagreeing media types are MANIFEST_INVALID', () => {
  const bad = [
    [buf({ schemaVersion: 1, name: 'x', fsLayers: [] }), undefined],
    [Buffer.from('{not json'), MEDIA.ociManifest],
    [buf({ schemaVersion: 2, config: { digest: 'sha256:xyz', size: 1, mediaType: 'a/b' }, layers: [] }), MEDIA.ociManifest],
    [buf({ schemaVersion: 2, config: d('a'), layers: [{ ...d('b'), size: -1 }] }), MEDIA.ociManifest],
    [buf({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: d('a'), layers: [] }), MEDIA.ociManifest],
    [buf({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: d('a') }), MEDIA.ociManifest],
  ] as const;
  for (const [b, ct] of bad) assert.throws(() => parseManifest(b, ct), (e: any) => e.code === 'MANIFEST_INVALID', b.toString());
});

test('foreign layers with urls are not required to be in the repository', () => {
  const m = parseManifest(buf({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: d('a'), layers: [{ ...d('b'), urls: ['https://x/'] }, d('c')] }), MEDIA.dockerManifest);
  assert.deepEqual(m.blobs.map((b) => b.digest[7]), ['a', 'c']);
});
