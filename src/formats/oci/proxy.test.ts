import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextLink, referrersOf, tagsOf } from './proxy.ts';

const d = (n: string) => `sha256:${n.repeat(64)}`;

test('nextLink: the rel="next" URL of a Link header, in the forms registries send', () => {
  assert.equal(nextLink('</v2/library/x/tags/list?last=c&n=3>; rel="next"'), '/v2/library/x/tags/list?last=c&n=3');
  assert.equal(nextLink('<https://r.example/v2/a/tags/list?n=2&last=b>;rel=next'), 'https://r.example/v2/a/tags/list?n=2&last=b');
  assert.equal(nextLink('</first>; rel="prev", </second>; rel="next"'), '/second');
  assert.equal(nextLink('</x>; rel="prev next"'), '/x');
  assert.equal(nextLink('</x>; rel="nextish"'), undefined);
  assert.equal(nextLink('</x>; rel="prev"'), undefined);
  assert.equal(nextLink(null), undefined);
  assert.equal(nextLink('garbage'), undefined);
});

test('tagsOf: a tag list, or undefined for anything else', () => {
  assert.deepEqual(tagsOf(Buffer.from('{"name":"a","tags":["1","b"]}')), ['1', 'b']);
  assert.deepEqual(tagsOf(Buffer.from('{"name":"a","tags":null}')), []);
  assert.equal(tagsOf(Buffer.from('{"tags":["../x"]}')), undefined);
  assert.equal(tagsOf(Buffer.from('nope')), undefined);
});

test('referrersOf: an index\'s descriptors, checked and reduced to the fields a referrers answer carries', () => {
  const good = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('a'), size: 10, artifactType: 't', annotations: { k: 'v' }, platform: { os: 'linux' } }] };
  assert.deepEqual(referrersOf(Buffer.from(JSON.stringify(good))), [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('a'), size: 10, artifactType: 't', annotations: { k: 'v' } }]);
  assert.deepEqual(referrersOf(Buffer.from('{"schemaVersion":2,"manifests":[]}')), []);
  assert.deepEqual(referrersOf(Buffer.from('{"schemaVersion":2}')), []);
  assert.equal(referrersOf(Buffer.from('{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:zz","size":1}]}')), undefined);
  assert.equal(referrersOf(Buffer.from('{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"' + d('b') + '","size":-1}]}')), undefined);
  assert.equal(referrersOf(Buffer.from('{"manifests":{}}')), undefined);
  assert.equal(referrersOf(Buffer.from('[]')), undefined);
});
