import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNuspec } from './nuspec.ts';

const spec = (meta: string, head = '') => `<?xml version="1.0" encoding="utf-8"?>${head}
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata>${meta}</metadata></package>`;

test('parseNuspec: identity, texts, license, repository, README and dependency groups', () => {
  const n = parseNuspec(spec(`<id>Contoso.Utils</id><version>1.0</version><authors>Alice &amp; Bob</authors><description>Tools &lt;3</description>
    <license type="expression">MIT</license><readme>docs/README.md</readme><repository type="git" url="https://github.com/alice/utils" />
    <tags>one two,three</tags><dependencies><group targetFramework="net6.0"><dependency id="Newtonsoft.Json" version="13.0.1" /></group>
    <group targetFramework=".NETStandard2.0" /></dependencies>`));
  assert.equal(n.id, 'Contoso.Utils');
  assert.equal(n.version, '1.0');
  assert.equal(n.authors, 'Alice & Bob');
  assert.equal(n.description, 'Tools <3');
  assert.deepEqual(n.license, { type: 'expression', value: 'MIT' });
  assert.equal(n.readme, 'docs/README.md');
  assert.equal(n.repository?.url, 'https://github.com/alice/utils');
  assert.deepEqual(n.tags, ['one', 'two', 'three']);
  assert.deepEqual(n.dependencyGroups, [
    { targetFramework: 'net6.0', dependencies: [{ id: 'Newtonsoft.Json', range: '[13.0.1, )' }] },
    { targetFramework: '.NETStandard2.0', dependencies: [] },
  ]);
});

test('parseNuspec: flat dependencies apply to every framework', () => {
  const n = parseNuspec(spec(`<id>a</id><version>1.0.0</version><authors>x</authors><description>d</description><dependencies><dependency id="b" version="[1.0,2.0)"/></dependencies>`));
  assert.deepEqual(n.dependencyGroups, [{ targetFramework: '', dependencies: [{ id: 'b', range: '[1.0,2.0)' }] }]);
});

test('parseNuspec refuses DTDs, entities, bad ids and versions, and missing fields', () => {
  assert.throws(() => parseNuspec(spec('<id>a</id>', '<!DOCTYPE package [<!ENTITY x "xxxxxxxx">]>')), /DTD or entities/);
  assert.throws(() => parseNuspec(spec('<id>../evil</id><version>1.0.0</version><authors>x</authors><description>d</description>')), /not a valid package id/);
  assert.throws(() => parseNuspec(spec('<id>a</id><version>one</version><authors>x</authors><description>d</description>')), /not a valid NuGet version/);
  assert.throws(() => parseNuspec(spec('<id>a</id><version>1.0.0</version><authors>x</authors>')), /no <description>/);
  assert.throws(() => parseNuspec('<nope'), /metadata|well-formed/);
});
